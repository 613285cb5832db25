// bench-recovery (issue 5 §3, DESIGN §10): how long a restarted agent takes to come back when its
// checkpoint holds N executors × 20 status updates each (N = 100, 1000, 5000), against the same
// agent starting on an empty work dir, in the same run. The checkpoint is written by the project's
// own Checkpointer (what a real agent writes, byte for byte, much faster than running N executors).
// Each trial starts a real master and the built `lifeline agent` on a fresh copy of the checkpoint
// and reads the agent's log (pino `time`) for three moments after spawn():
//   http       "HTTP endpoint listening"      (/state answers 503 while recovering);
//   listening  "executor endpoint listening"  (the executor socket: the bar, < 1 s at N = 1000);
//   reregistered "agent RUNNING"              (recovery done and re-registered with the master).
// The recorded executors are dead (forked.json names a process that has exited: its pid with its
// real start time), so recovery does the most work a checkpoint can ask of it: every run is ended
// (outbox read, TASK_FAILED recorded and fsync'd, sentinel written) before the agent re-registers.
// Live executors would instead be waited for (bench-reconnect measures that).
//
//   node dist/scripts/bench-recovery.js                 N = 100, 1000, 5000; 3 trials each
//   node dist/scripts/bench-recovery.js --quick         N = 100, 1000; 1 trial
//   node dist/scripts/bench-recovery.js --sizes=1000 --trials=1 --profile=prof   agent CPU profiles in prof/
//   node dist/scripts/bench-recovery.js --history=1000000   one stream with a long history (issue 13
//       point 1): N updates through the Checkpointer (compacted as they go), against one stream
//       with a single update, same run; prints both restarts and the size of task.updates
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Checkpointer } from '../src/checkpoint/checkpointer.js';
import type { LogRecord } from '../src/checkpoint/records.js';
import { bootId, processIdentity, type ProcessIdentity } from '../src/process/index.js';
import type { TaskStatus } from '../src/protocol/index.js';
import { startMaster } from '../harness/cluster.js';
import { CLI, FAST_TMP, freePort, removeDir, tempDir, waitFor } from '../harness/helpers.js';
import { isMain, parseScriptFlags, runScript } from '../harness/lib/args.js';
import { barLine, printBar, printTable } from '../harness/lib/report.js';
import { median } from '../harness/lib/stats.js';

const AGENT_ID = 'bench-recovery-S0';
const FRAMEWORK_ID = 'bench-recovery-fw';
const HOSTNAME = 'bench-recovery-host';
const RESOURCES = 'cpus:8;mem:16384;disk:100000';
const RESOURCE_VALUES = { cpus: 8, mem: 16384, disk: 100000 };
const MOMENTS = ['http', 'listening', 'reregistered'] as const;
type Moment = (typeof MOMENTS)[number];
const LOG_LINE: Record<Moment, string> = {
  http: 'HTTP endpoint listening',
  listening: 'executor endpoint listening',
  reregistered: 'agent RUNNING',
};

/** A process that has exited: its pid and real start time, as forked.json would name a dead executor. */
export function deadIdentity(): ProcessIdentity {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const identity = processIdentity(child.pid!);
  if (!identity) throw new Error('bench-recovery: could not read the start time of a fresh process');
  child.kill('SIGKILL');
  return identity;
}

