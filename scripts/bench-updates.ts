// bench-updates (issue 5.1, DESIGN §10): durable status updates per second, executor UPDATE →
// agent ACKNOWLEDGED, with 1, 10 and 100 concurrent executors each keeping up to 32 updates in
// flight, for the agent as it is (group commit) against the same agent with
// --checkpoint_batching=false (one fdatasync per record before its acknowledgement), in one run.
//
// Everything is real: per executor count, two masters and two agents (the built CLI), one of each
// mode, each running n custom executors (scripts/lib/updates-executor.ts, an ExecutorDriver
// launched by the agent) for a checkpointing framework (a SchedulerDriver in this process that
// acknowledges every update through the master). The two agents run one after the other: the first
// with its executors for all of its rounds, then it is stopped and the second starts. Between
// rounds the agent's backlog to the framework is drained so that one round does not load the next.
//
//   node dist/scripts/bench-updates.js [--executors=1,10,100] [--seconds=5] [--rounds=3] [--warmup=3000] [--profile=DIR] [--node-args='…'] [--together] [--quick]
//
// --together runs both agents at once and alternates their rounds (how the bench ran until
// 2026-12-07): a drift in the machine's load then hits both, but the idle agent and its n executors
// (heartbeats, timers, their memory, the file system's journal) load the measured one. At 100
// executors, that way the one-fdatasync agent made ~25 % fewer updates/s and the group-commit agent
// 5–10 % fewer (docs/benchmarks.md, 2026-12-07).
//
// --profile=DIR runs the agents and executors under `node --cpu-prof`, their profiles in DIR/<mode>-<n>-<who>/.
// --node-args='…' adds node options to the agents and executors: `--perf-basic-prof` names the JIT's
// code for a system-wide `perf record -a -g` taken during a round (how docs/benchmarks.md's
// breakdown was made), `--trace-opt --trace-deopt` shows what V8 is still compiling.
// --agent-node-args='…' adds node options to the agents alone: `--cpu-prof --cpu-prof-dir=DIR`
// profiles the agent of 100 executors (--profile slows 100 profiled executors past the warm-up's
// deadline on 2 cores). SIGUSR1 cannot be used to open an inspector: it shuts the agent down.
// --executor-node-args='…' adds node options to the executors alone, to the first K of each agent
// with --executor-node-args-count=K (default: all): `--cpu-prof --cpu-prof-dir=DIR` on two of a
// hundred executors profiles them (written when their task ends after the last round) without a
// hundred profilers on two cores; `--trace-gc` writes each GC to the executor's sandbox stdout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScriptFlags, runScript } from '../harness/lib/args.js';
import { barLine, printBar, printTable } from '../harness/lib/report.js';
import { contextSwitches, cpuSeconds, cpuSecondsByPid, TICKS_PER_SECOND, totalCpuSeconds } from '../harness/lib/proc-usage.js';
import { commitCounters, commitDelta, describeCommits, type CommitCounters } from '../harness/lib/agent-commits.js';
import { median, percentile } from '../harness/lib/stats.js';
import type { UpdatesExecutorConfig, UpdatesExecutorResult } from './updates-executor.js';
import { removeDir, tempDir, waitFor } from '../harness/helpers.js';
import { processesUnder, Scenario } from '../harness/scenario.js';
import type { NewTaskInfo } from '../src/scheduler/index.js';

const EXECUTOR_SCRIPT = fileURLToPath(new URL('./updates-executor.js', import.meta.url));

type Mode = 'batched' | 'unbatched';

/**
 * Up to this many more warm-up updates per executor (random): a log is compacted every 1 MiB,
 * about 2,500 updates of this bench in the agent's task.updates and 5,000 in an outbox, and with
 * every executor in step all of them compacted in the same round: such rounds fell to a fifth of the
 * rate, with the agent (or the executors) several times as busy per update. Each round prints the
 * logs it compacted.
 */
const WARMUP_SPREAD = 5_000;
const MODES: readonly Mode[] = ['batched', 'unbatched'];

/**
 * The agent's own defaults instead of the scenario's short test timeouts (a 100 ms resend interval
 * resends under load; 100 executors starting at once on two cores can take longer than the 4 s
 * recovery timeout to subscribe), and room for 100 tasks.
 */
