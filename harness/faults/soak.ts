// The soak (issue 13, point 8; docs/reliability.md): a real master, a real agent and `executors`
// custom executors each sending an update every `tickMs`, while the agent is `kill -9`ed and
// restarted every `killEveryMs`. Before each kill it samples the agent's and the master's RSS and
// open file descriptors; after a warm-up, a least-squares line through the samples must show no
// growth (bounded memory and files over time), and at the end every task finishes with no
// acknowledged update lost and none reordered.
//
//   npm run faults -- --soak=30m          (not in CI: a short one is in test/faults/soak.test.ts)
import fs from 'node:fs';
import path from 'node:path';
import type { RoutedTaskStatus } from '../../src/scheduler/index.js';
import { waitFor } from '../helpers.js';
import { progressTask, writeProgressExecutor } from '../lib/fault-cluster.js';
import { memoryOf } from '../lib/proc-usage.js';
import { printTable } from '../lib/report.js';
import { Scenario, type Framework } from '../scenario.js';

export interface SoakOptions {
  durationMs: number;
  executors?: number;
  killEveryMs?: number;
  /** Each executor's update period. */
  tickMs?: number;
  /** Samples before the trend is measured (the first agents warm their caches). */
  warmupSamples?: number;
  log?: (line: string) => void;
}

export interface SoakSample {
  atSeconds: number;
  agentRssMiB: number;
  agentFds: number;
  masterRssMiB: number;
  masterFds: number;
  updates: number;
}

export interface Trend {
  /** Growth per hour of the least-squares line through the samples after the warm-up. */
  perHour: number;
  /** What that line grew over the measured span. */
  overSpan: number;
  /** The median of the measured samples, for scale. */
  level: number;
}

export interface SoakResult {
  samples: SoakSample[];
  trends: Record<'agentRssMiB' | 'agentFds' | 'masterRssMiB' | 'masterFds', Trend | undefined>;
  agentKills: number;
  tasks: number;
  updatesSeen: number;
  violations: string[];
}

/** Growth a soak tolerates over its measured span: noise of a fresh agent's heap, not a leak. */
const TOLERANCE = { agentRssMiB: { abs: 8, rel: 0.15 }, masterRssMiB: { abs: 8, rel: 0.15 }, agentFds: { abs: 4, rel: 0 }, masterFds: { abs: 4, rel: 0 } } as const;