/** N executors (one task each, 20 updates: all acknowledged but the last) through the Checkpointer. */
export async function writeCheckpoint(workDir: string, n: number, updates: number, dead: ProcessIdentity): Promise<void> {
  const checkpointer = new Checkpointer({ workDir });
  try {
    await checkpointer.writeBootId(bootId());
    await checkpointer.checkpointAgent({ id: AGENT_ID, hostname: HOSTNAME, resources: RESOURCE_VALUES, checkpoint: true });
    await checkpointer.checkpointFramework({ agentId: AGENT_ID }, { id: FRAMEWORK_ID, name: 'bench-recovery', checkpoint: true });
    const one = async (i: number) => {
      const executorId = `e${i}`;
      const taskId = `t${i}`;
      const containerId = randomUUID();
      const ref = { agentId: AGENT_ID, frameworkId: FRAMEWORK_ID, executorId, containerId };
      const info = { executorId, frameworkId: FRAMEWORK_ID, command: { value: 'node executor.js' } };
      await checkpointer.checkpointExecutor(ref, info, { generated: false });
      await checkpointer.checkpointRun(ref, { tokenHash: createHash('sha256').update(containerId).digest('hex') });
      await checkpointer.checkpointForked(ref, dead);
      const taskRef = { ...ref, taskId };
      await checkpointer.checkpointTask(taskRef, { taskId, name: taskId, agentId: AGENT_ID, resources: { cpus: 0.01, mem: 1 }, executor: info });
      const records: Array<{ ref: typeof taskRef; record: LogRecord }> = [];
      for (let u = 0; u < updates; u++) {
        const status: TaskStatus = { taskId, state: u === 0 ? 'TASK_STARTING' : 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now(), source: 'SOURCE_EXECUTOR', message: `progress ${u}` };
        records.push({ ref: taskRef, record: { kind: 'UPDATE', status } });
        // The framework acknowledged every update but the last (in flight when the agent died).
        if (u < updates - 1) records.push({ ref: taskRef, record: { kind: 'ACK', uuid: status.uuid } });
      }
      await checkpointer.appendRecords(records);
    };
    const CONCURRENCY = 64;
    for (let i = 0; i < n; i += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n - i) }, (_, k) => one(i + k)));
    }
  } finally {
    await checkpointer.close();
  }
}

/**
 * One executor whose task has sent `history` updates (each acknowledged but the last), written
 * through the Checkpointer in chunks, as an agent would over time: compaction keeps the file small.
 * Returns the size of its task.updates.
 */
export async function writeHistoryCheckpoint(workDir: string, history: number, dead: ProcessIdentity): Promise<number> {
  const checkpointer = new Checkpointer({ workDir });
  try {
    await checkpointer.writeBootId(bootId());
    await checkpointer.checkpointAgent({ id: AGENT_ID, hostname: HOSTNAME, resources: RESOURCE_VALUES, checkpoint: true });
    await checkpointer.checkpointFramework({ agentId: AGENT_ID }, { id: FRAMEWORK_ID, name: 'bench-recovery', checkpoint: true });
    const containerId = randomUUID();
    const ref = { agentId: AGENT_ID, frameworkId: FRAMEWORK_ID, executorId: 'e0', containerId };
    const info = { executorId: 'e0', frameworkId: FRAMEWORK_ID, command: { value: 'node executor.js' } };
    await checkpointer.checkpointExecutor(ref, info, { generated: false });
    await checkpointer.checkpointRun(ref, { tokenHash: createHash('sha256').update(containerId).digest('hex') });
    await checkpointer.checkpointForked(ref, dead);
    const taskRef = { ...ref, taskId: 't0' };
    await checkpointer.checkpointTask(taskRef, { taskId: 't0', name: 't0', agentId: AGENT_ID, resources: { cpus: 0.01, mem: 1 }, executor: info });
    const CHUNK = 5_000;
    for (let start = 0; start < history; start += CHUNK) {
      const records: Array<{ ref: typeof taskRef; record: LogRecord }> = [];
      for (let u = start; u < Math.min(history, start + CHUNK); u++) {
        const status: TaskStatus = { taskId: 't0', state: u === 0 ? 'TASK_STARTING' : 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now(), source: 'SOURCE_EXECUTOR', message: `progress ${u}` };
        records.push({ ref: taskRef, record: { kind: 'UPDATE', status } });
        if (u < history - 1) records.push({ ref: taskRef, record: { kind: 'ACK', uuid: status.uuid } });
      }
      await checkpointer.appendRecords(records);
    }
    return fs.statSync(path.join(workDir, 'meta', 'agents', AGENT_ID, 'frameworks', FRAMEWORK_ID, 'executors', 'e0', 'runs', containerId, 'tasks', 't0', 'task.updates')).size;
  } finally {
    await checkpointer.close();
  }
}