const AGENT_FLAGS = [
  '--resources=cpus:64;mem:65536;disk:100000',
  '--status_update_retry_interval_min=1secs',
  '--status_update_retry_interval_max=1mins',
  '--recovery_timeout=15mins',
  '--executor_shutdown_grace_period=5secs',
];

interface Round {
  /** Updates acknowledged to executors in the round. */
  acknowledged: number;
  /** From the first update() of any executor to the last acknowledgement of any. */
  wallMs: number;
  latencies: number[];
  /** From the end of the round until the framework had acknowledged every update (agent backlog drained). */
  drainMs: number;
  /** CPU seconds used during the round (start signal to the last result) by each kind of process. */
  cpu: Cpu;
  /**
   * The agent's and the master's CPU seconds from the round's start until the drain ended: with the
   * forwarding of the round's updates to the framework and the recording of its ACKs, most of
   * which come after the round (each stream has one update in flight).
   */
  cpuThroughDrain: { agent: number; master: number };
  /** Voluntary context switches (a thread blocked, then woken) during the round, agent and executors. */
  wakeups: { agent: number; executors: number };
  /** Share of the machine's CPU time the hypervisor took (steal, /proc/stat) during the round. */
  steal: number;
  /** Logs compacted during the round (a compaction renames a new file over the log: its inode changes). */
  compactions: { agent: number; executors: number };
  /**
   * Where the machine's CPU went during the round, in CPU seconds: busy in all (/proc/stat, steal
   * left out), and the other agents' stages (agent, master, executors) waiting for their turn: a
   * load on the round that none of its own figures show.
   */
  machine: { busy: number; otherStages: number; seconds: number };
  /** The agent's group commits during the round (its /metrics, read just before and just after). */
  commits: CommitCounters;
  /** The executors' CPU seconds in the kernel during the round (part of cpu.executors). */
  executorsSystem: number;
}

interface Cpu {
  agent: number;
  executors: number;
  master: number;
  /** This process: the framework's SchedulerDriver (and the bench's own polling). */
  framework: number;
}

/** One agent (with its own master) running n executors for the whole set of rounds. */
class Stage {
  readonly mode: Mode;
  readonly n: number;
  readonly control: string;
  readonly rounds: Round[] = [];
  #scenario: Scenario | undefined;
  #executorPids: number[] = [];
  #profiling = false;

  constructor(mode: Mode, n: number) {
    this.mode = mode;
    this.n = n;
    this.control = fs.realpathSync(tempDir('ll-bu-'));
  }

  get scenario(): Scenario {
    return this.#scenario!;
  }

