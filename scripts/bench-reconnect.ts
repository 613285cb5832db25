// bench-reconnect (issue 5 §2, DESIGN §10): N live executors on a real agent (with a real master and
// framework); the agent is killed with SIGKILL and restarted on the same work dir, and each
// executor's re-subscription is timed from the moment the restarted agent listens on its executor
// socket. Side by side, in the same run: the same executors reconnecting with Mesos's policy
// (an attempt after every uniform random delay in [0, 2 s)). Several kill/restart rounds per N;
// the figures are medians over rounds of each round's p50/p99/max.
//
//   node dist/scripts/bench-reconnect.js                 n = 200 and 1000, 5 rounds each
//   node dist/scripts/bench-reconnect.js --quick         n = 20, 2 rounds
//   node dist/scripts/bench-reconnect.js --sizes=200 --rounds=3 --baseline=false
//
// Clocks: the agent's "executor endpoint listening" log line (pino `time`, Date.now() right after
// listen() and the socket's chmod) is the start; each executor's Date.now() when its driver calls
// onResubscribed (SUBSCRIBED received) is the end. Same host, same clock.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, freePort, Proc, removeDir, tempDir, waitFor } from '../harness/helpers.js';
import { startMaster } from '../harness/cluster.js';
import { Framework, MASTER_FLAGS, killHard, processesUnder } from '../harness/scenario.js';
import { parseScriptFlags, runScript } from '../harness/lib/args.js';
import { barLine, printBar, printTable } from '../harness/lib/report.js';
import { median, summarize, type Summary } from '../harness/lib/stats.js';
import type { ClientKind } from './reconnect-executor.js';

const FIXTURE = fileURLToPath(new URL('./reconnect-executor.js', import.meta.url));

interface Setup {
  n: number;
  client: ClientKind;
  /** Executors per host process; 1 = the agent runs one node process per executor. */
  perHost: number;
  rounds: number;
  downtimeMs: number;
  /** Keep the work dir and the agent logs (printed), for a post-mortem. */
  keep: boolean;
}

interface RoundResult {
  /** ms from the agent listening to each executor's re-subscription (executor side). */
  latencies: number[];
  /** The same, from the agent's own "executor subscribed" log lines. */
  agentSide: number[];
  /** ms from the agent listening to the start of each executor's successful attempt (how long waking took). */
  wake: number[];
  /** ms from spawning the agent to its executor socket listening. */
  listenAfterSpawnMs: number;
  triggers: Record<string, number>;
}

interface LogLine {
  time: number;
  msg: string;
  recovering?: boolean;
}

function readLog(file: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // a line being written
    }
  }
  return lines;
}