function openFds(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** The least-squares slope of `ys` over `xs` (seconds), as growth per hour and over the span. */
export function trend(xs: readonly number[], ys: readonly number[]): Trend | undefined {
  if (xs.length < 2) return undefined;
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const sorted = [...ys].sort((a, b) => a - b);
  return { perHour: slope * 3600, overSpan: slope * (xs[n - 1]! - xs[0]!), level: sorted[Math.floor(n / 2)]! };
}

/** Each task's "tick N" numbers in the order the framework received them (duplicates are resends). */
function ticksOf(updates: readonly RoutedTaskStatus[], taskId: string): number[] {
  const ticks: number[] = [];
  for (const status of updates) {
    if (status.taskId !== taskId) continue;
    const match = /^tick (\d+)$/.exec(status.message ?? '');
    if (match) ticks.push(Number(match[1]));
  }
  return ticks;
}

export async function run(options: SoakOptions): Promise<SoakResult> {
  const executors = options.executors ?? 50;
  const killEveryMs = options.killEveryMs ?? 60_000;
  const tickMs = options.tickMs ?? 200;
  const warmup = options.warmupSamples ?? 2;
  const log = options.log ?? (() => {});
  const violations: string[] = [];
  const samples: SoakSample[] = [];
  const s = await Scenario.start({
    agentFlags: ['--resources=cpus:64;mem:65536;disk:100000', '--recovery_timeout=10mins', '--executor_reregistration_timeout=10secs', '--gc_delay=10secs'],
  });
  let agentKills = 0;
  let framework: Framework | undefined;
  const taskIds = Array.from({ length: executors }, (_, i) => `soak-${i + 1}`);
  try {
    let agent = await s.startAgent([], { waitRunning: true });
    framework = await s.framework({ name: 'soak', checkpoint: true });
    const script = writeProgressExecutor(s.fixtures);
    const tasks = taskIds.map((taskId) => progressTask(taskId, `ex-${taskId}`, script, framework!.frameworkId, 0, tickMs));
    for (let i = 0; i < tasks.length; i += 10) await framework.launch(tasks.slice(i, i + 10), 30_000);
    for (const taskId of taskIds) await framework.waitFor(taskId, 'TASK_RUNNING', { timeoutMs: 60_000 });
    log(`soak: ${executors} executors running; the agent is killed every ${killEveryMs / 1000} s for ${Math.round(options.durationMs / 1000)} s`);
    const started = Date.now();
    // One kill per killEvery of the duration (the restarts' own time comes on top).
    for (let round = 0; round < Math.max(1, Math.floor(options.durationMs / killEveryMs)); round++) {
      await new Promise((resolve) => setTimeout(resolve, killEveryMs));
      const agentPid = agent.child.pid!;
      const masterPid = s.master.child.pid!;
      const sample: SoakSample = {
        atSeconds: Math.round((Date.now() - started) / 1000),
        agentRssMiB: memoryOf(agentPid)?.rssMiB ?? Number.NaN,
        agentFds: openFds(agentPid),
        masterRssMiB: memoryOf(masterPid)?.rssMiB ?? Number.NaN,
        masterFds: openFds(masterPid),
        updates: framework.updates.length,
      };
      samples.push(sample);
      log(`soak: t=${sample.atSeconds}s agent ${sample.agentRssMiB.toFixed(1)} MiB/${sample.agentFds} fds, master ${sample.masterRssMiB.toFixed(1)} MiB/${sample.masterFds} fds, ${sample.updates} updates`);
      await s.killAgent(agent);
      agentKills++;
      agent = await s.startAgent([], { waitRunning: true });
    }
    // Every task is released and must finish, its ticks in order, its last acknowledged one seen.
    for (const taskId of taskIds) s.release(s.run(framework, taskId), taskId);
    for (const taskId of taskIds) {
      const terminal = await framework.waitTerminal(taskId, 60_000).catch(() => undefined);
      if (terminal?.state !== 'TASK_FINISHED') violations.push(`${taskId} ended ${terminal ? `${terminal.state}/${terminal.reason}` : 'never'}`);
    }
    for (const taskId of taskIds) {
      const ticks = ticksOf(framework.updates, taskId);
      for (let i = 1; i < ticks.length; i++) {
        if (ticks[i]! < ticks[i - 1]!) {
          violations.push(`${taskId}: tick ${ticks[i]} arrived after tick ${ticks[i - 1]}`);
          break;
        }
      }
      const distinct = new Set(ticks);
      const max = Math.max(0, ...ticks);
      if (distinct.size !== max) violations.push(`${taskId}: ${max - distinct.size} of ticks 1..${max} never arrived`);
    }
    await waitFor(() => s.processes().length === 0, { timeoutMs: 30_000, message: 'every executor gone' }).catch(() => violations.push('executors left running after every task finished'));
  } finally {
    await s.cleanup();
  }
  const measured = samples.slice(warmup);
  const xs = measured.map((sample) => sample.atSeconds);
  const trends = {} as SoakResult['trends'];
  for (const key of ['agentRssMiB', 'agentFds', 'masterRssMiB', 'masterFds'] as const) {
    const t = trend(xs, measured.map((sample) => sample[key]));
    trends[key] = t;
    if (t && t.overSpan > Math.max(TOLERANCE[key].abs, TOLERANCE[key].rel * t.level)) {
      violations.push(`${key} grew ${t.overSpan.toFixed(1)} over ${xs.at(-1)! - xs[0]!} s after the warm-up (${t.perHour.toFixed(1)}/h, level ${t.level.toFixed(1)})`);
    }
  }
  return { samples, trends, agentKills, tasks: taskIds.length, updatesSeen: framework?.updates.length ?? 0, violations };
}

export function printReport(result: SoakResult): void {
  printTable(
    'soak samples (each just before an agent kill -9)',
    ['t (s)', 'agent RSS MiB', 'agent fds', 'master RSS MiB', 'master fds', 'updates seen'],
    result.samples.map((s) => [String(s.atSeconds), s.agentRssMiB.toFixed(1), String(s.agentFds), s.masterRssMiB.toFixed(1), String(s.masterFds), String(s.updates)]),
  );
  printTable(
    'trend after the warm-up (least squares)',
    ['series', 'median', 'growth over span', 'per hour'],
    Object.entries(result.trends).map(([key, t]) => [key, t ? t.level.toFixed(1) : '-', t ? t.overSpan.toFixed(2) : '-', t ? t.perHour.toFixed(2) : '-']),
  );
  process.stdout.write(`${result.tasks} tasks, ${result.agentKills} agent kills, ${result.updatesSeen} updates seen\n`);
  process.stdout.write(result.violations.length === 0 ? 'no violation\n' : `VIOLATIONS:\n${result.violations.map((v) => `  ${v}`).join('\n')}\n`);
}