  async start(
    config: UpdatesExecutorConfig,
    profileDir: string | undefined,
    nodeArgs: readonly string[],
    agentNodeArgs: readonly string[] = [],
    executorNodeArgs: { args: readonly string[]; count: number } = { args: [], count: 0 },
  ): Promise<void> {
    fs.writeFileSync(path.join(this.control, 'config.json'), JSON.stringify(config));
    const s = (this.#scenario = await Scenario.start());
    this.#profiling = profileDir !== undefined || agentNodeArgs.some((arg) => arg.startsWith('--cpu-prof'));
    const profile = (who: string) => [...nodeArgs, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${this.mode}-${this.n}-${who}`)}`] : [])];
    await s.startAgent([...AGENT_FLAGS, `--checkpoint_batching=${this.mode === 'batched'}`], { nodeArgs: [...profile('agent'), ...agentNodeArgs] });
    const executorNode = [process.execPath, ...profile('executors')].join(' ');
    const optionedNode = [executorNode, ...executorNodeArgs.args].join(' ');
    const framework = await s.framework({ name: `bench-updates-${this.mode}`, checkpoint: true });
    const tasks: NewTaskInfo[] = [];
    for (let i = 0; i < this.n; i++) {
      const executorId = `ex-${i}`;
      tasks.push({
        taskId: `t-${i}`,
        name: `updates ${i}`,
        resources: { cpus: 0.1, mem: 16 },
        executor: { executorId, frameworkId: framework.frameworkId, command: { value: `${i < executorNodeArgs.count ? optionedNode : executorNode} ${EXECUTOR_SCRIPT} ${this.control}` } },
      });
    }
    await framework.launch(tasks, 30_000);
  }

  async waitReady(): Promise<void> {
    // The one-fdatasync agent makes ~2,700 updates/s durable on this VM: 100 executors' warm-ups
    // (3,000 to 8,000 updates each) take it 3–4 minutes.
    await waitFor(() => this.#count('ready-') >= this.n, {
      timeoutMs: 600_000,
      intervalMs: 100,
      message: `${this.n} ${this.mode} executors ready (warm-up done): ${this.#count('ready-')} are\n${this.#logs()}`,
    });
    this.#executorPids = processesUnder(this.scenario.workDir).map((p) => p.pid);
    // The warm-up's updates reach the framework before round 1, as each round's do before the
    // next: otherwise round 1 competes with forwarding a backlog of warm-up × n updates.
    const started = Date.now();
    await waitFor(async () => (await this.#pendingUpdates()) === 0, {
      timeoutMs: 600_000,
      intervalMs: 50,
      message: `the ${this.mode} agent's warm-up updates all acknowledged by the framework`,
    });
    process.stderr.write(`  n=${this.n} ${this.mode}: warm-up backlog drained in ${Date.now() - started} ms\n`);
  }

  #cpu(): Cpu & { perExecutor: Map<number, number> } {
    const self = process.cpuUsage();
    // Per process: one gone by the next reading must not count as negative CPU (the sums did).
    const perExecutor = cpuSecondsByPid(this.#executorPids);
    return {
      agent: cpuSeconds(this.scenario.agent!.pid),
      executors: [...perExecutor.values()].reduce((sum, value) => sum + value, 0),
      perExecutor,
      master: cpuSeconds(this.scenario.master.pid),
      framework: (self.user + self.system) / 1e6,
    };
  }

  #wakeups(): { agent: number; perExecutor: Map<number, number> } {
    const perExecutor = new Map<number, number>();
    for (const pid of this.#executorPids) {
      const switches = contextSwitches(pid);
      if (switches) perExecutor.set(pid, switches.voluntary);
    }
    return { agent: contextSwitches(this.scenario.agent!.pid)?.voluntary ?? 0, perExecutor };
  }

  /** How much a per-executor count (CPU seconds, context switches) grew between two readings, over the executors alive at both. */
  static survivorsDelta(before: Map<number, number>, after: Map<number, number>): number {
    let sum = 0;
    for (const [pid, value] of after) {
      const start = before.get(pid);
      if (start !== undefined) sum += value - start;
    }
    return sum;
  }

  /** Starts round `round`, waits for every executor's result and for the framework to catch up. */
  /** CPU seconds used so far by this stage's agent, master and executors (the idle stage's load on the other's round). */
  busySeconds(): number {
    const executors = processesUnder(this.scenario.workDir).map((p) => p.pid);
    return cpuSeconds(this.scenario.agent!.pid) + cpuSeconds(this.scenario.master.pid) + totalCpuSeconds(executors);
  }

  async runRound(round: number, seconds: number, others: readonly Stage[] = []): Promise<Round> {
    this.#executorPids = processesUnder(this.scenario.workDir).map((p) => p.pid);
    const logsBefore = logInodes(this.scenario.workDir);
    // Read before the CPU figures start and after they end: a /metrics response is agent CPU.
    const commitsBefore = commitCounters(await this.scenario.agentMetrics());
    const systemBefore = cpuSecondsByPid(this.#executorPids, 'system');
    const before = this.#cpu();
    const wakeupsBefore = this.#wakeups();
    const stealBefore = machineTimes();
    const othersBefore = others.reduce((sum, stage) => sum + stage.busySeconds(), 0);
    const startedAt = Date.now();
    const file = path.join(this.control, `start-${round}`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ deadline: Date.now() + seconds * 1000 }));
    fs.renameSync(`${file}.tmp`, file);
    this.#signalStart();
    const prefix = `result-${round}-`;
    await waitFor(() => this.#count(prefix) >= this.n, {
      timeoutMs: seconds * 1000 + 300_000,
      intervalMs: 50,
      message: `${this.n} results of round ${round} (${this.mode}): ${this.#count(prefix)} are\n${this.#logs()}`,
    });
    const ended = Date.now();
    const after = this.#cpu();
    const systemAfter = cpuSecondsByPid(this.#executorPids, 'system');
    const commits = commitDelta(commitsBefore, commitCounters(await this.scenario.agentMetrics()));
    const wakeupsAfter = this.#wakeups();
    const stealAfter = machineTimes();
    const othersAfter = others.reduce((sum, stage) => sum + stage.busySeconds(), 0);
    const logsAfter = logInodes(this.scenario.workDir);
    const compactions = { agent: 0, executors: 0 };
    for (const [file, inode] of logsAfter) {
      const earlier = logsBefore.get(file);
      if (earlier !== undefined && earlier !== inode) compactions[file.endsWith('outbox.log') ? 'executors' : 'agent'] += 1;
    }
    const steal = (stealAfter.steal - stealBefore.steal) / Math.max(1, stealAfter.total - stealBefore.total);
    const machine = { busy: (stealAfter.busy - stealBefore.busy) / TICKS_PER_SECOND, otherStages: othersAfter - othersBefore, seconds: (ended - startedAt) / 1000 };
    const wakeups = { agent: wakeupsAfter.agent - wakeupsBefore.agent, executors: Stage.survivorsDelta(wakeupsBefore.perExecutor, wakeupsAfter.perExecutor) };
    const cpu: Cpu = { agent: after.agent - before.agent, executors: Stage.survivorsDelta(before.perExecutor, after.perExecutor), master: after.master - before.master, framework: after.framework - before.framework };
    const results = fs
      .readdirSync(this.control)
      .filter((name) => name.startsWith(prefix) && name.endsWith('.json'))
      .map((name) => JSON.parse(fs.readFileSync(path.join(this.control, name), 'utf8')) as UpdatesExecutorResult);
    // Every 250 ms, not faster: each /metrics the agent serves is CPU counted in cpuThroughDrain.
    await waitFor(async () => (await this.#pendingUpdates()) === 0, {
      timeoutMs: 600_000,
      intervalMs: 250,
      message: `the ${this.mode} agent's updates all acknowledged by the framework after round ${round}`,
    });
    const drainMs = Date.now() - ended;
    const cpuThroughDrain = { agent: cpuSeconds(this.scenario.agent!.pid) - before.agent, master: cpuSeconds(this.scenario.master.pid) - before.master };
    const acknowledged = results.reduce((sum, r) => sum + r.acknowledged, 0);
    const wallMs = Math.max(...results.map((r) => r.lastAck)) - Math.min(...results.map((r) => r.firstSend));
    const executorsSystem = Stage.survivorsDelta(systemBefore, systemAfter);
    const result: Round = { acknowledged, wallMs, latencies: results.flatMap((r) => r.latencies), drainMs, cpu, cpuThroughDrain, wakeups, steal, compactions, machine, commits, executorsSystem };
    this.rounds.push(result);
    return result;
  }

  /**
   * After every round: tells the executors to end their tasks (`start-<rounds + 1>`) and waits a
   * while for them to exit, so that the profiled ones write their profiles.
   */
  async finish(rounds: number): Promise<void> {
    if (!this.#scenario) return;
    const file = path.join(this.control, `start-${rounds + 1}`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ deadline: Date.now() }));
    fs.renameSync(`${file}.tmp`, file);
    this.#signalStart();
    const running = () => processesUnder(this.scenario.workDir).filter(({ cmd }) => cmd.includes(EXECUTOR_SCRIPT)).length;
    await waitFor(() => running() === 0, { timeoutMs: 15_000, intervalMs: 100, message: 'executors ended' }).catch(() => {});
  }

  async cleanup(): Promise<void> {
    // The scenario's cleanup kills the agent with SIGKILL, and --cpu-prof writes a profile only on
    // an orderly exit: a profiled agent is stopped with SIGTERM first.
    const agent = this.#scenario?.agent;
    if (this.#profiling && agent && !agent.exit) {
      agent.child.kill('SIGTERM');
      await agent.waitForExit(15_000).catch(() => {});
    }
    await this.#scenario?.cleanup();
    this.#scenario = undefined;
    removeDir(this.control);
  }

  /**
   * SIGUSR2 to this agent's executors (node running their script: a shell around one would die
   * of it): they look for the start file at once instead of on their 2 s poll.
   */
  #signalStart(): void {
    for (const { pid, cmd } of processesUnder(this.scenario.workDir)) {
      if (!cmd.startsWith(process.execPath) || !cmd.includes(EXECUTOR_SCRIPT)) continue;
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        // gone meanwhile
      }
    }
  }

  #count(prefix: string): number {
    return fs.readdirSync(this.control).filter((name) => name.startsWith(prefix) && !name.endsWith('.tmp')).length;
  }

  async #pendingUpdates(): Promise<number> {
    const text = await this.scenario.agentMetrics();
    const match = /^lifeline_agent_status_updates_pending (\d+)/m.exec(text);
    if (!match) throw new Error('no lifeline_agent_status_updates_pending in the agent\'s /metrics');
    return Number(match[1]);
  }

  #logs(): string {
    return this.#scenario?.logs(2_000) ?? '';
  }
}