/** One cluster (master, agent, framework, N executors), `rounds` kill -9 / restart rounds. */
async function runSetup(setup: Setup): Promise<RoundResult[]> {
  const { n, client, perHost } = setup;
  const root = fs.realpathSync(tempDir('ll-brc-'));
  const workDir = path.join(root, 'w');
  const out = path.join(root, 'out');
  const drop = path.join(root, 'drop');
  const logs = path.join(root, 'logs');
  for (const dir of [workDir, out, drop, logs]) fs.mkdirSync(dir, { recursive: true });
  const { master, address: masterAddress } = await startMaster([...MASTER_FLAGS]);
  const agentPort = await freePort();
  const hosts: Proc[] = [];
  let agent: ReturnType<typeof spawn> | undefined;
  let framework: Framework | undefined;
  let starts = 0;
  // The baseline's executors may take up to 2 s to come back: give them a window they fit in.
  const reregistration = client === 'mesos' ? '4secs' : '2secs';
  const startAgent = () => {
    starts++;
    const log = fs.openSync(path.join(logs, `agent-${starts}.log`), 'w');
    const child = spawn(
      process.execPath,
      [
        CLI,
        'agent',
        `--master=${masterAddress}`,
        `--work_dir=${workDir}`,
        `--runtime_dir=${path.join(root, 'rt')}`,
        '--ip=127.0.0.1',
        `--port=${agentPort}`,
        `--resources=cpus:${Math.max(4, n)};mem:${Math.max(4096, n * 64)};disk:10000`,
        '--registration_backoff_factor=100ms',
        `--executor_reregistration_timeout=${reregistration}`,
      ],
      { stdio: ['ignore', log, log], env: { ...process.env, LIFELINE_LOG_LEVEL: 'info' } },
    );
    fs.closeSync(log);
    agent = child;
    return { child, spawnedAt: Date.now(), log: path.join(logs, `agent-${starts}.log`) };
  };
  const agentRunning = async (log: string, timeoutMs: number) =>
    waitFor(() => readLog(log).some((line) => line.msg === 'agent RUNNING'), { timeoutMs, intervalMs: 250, message: `agent RUNNING in ${log}` });
  try {
    let started = startAgent();
    await agentRunning(started.log, 20_000);
    if (perHost > 1) {
      for (let i = 0; i < Math.ceil(n / perHost); i++) {
        hosts.push(new Proc(process.execPath, [FIXTURE, `--client=${client}`, `--out=${out}`, '--host', `--drop=${drop}`, `--name=host-${i}`], { cwd: workDir }));
      }
    }
    framework = new Framework(masterAddress, { name: `bench-reconnect-${client}`, checkpoint: true });
    await framework.start();
    const command =
      perHost > 1
        ? `env -0 > ${drop}/$LIFELINE_CONTAINER_ID.tmp && mv ${drop}/$LIFELINE_CONTAINER_ID.tmp ${drop}/$LIFELINE_CONTAINER_ID.env && exec sleep 100000`
        : `exec ${process.execPath} ${FIXTURE} --client=${client} --out=${out}`;
    const frameworkId = framework.frameworkId;
    const tasks = Array.from({ length: n }, (_, i) => ({
      taskId: `t${i}`,
      name: `t${i}`,
      resources: { cpus: 0.01, mem: 1 },
      executor: { executorId: `e${i}`, frameworkId, command: { value: command } },
    }));
    // Launched in batches so that a slow machine is not asked to start hundreds of processes at once.
    const batch = perHost > 1 ? 250 : 50;
    for (let i = 0; i < n; i += batch) {
      const part = tasks.slice(i, i + batch);
      await framework.launch(part, 30_000);
      await framework.waitFor(part.at(-1)!.taskId, 'TASK_RUNNING', { timeoutMs: 60_000 + batch * 400 });
    }
    const fw = framework;
    const notRunning = () => tasks.filter((task) => !fw.updates.some((s) => s.taskId === task.taskId && s.state === 'TASK_RUNNING'));
    await waitFor(() => notRunning().length === 0, {
      timeoutMs: 60_000 + n * 500,
      intervalMs: 500,
      message: `TASK_RUNNING for all ${n} tasks`,
    }).catch((error: unknown) => {
      const missing = notRunning().slice(0, 10).map((task) => `${task.taskId}: ${fw.describe(task.taskId)}`);
      throw new Error(`${(error as Error).message}; not running (first 10): ${missing.join('; ')}`);
    });
    process.stderr.write(`bench-reconnect: ${n} ${client} executors running (${perHost > 1 ? `${hosts.length} hosts` : 'one process each'})\n`);

    const results: RoundResult[] = [];
    for (let r = 1; r <= setup.rounds; r++) {
      const old = agent!;
      const exited = new Promise((resolve) => old.once('exit', resolve));
      old.kill('SIGKILL');
      await exited;
      await sleep(setup.downtimeMs);
      started = startAgent();
      await agentRunning(started.log, 60_000);
      const byExecutor = await waitFor(
        () => {
          const found = new Map<string, { t: number; trigger: string; attemptAt: number }>();
          for (const file of fs.readdirSync(out)) {
            for (const line of fs.readFileSync(path.join(out, file), 'utf8').split('\n')) {
              const [k, t, trigger, attemptAt] = line.split(' ');
              if (Number(k) === r) found.set(file, { t: Number(t), trigger: trigger ?? '?', attemptAt: Number(attemptAt) });
            }
          }
          return found.size >= n ? found : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, message: `round ${r}: all ${n} executors re-subscribed` },
      );
      const log = readLog(started.log);
      const listening = log.find((line) => line.msg === 'executor endpoint listening');
      if (!listening) throw new Error(`round ${r}: no "executor endpoint listening" line in ${started.log}`);
      const agentSide = log.filter((line) => line.msg === 'executor subscribed' && line.recovering === true).map((line) => line.time - listening.time);
      if (agentSide.length !== n) throw new Error(`round ${r}: the agent logged ${agentSide.length} recovering subscriptions, expected ${n}`);
      const triggers: Record<string, number> = {};
      for (const { trigger } of byExecutor.values()) triggers[trigger] = (triggers[trigger] ?? 0) + 1;
      results.push({
        latencies: [...byExecutor.values()].map(({ t }) => t - listening.time),
        agentSide,
        wake: [...byExecutor.values()].map(({ attemptAt }) => attemptAt - listening.time),
        listenAfterSpawnMs: listening.time - started.spawnedAt,
        triggers,
      });
      const s = summarize(results.at(-1)!.latencies);
      const w = summarize(results.at(-1)!.wake);
      process.stderr.write(`bench-reconnect: n=${n} ${client} round ${r}: p50 ${s.p50} p99 ${s.p99} max ${s.max} ms (attempt began: p50 ${w.p50} max ${w.max}) ${JSON.stringify(triggers)}\n`);
    }
    return results;
  } finally {
    // SIGUSR1: the agent shuts every executor down; whatever is left is killed.
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGUSR1');
      await Promise.race([exited, sleep(15_000)]);
      agent.kill('SIGKILL');
    }
    await framework?.stop().catch(() => {});
    for (const proc of hosts) proc.signal('SIGKILL');
    for (const proc of processesUnder(workDir)) killHard(proc.pid);
    await master.stop();
    await Promise.all(hosts.map((proc) => proc.exited));
    if (setup.keep) process.stderr.write(`bench-reconnect: kept ${root}\n`);
    else removeDir(root);
  }
}