/** --history=N: restart after N updates on one stream vs. a fresh stream, same run. */
async function historyMain(history: number, trials: number): Promise<number> {
  const root = fs.realpathSync(tempDir('ll-brh-'));
  const fast = fs.mkdtempSync(path.join(FAST_TMP, 'll-brh-'));
  try {
    const dead = deadIdentity();
    const sources = { fresh: path.join(fast, 'fresh'), long: path.join(fast, 'long') };
    const sizes = { fresh: await writeHistoryCheckpoint(sources.fresh, 1, dead), long: 0 };
    const writtenAt = Date.now();
    sizes.long = await writeHistoryCheckpoint(sources.long, history, dead);
    process.stderr.write(`bench-recovery: ${history} updates on one stream written in ${Date.now() - writtenAt} ms; task.updates is ${sizes.long} bytes\n`);
    const results: Record<'fresh' | 'long', Array<Record<Moment, number>>> = { fresh: [], long: [] };
    for (let t = 0; t < trials; t++) {
      for (const which of ['fresh', 'long'] as const) {
        const copy = path.join(root, 'run');
        removeDir(copy);
        const cp = spawnSync('cp', ['-a', sources[which], copy]);
        if (cp.status !== 0) throw new Error(`bench-recovery: cp -a failed: ${cp.stderr}`);
        results[which].push(await trial(copy, path.join(root, `${which}-${t}.log`)));
      }
    }
    const of = (which: 'fresh' | 'long', m: Moment) => median(results[which].map((r) => r[m]));
    printTable(
      `bench-recovery --history=${history}: ms from spawning the agent (medians of ${trials} trial(s); one executor, dead)`,
      ['stream', 'task.updates bytes', 'HTTP listening', 'executor socket listening', 're-registered (RUNNING)'],
      [
        ['1 update', sizes.fresh, of('fresh', 'http'), of('fresh', 'listening'), of('fresh', 'reregistered')],
        [`${history} updates`, sizes.long, of('long', 'http'), of('long', 'listening'), of('long', 'reregistered')],
      ],
    );
    process.stdout.write('\n');
    printBar(barLine('recovery', history, 'listening after a history (baseline: a fresh stream)', of('long', 'listening'), 'ms', of('fresh', 'listening')));
    return 0;
  } finally {
    removeDir(root);
    removeDir(fast);
  }
}

interface LogLine {
  time: number;
  msg: string;
}

function readLog(file: string): LogLine[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}