interface Figures {
  opsPerSecond: number[];
  latencies: number[];
  drainMs: number[];
  /** CPU microseconds per acknowledged update, by process kind: the median of the rounds' figures. */
  cpuPerUpdate: Cpu & { node: number };
  /** The agent's and master's CPU µs per update through the drain (Round.cpuThroughDrain): the median of the rounds'. */
  cpuThroughDrainPerUpdate: { agent: number; master: number };
  /** Voluntary context switches per acknowledged update: the median of the rounds'. */
  wakeupsPerUpdate: { agent: number; executors: number };
  /** The largest share of CPU time stolen by the hypervisor in any round. */
  maxSteal: number;
}

/** The inode of every task.updates and outbox.log under `dir`, by path. */
function logInodes(dir: string): Map<string, number> {
  const inodes = new Map<string, number>();
  const walk = (at: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(at, { withFileTypes: true });
    } catch {
      return; // removed meanwhile (a run that ended)
    }
    for (const entry of entries) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'task.updates' || entry.name === 'outbox.log') {
        try {
          inodes.set(full, fs.statSync(full).ino);
        } catch {
          // being renamed over right now: counted at the next reading
        }
      }
    }
  };
  walk(dir);
  return inodes;
}

/** The machine's CPU time so far in clock ticks (/proc/stat, all CPUs): stolen by the hypervisor, busy (neither idle, iowait nor stolen), and in all. */
function machineTimes(): { steal: number; busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const steal = fields[7] ?? 0;
  return { steal, busy: total - (fields[3] ?? 0) - (fields[4] ?? 0) - steal, total };
}