interface Aggregate {
  /** Medians over rounds of each round's statistic. */
  executor: Summary;
  agent: Summary;
  wake: Summary;
  listenAfterSpawnMs: number;
  triggers: Record<string, number>;
}

function aggregate(results: RoundResult[]): Aggregate {
  const of = (pick: (r: RoundResult) => number[]) => {
    const each = results.map((r) => summarize(pick(r)));
    return {
      n: each[0]!.n,
      min: median(each.map((s) => s.min)),
      p50: median(each.map((s) => s.p50)),
      p99: median(each.map((s) => s.p99)),
      max: median(each.map((s) => s.max)),
    };
  };
  const triggers: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.triggers)) triggers[k] = (triggers[k] ?? 0) + v;
  return { executor: of((r) => r.latencies), agent: of((r) => r.agentSide), wake: of((r) => r.wake), listenAfterSpawnMs: median(results.map((r) => r.listenAfterSpawnMs)), triggers };
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench-reconnect', {
    sizes: '200,1000',
    rounds: 5,
    downtime: 2000,
    baseline: true,
    per_process_max: 200,
    per_host: 100,
    quick: false,
    keep: false,
  });
  const sizes = (flags.quick ? '20' : flags.sizes).split(',').map((s) => Number(s.trim()));
  for (const n of sizes) if (!Number.isInteger(n) || n < 1) throw new TypeError(`bench-reconnect: --sizes must be positive integers, got ${flags.sizes}`);
  const rounds = flags.quick ? 2 : flags.rounds;
  const rows: Array<Array<string | number>> = [];
  const lines = [];
  for (const n of sizes) {
    const perHost = n <= flags.per_process_max ? 1 : flags.per_host;
    const clients: ClientKind[] = flags.baseline ? ['lifeline', 'mesos'] : ['lifeline'];
    const found: Partial<Record<ClientKind, Aggregate>> = {};
    for (const client of clients) {
      const a = aggregate(await runSetup({ n, client, perHost, rounds, downtimeMs: flags.downtime, keep: flags.keep }));
      found[client] = a;
      const how = Object.entries(a.triggers).map(([k, v]) => `${k}:${v}`).join(' ');
      rows.push([`${n}`, client === 'lifeline' ? 'lifeline (watch/poll)' : 'baseline U[0,2s)', perHost === 1 ? 'process each' : `${perHost}/host`, a.executor.p50, a.executor.p99, a.executor.max, a.agent.p50, a.agent.max, a.wake.p50, a.wake.max, a.listenAfterSpawnMs, how]);
    }
    const ours = found.lifeline!;
    const base = found.mesos;
    if (!base) continue; // a bar line needs its same-run baseline
    for (const [metric, pick] of [['resubscribe-p50', (s: Summary) => s.p50], ['resubscribe-p99', (s: Summary) => s.p99], ['resubscribe-max', (s: Summary) => s.max]] as const) {
      lines.push(barLine('reconnect', n, metric, pick(ours.executor), 'ms', pick(base.executor)));
    }
  }
  printTable(
    `bench-reconnect: ms from the restarted agent listening to each executor re-subscribed (medians over ${rounds} rounds; kill -9, ${flags.downtime} ms down)`,
    ['n', 'executors', 'processes', 'p50', 'p99', 'max', 'agent p50', 'agent max', 'attempt p50', 'attempt max', 'spawn→listen', 'woken by (all rounds)'],
    rows,
  );
  process.stdout.write('\n');
  for (const line of lines) printBar(line);
  return 0;
}

runScript(main);