/** One agent start on `workDir` (a fresh copy): ms from spawn() to each moment. */
async function trial(workDir: string, logFile: string, profileDir = ''): Promise<Record<Moment, number>> {
  const { master, address } = await startMaster(['--agent_reregister_timeout=30secs']);
  const port = await freePort();
  const log = fs.openSync(logFile, 'w');
  const spawnedAt = Date.now();
  const agent = spawn(
    process.execPath,
    [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), CLI, 'agent', `--master=${address}`, `--work_dir=${workDir}`, `--runtime_dir=${path.join(workDir, 'rt')}`, '--ip=127.0.0.1', `--port=${port}`, `--resources=${RESOURCES}`, `--hostname=${HOSTNAME}`, '--registration_backoff_factor=100ms'],
    { stdio: ['ignore', log, log], env: { ...process.env, LIFELINE_LOG_LEVEL: 'info' } },
  );
  fs.closeSync(log);
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  try {
    const lines = await waitFor(
      () => {
        if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
        const found = readLog(logFile);
        return found.some((line) => line.msg === LOG_LINE.reregistered) ? found : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 100, message: `agent RUNNING (log ${logFile})` },
    );
    const at = (moment: Moment) => {
      const line = lines.find((l) => l.msg === LOG_LINE[moment]);
      if (!line) throw new Error(`no "${LOG_LINE[moment]}" line in ${logFile}`);
      return line.time - spawnedAt;
    };
    return { http: at('http'), listening: at('listening'), reregistered: at('reregistered') };
  } finally {
    // Profiled: SIGTERM, so that node writes the profile (the executors are dead: nothing waits).
    agent.kill(profileDir ? 'SIGTERM' : 'SIGKILL');
    await exited;
    await master.stop();
  }
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench-recovery', { sizes: '100,1000,5000', updates: 20, trials: 3, quick: false, profile: '', history: 0 });
  if (flags.history > 0) return historyMain(flags.history, flags.quick ? 1 : flags.trials);
  const sizes = (flags.quick ? '100,1000' : flags.sizes).split(',').map((s) => Number(s.trim()));
  for (const n of sizes) if (!Number.isInteger(n) || n < 1) throw new TypeError(`bench-recovery: --sizes must be positive integers, got ${flags.sizes}`);
  const trials = flags.quick ? 1 : flags.trials;
  const root = fs.realpathSync(tempDir('ll-bre-'));
  const fast = fs.mkdtempSync(path.join(FAST_TMP, 'll-bre-'));
  const rows: Array<Array<string | number>> = [];
  const lines = [];
  const failures = new Map<number, string>();
  try {
    const dead = deadIdentity();
    const empty = path.join(root, 'empty');
    const baselines: Array<Record<Moment, number>> = [];
    const results = new Map<number, Array<Record<Moment, number>>>();
    for (const n of sizes) {
      // Written on tmpfs when there is one (its fsyncs cost nothing: 5,000 executors are tens of
      // thousands of atomic writes), then copied to the real disk for each trial.
      const source = path.join(fast, `ckpt-${n}`);
      const writtenAt = Date.now();
      await writeCheckpoint(source, n, flags.updates, dead);
      process.stderr.write(`bench-recovery: checkpoint of ${n} executors × ${flags.updates} updates written in ${Date.now() - writtenAt} ms\n`);
      results.set(n, []);
      try {
        for (let t = 0; t < trials; t++) {
          // Baseline and checkpoint trials interleaved, so that machine noise touches both alike.
          removeDir(empty);
          fs.mkdirSync(empty);
          baselines.push(await trial(empty, path.join(root, `empty-${n}-${t}.log`)));
          const copy = path.join(root, 'run');
          removeDir(copy);
          const cp = spawnSync('cp', ['-a', source, copy]);
          if (cp.status !== 0) throw new Error(`bench-recovery: cp -a failed: ${cp.stderr}`);
          const result = await trial(copy, path.join(root, `agent-${n}-${t}.log`), flags.profile ? path.resolve(flags.profile) : '');
          results.get(n)!.push(result);
          process.stderr.write(`bench-recovery: n=${n} trial ${t + 1}: ${JSON.stringify(result)} (empty dir: ${JSON.stringify(baselines.at(-1))})\n`);
        }
      } catch (error) {
        // One size failing (an agent that never re-registers) must not hide the figures of the others.
        failures.set(n, (error as Error).message.split('\n')[0]!);
        process.stderr.write(`bench-recovery: n=${n} failed: ${(error as Error).message}\n`);
      }
      removeDir(source);
    }
    const base = Object.fromEntries(MOMENTS.map((m) => [m, median(baselines.map((b) => b[m]))])) as Record<Moment, number>;
    rows.push(['empty work dir', base.http, base.listening, base.reregistered]);
    for (const n of sizes) {
      if (failures.has(n)) {
        rows.push([`${n} executors`, 'failed', failures.get(n)!, '']);
        continue;
      }
      const of = (m: Moment) => median(results.get(n)!.map((r) => r[m]));
      rows.push([`${n} executors`, of('http'), of('listening'), of('reregistered')]);
      lines.push(barLine('recovery', n, 'listening', of('listening'), 'ms', base.listening));
      lines.push(barLine('recovery', n, 'reregistered', of('reregistered'), 'ms', base.reregistered));
    }
  } finally {
    removeDir(root);
    removeDir(fast);
  }
  printTable(
    `bench-recovery: ms from spawning the agent (medians of ${trials} trial(s); ${flags.updates} updates per executor, executors dead)`,
    ['checkpoint', 'HTTP listening', 'executor socket listening', 're-registered (RUNNING)'],
    rows,
  );
  process.stdout.write('\n');
  for (const line of lines) printBar(line);
  return failures.size === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(main);