function figures(stage: Stage): Figures {
  // Medians of the rounds, not sums: on this noisy machine one round in a few costs twice the others.
  const per = (key: keyof Cpu) => median(stage.rounds.map((r) => (r.cpu[key] * 1e6) / r.acknowledged));
  return {
    opsPerSecond: stage.rounds.map((r) => (r.acknowledged * 1000) / r.wallMs),
    latencies: stage.rounds.flatMap((r) => r.latencies),
    drainMs: stage.rounds.map((r) => r.drainMs),
    cpuPerUpdate: {
      agent: per('agent'),
      executors: per('executors'),
      master: per('master'),
      framework: per('framework'),
      node: median(stage.rounds.map((r) => ((r.cpu.agent + r.cpu.executors) * 1e6) / r.acknowledged)),
    },
    cpuThroughDrainPerUpdate: {
      agent: median(stage.rounds.map((r) => (r.cpuThroughDrain.agent * 1e6) / r.acknowledged)),
      master: median(stage.rounds.map((r) => (r.cpuThroughDrain.master * 1e6) / r.acknowledged)),
    },
    wakeupsPerUpdate: {
      agent: median(stage.rounds.map((r) => r.wakeups.agent / r.acknowledged)),
      executors: median(stage.rounds.map((r) => r.wakeups.executors / r.acknowledged)),
    },
    maxSteal: Math.max(...stage.rounds.map((r) => r.steal)),
  };
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench-updates', {
    executors: '1,10,100',
    modes: MODES.join(','),
    seconds: 5,
    rounds: 3,
    // Updates per executor before round 1. At 64, V8 was still compiling the update path in every
    // executor through the rounds: perf put half of the executors' CPU in TurboFan. A task that runs
    // for days pays that once; the rounds are to measure what it pays per update after.
    warmup: 3000,
    window: 32,
    profile: '',
    node_args: '',
    agent_node_args: '',
    executor_node_args: '',
    executor_node_args_count: 0,
    together: false,
    quick: false,
  });
  if (flags.quick) Object.assign(flags, { seconds: Math.min(flags.seconds, 1.5), rounds: 1, warmup: Math.min(flags.warmup, 8) });
  const counts = flags.executors.split(',').map((s) => Number(s.trim()));
  const modes = flags.modes.split(',').map((s) => s.trim()) as Mode[];
  for (const mode of modes) if (!MODES.includes(mode)) throw new TypeError(`bench-updates: --modes must list ${MODES.join(' and/or ')}, got ${JSON.stringify(flags.modes)}`);
  for (const n of counts) if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`bench-updates: --executors must list positive integers, got ${JSON.stringify(flags.executors)}`);
  for (const [name, value] of [['seconds', flags.seconds], ['rounds', flags.rounds], ['window', flags.window]] as const) {
    if (!(value > 0)) throw new TypeError(`bench-updates: --${name} must be positive, got ${value}`);
  }
  if (!Number.isSafeInteger(flags.executor_node_args_count) || flags.executor_node_args_count < 0) {
    throw new TypeError(`bench-updates: --executor-node-args-count must be a whole number ≥ 0 (0: every executor), got ${flags.executor_node_args_count}`);
  }
  // The agents and executors log at warn: a debug line per update would be the bottleneck.
  process.env.LIFELINE_LOG_LEVEL ??= 'warn';
  const config: UpdatesExecutorConfig = { warmup: flags.warmup, warmupSpread: flags.quick ? 0 : WARMUP_SPREAD, window: flags.window, rounds: flags.rounds };
  process.stdout.write(
    `bench-updates: ${counts.join(', ')} executors, ${flags.rounds} round(s) of ${flags.seconds} s per agent, window ${flags.window}, ` +
      `warm-up ${flags.warmup} updates per executor, work dirs in ${os.tmpdir()}\n`,
  );
  const rows: Array<Array<string | number>> = [];
  const cpuRows: Array<Array<string | number>> = [];
  const bars = [];
  const cpuBars: string[] = [];
  for (const n of counts) {
    const stages = modes.map((mode) => new Stage(mode, n));
    const nodeArgs = flags.node_args.split(/\s+/).filter(Boolean);
    const agentNodeArgs = flags.agent_node_args.split(/\s+/).filter(Boolean);
    const executorNodeArgs = { args: flags.executor_node_args.split(/\s+/).filter(Boolean), count: flags.executor_node_args_count || n };
    const profileDir = flags.profile ? path.resolve(flags.profile) : undefined;
    const report = (stage: Stage, round: number, r: Round) =>
      process.stderr.write(`  n=${n} ${stage.mode} round ${round}: ${r.acknowledged} updates in ${r.wallMs.toFixed(0)} ms = ${((r.acknowledged * 1000) / r.wallMs).toFixed(0)}/s, drained ${r.drainMs} ms later; CPU µs per update: agent ${((r.cpu.agent * 1e6) / r.acknowledged).toFixed(1)} (${((r.cpuThroughDrain.agent * 1e6) / r.acknowledged).toFixed(1)} through the drain), executors ${((r.cpu.executors * 1e6) / r.acknowledged).toFixed(1)} (${((r.executorsSystem / Math.max(r.cpu.executors, 1e-9)) * 100).toFixed(0)} % in the kernel); agent: ${describeCommits(r.commits, r.machine.seconds)}; logs compacted: ${r.compactions.agent} task.updates, ${r.compactions.executors} outbox.log; machine busy ${(r.machine.busy / r.machine.seconds).toFixed(2)} cores${flags.together ? `, of which the idle stage ${(r.machine.otherStages / r.machine.seconds).toFixed(2)}` : ''}\n`);
    if (flags.together) {
      try {
        for (const stage of stages) await stage.start(config, profileDir, nodeArgs, agentNodeArgs, executorNodeArgs);
        for (const stage of stages) await stage.waitReady();
        for (let round = 1; round <= flags.rounds; round++) {
          // Alternate which agent goes first, so that a drift in the machine's load hits both.
          const order = round % 2 === 1 ? stages : [...stages].reverse();
          for (const stage of order) report(stage, round, await stage.runRound(round, flags.seconds, stages.filter((other) => other !== stage)));
        }
      } finally {
        for (const stage of stages) await stage.finish(flags.rounds);
        for (const stage of stages) await stage.cleanup();
      }
    } else {
      try {
        for (const stage of stages) {
          await stage.start(config, profileDir, nodeArgs, agentNodeArgs, executorNodeArgs);
          await stage.waitReady();
          for (let round = 1; round <= flags.rounds; round++) report(stage, round, await stage.runRound(round, flags.seconds));
          await stage.finish(flags.rounds);
          await stage.cleanup();
        }
      } finally {
        // A stage that failed, and the ones after it, are stopped too (cleanup is idempotent).
        for (const stage of stages) {
          await stage.finish(flags.rounds);
          await stage.cleanup();
        }
      }
    }
    const byMode = new Map(stages.map((stage) => [stage.mode, figures(stage)]));
    for (const [mode, f] of byMode) {
      const label = mode === 'batched' ? 'group commit' : 'one fdatasync each';
      rows.push([
        String(n),
        label,
        median(f.opsPerSecond),
        `${Math.min(...f.opsPerSecond).toFixed(0)}–${Math.max(...f.opsPerSecond).toFixed(0)}`,
        percentile(f.latencies, 50),
        percentile(f.latencies, 99),
        f.latencies.length,
        median(f.drainMs),
      ]);
      const c = f.cpuPerUpdate;
      cpuRows.push([String(n), label, c.node, c.agent, c.executors, c.master, c.framework, f.cpuThroughDrainPerUpdate.agent, f.cpuThroughDrainPerUpdate.master, f.wakeupsPerUpdate.agent, f.wakeupsPerUpdate.executors, `${(f.maxSteal * 100).toFixed(1)} %`]);
    }
    const batched = byMode.get('batched');
    const unbatched = byMode.get('unbatched');
    if (batched && unbatched) bars.push(barLine('updates', n, 'durable-updates', median(batched.opsPerSecond), 'ops/s', median(unbatched.opsPerSecond)));
    if (batched) {
      const { node, agent } = batched.cpuPerUpdate;
      cpuBars.push(`n=${n}: node-wide ${node.toFixed(0)} µs per update (bar ≤ 150: ${node <= 150 ? 'met' : 'not met'}), agent ${agent.toFixed(1)} µs (bar ≤ 40: ${agent <= 40 ? 'met' : 'not met'})`);
    }
  }
  printTable(
    `Durable status updates (executor update() → ACKNOWLEDGED), window ${flags.window}, median of ${flags.rounds} round(s) of ${flags.seconds} s`,
    ['executors', 'agent', 'updates/s', 'range', 'p50 ms', 'p99 ms', 'updates', 'drain ms'],
    rows,
  );
  printTable(
    'CPU µs per acknowledged update during the rounds, median of rounds (node-wide: agent + executors; master and framework: the part of\n' +
      'forwarding that overlapped the round; through drain: the agent and master from the round\'s start until the framework had acknowledged\n' +
      'every update of it), voluntary context switches per update, and the most CPU time the hypervisor stole in a round',
    ['executors', 'agent', 'node-wide', 'in agent', 'in executors', 'in master', 'in framework', 'agent through drain', 'master through drain', 'agent wake-ups', 'executor wake-ups', 'steal'],
    cpuRows,
  );
  process.stdout.write('\n');
  for (const line of cpuBars) process.stdout.write(`CPU bars (DESIGN §10), group commit, ${line}\n`);
  for (const bar of bars) printBar(bar);
  return 0;
}

runScript(main);
