// The agent kill storm (issue 4, point 1; docs/reliability.md): a real master, a real agent and a
// workload of command tasks and custom executors that each report a numbered sequence of updates,
// while the agent is `kill -9`ed at seeded random moments (some of them on purpose while it is
// still recovering: on the line it logs once it has read its checkpoint) and restarted, and executors are sometimes `kill -9`ed while the agent is down. At the end it
// checks that no acknowledged update was lost, no task saw a gap or a reordering, no task was
// misreported, no process was left behind and the completed runs were garbage-collected.
//
//   node dist/scripts/faults/kill-storm.js --seed=42 --rounds=200
//
// `run(options)` is what the entry point scripts/faults/kill-storm.ts and test/faults/kill-storm.test.ts
// (a short seeded storm in the suite) run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRecordLog, type LogRecord } from '../../src/checkpoint/index.js';
import { readProcStat } from '../../src/process/index.js';
import { isTerminal, type NewTaskInfo, type RoutedTaskStatus } from '../../src/scheduler/index.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';
import { killHard, processesUnder, Scenario, tail, type Framework } from '../scenario.js';
import { Random } from '../lib/random.js';
import { printTable } from '../lib/report.js';

const EXECUTOR_MODULE = fileURLToPath(new URL('../../src/executor/index.js', import.meta.url));

/** The agent's flags for the storm: short timeouts, and a short gc_delay so completed runs go away. */
export const STORM_AGENT_FLAGS: readonly string[] = [
  '--executor_reregistration_timeout=5secs',
  '--recovery_timeout=2mins',
  '--status_update_retry_interval_min=100ms',
  '--status_update_retry_interval_max=1secs',
  '--executor_shutdown_grace_period=1secs',
  '--registration_backoff_factor=100ms',
  '--executor_heartbeat_interval=1secs',
  '--gc_delay=2secs',
  '--resources=cpus:8;mem:8192;disk:10000',
];
const GC_DELAY_MS = 2_000;
/**
 * What an agent logs once it has read its checkpoint (or found none): from then on it is
 * recovering (ending dead runs, waiting for executors, re-registering) and not yet RUNNING.
 */
export const RECOVERY_LINE = /"msg":"(checkpoint recovered|nothing to recover: registering as a new agent)"/;
const RUNNING_LINE = /"to":"RUNNING"/;
/** How long an armed kill waits for the recovery line before killing anyway (a very slow start). */
const RECOVERY_LINE_TIMEOUT_MS = 60_000;

export interface StormOptions {
  seed: number;
  /** How many times the agent is killed. */
  rounds: number;
  /** Tasks kept running at once. */
  concurrency?: number;
  /** Where the logs of a failing storm are written (default: /tmp). */
  logDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface StormFigures {
  seed: number;
  agentKills: number;
  killsWhileRecovering: number;
  /** Of those, the kills triggered by the agent's recovery line (on purpose, not by chance). */
  killsOnRecoveryLine: number;
  executorsKilled: number;
  tasks: number;
  commandTasks: number;
  customTasks: number;
  updatesSeen: number;
  duplicates: number;
  /** ACK records in the executors' outboxes (each an update the agent acknowledged). */
  ackedUpdates: number;
  /** Sequence numbers the custom executors logged as acknowledged (update() resolved). */
  ackedSeqs: number;
  ackedLost: number;
  sequenceViolations: number;
  misreported: number;
  notTerminal: number;
  /** Tasks that ended by the storm's own kills or the agent (a state with a reason, not the task's own). */
  endedByFaults: number;
  processesLeft: number;
  runsLeft: number;
  wallSeconds: number;
}

export interface StormResult {
  figures: StormFigures;
  /** Every violated check, one line each (empty: all passed). */
  violations: string[];
  /** How the tasks ended, "STATE/REASON" → count. */
  endings: Map<string, number>;
}

interface PlannedTask {
  taskId: string;
  kind: 'command' | 'custom';
  executorId: string;
  /** command: the exit code; custom: 0 → TASK_FINISHED, otherwise TASK_FAILED. */
  exitCode: number;
  /** custom: how many TASK_RUNNING updates (seq 1..k) precede the terminal one (seq k+1). */
  k: number;
  launchedAt: number;
}

/** The task's own witness files (outside the work dir, so gc cannot remove them). */
interface Witness {
  started: boolean;
  /** command: the code it exited with; custom: it reached its terminal update. */
  ended: number | undefined;
  /** custom: the seqs whose update() resolved (acknowledged by the agent). */
  acked: Set<number>;
}

// A custom executor: one task per executor. For seq 1..k it sends TASK_RUNNING "seq N" (pipelined,
// not waiting for each acknowledgement), then the planned terminal update "seq k+1". Every update
// whose update() resolved (the agent acknowledged it) is logged, synchronously, to the task's
// witness file: a line "ack N".
const CUSTOM_EXECUTOR = `
import fs from 'node:fs';
import { ExecutorDriver } from ${JSON.stringify(EXECUTOR_MODULE)};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const encode = (text) => new TextEncoder().encode(text);
let running = 0;
let shutdown = false;
const driver = new ExecutorDriver({
  onLaunch(task) {
    running++;
    runTask(task).catch((error) => console.error('storm executor:', error.message)).finally(() => {
      if (--running === 0) void driver.stop();
    });
  },
  onShutdown() {
    shutdown = true;
    if (running === 0) void driver.stop().then(() => process.exit(0));
  },
  onError(error) { console.error('storm executor:', error.code, error.message); },
});
async function runTask(task) {
  const plan = JSON.parse(new TextDecoder().decode(task.data));
  const witness = (line) => fs.appendFileSync(plan.witness, line + '\\n');
  witness('started ' + process.pid);
  const acks = [];
  for (let seq = 1; seq <= plan.k; seq++) {
    if (shutdown) {
      await driver.update({ taskId: task.taskId, state: 'TASK_KILLED', message: 'shut down at seq ' + seq });
      return;
    }
    acks.push(driver.update({ taskId: task.taskId, state: 'TASK_RUNNING', message: 'seq ' + seq, data: encode(String(seq)) }).then(() => witness('ack ' + seq)));
    await sleep(plan.intervalMs);
  }
  const state = plan.exitCode === 0 ? 'TASK_FINISHED' : 'TASK_FAILED';
  witness('ended ' + plan.exitCode);
  acks.push(driver.update({ taskId: task.taskId, state, message: 'seq ' + (plan.k + 1) + ' planned exit ' + plan.exitCode, data: encode(String(plan.k + 1)) }).then(() => witness('ack ' + (plan.k + 1))));
  await Promise.all(acks);
}
await driver.start();
`;

class Storm {
  readonly rng: Random;
  readonly options: Required<Omit<StormOptions, 'log' | 'logDir'>> & Pick<StormOptions, 'log' | 'logDir'>;
  readonly dir: string;
  readonly violations: string[] = [];
  readonly tasks = new Map<string, PlannedTask>();
  /** Executor IDs the storm killed (kill -9) while the agent was down. */
  readonly killedExecutors = new Set<string>();
  /** Latest copy of each run's outbox (containerId → bytes), taken before the gc removes it. */
  readonly outboxes = new Map<string, { executorId: string; bytes: Buffer }>();
  s!: Scenario;
  framework!: Framework;
  agentKills = 0;
  killsWhileRecovering = 0;
  /** Kills that the agent's recovery line triggered (each one while recovering by construction). */
  killsOnRecoveryLine = 0;
  /** Set by an armed startAgent(): settles when the watcher killed the agent on its recovery line. */
  #armed: Promise<{ recovering: boolean } | undefined> | undefined;
  #launching = true;
  #nextTask = 1;
  #poller: NodeJS.Timeout | undefined;

  constructor(options: StormOptions) {
    this.rng = new Random(options.seed);
    this.options = { concurrency: 12, ...options };
    this.dir = fs.realpathSync(tempDir('ll-storm-'));
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  get executorScript(): string {
    const file = path.join(this.dir, 'storm-executor.mjs');
    if (!fs.existsSync(file)) fs.writeFileSync(file, CUSTOM_EXECUTOR);
    return file;
  }

  witnessPath(taskId: string): string {
    return path.join(this.dir, `${taskId}.witness`);
  }

  /** A new task, planned with the seeded generator. */
  plan(): { planned: PlannedTask; info: NewTaskInfo } {
    const taskId = `t${this.#nextTask++}`;
    const kind = this.rng.chance(0.5) ? 'command' : 'custom';
    const exitCode = this.rng.chance(0.6) ? 0 : this.rng.pick([1, 3, 7, 42]);
    const witness = this.witnessPath(taskId);
    if (kind === 'command') {
      const sleepMs = this.rng.int(100, 2_500);
      const planned: PlannedTask = { taskId, kind, executorId: taskId, exitCode, k: 0, launchedAt: Date.now() };
      const command = `echo started >> ${witness}; sleep ${(sleepMs / 1000).toFixed(3)}; echo ended ${exitCode} >> ${witness}; exit ${exitCode}`;
      return { planned, info: { taskId, name: taskId, resources: { cpus: 0.1, mem: 32 }, command: { value: command } } };
    }
    const k = this.rng.int(2, 12);
    const intervalMs = this.rng.int(20, 300);
    const executorId = `ex-${taskId}`;
    const planned: PlannedTask = { taskId, kind, executorId, exitCode, k, launchedAt: Date.now() };
    const data = new TextEncoder().encode(JSON.stringify({ k, intervalMs, exitCode, witness }));
    return {
      planned,
      info: {
        taskId,
        name: taskId,
        resources: { cpus: 0.1, mem: 32 },
        executor: { executorId, frameworkId: this.framework.frameworkId, command: { value: `${process.execPath} ${this.executorScript}` } },
        data,
      },
    };
  }

  inFlight(): number {
    let count = 0;
    for (const taskId of this.tasks.keys()) if (!this.terminal(taskId)) count++;
    return count;
  }

  terminal(taskId: string): RoutedTaskStatus | undefined {
    return this.framework.updates.find((s) => s.taskId === taskId && isTerminal(s.state));
  }

  /** Keeps `concurrency` tasks going until told to stop. */
  async launchLoop(): Promise<void> {
    while (this.#launching) {
      const room = this.options.concurrency - this.inFlight();
      if (room <= 0) {
        await delay(50);
        continue;
      }
      const batch = Array.from({ length: Math.min(room, this.rng.int(1, 3)) }, () => this.plan());
      try {
        await this.framework.launch(batch.map((b) => b.info), 2_000);
        for (const { planned } of batch) this.tasks.set(planned.taskId, { ...planned, launchedAt: Date.now() });
      } catch {
        // No offer in time (the agent is down): these tasks were never launched; plan others.
      }
    }
  }

  /** Every run directory under sandboxes/ (containerId → its path and executor ID). */
  sandboxRuns(): Map<string, { executorId: string; dir: string }> {
    const found = new Map<string, { executorId: string; dir: string }>();
    const root = path.join(this.s.workDir, 'sandboxes');
    for (const agentId of safeReaddir(root)) {
      const frameworks = path.join(root, agentId, 'frameworks');
      for (const frameworkId of safeReaddir(frameworks)) {
        const executors = path.join(frameworks, frameworkId, 'executors');
        for (const executorId of safeReaddir(executors)) {
          const runs = path.join(executors, executorId, 'runs');
          for (const containerId of safeReaddir(runs)) {
            if (containerId === 'latest') continue;
            found.set(containerId, { executorId, dir: path.join(runs, containerId) });
          }
        }
      }
    }
    return found;
  }

  /** Every run directory under meta/ (completed runs must be gone after the gc). */
  metaRuns(): string[] {
    const found: string[] = [];
    const root = path.join(this.s.workDir, 'meta', 'agents');
    for (const agentId of safeReaddir(root)) {
      if (agentId === 'latest') continue;
      const frameworks = path.join(root, agentId, 'frameworks');
      for (const frameworkId of safeReaddir(frameworks)) {
        const executors = path.join(frameworks, frameworkId, 'executors');
        for (const executorId of safeReaddir(executors)) {
          const runs = path.join(executors, executorId, 'runs');
          for (const containerId of safeReaddir(runs)) if (containerId !== 'latest') found.push(path.join(runs, containerId));
        }
      }
    }
    return found;
  }

  /** Copies every outbox that grew since the last look (the gc removes sandboxes). */
  snapshotOutboxes(): void {
    for (const [containerId, run] of this.sandboxRuns()) {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(path.join(run.dir, '.lifeline', 'outbox.log'));
      } catch {
        continue;
      }
      const previous = this.outboxes.get(containerId);
      if (!previous || bytes.length > previous.bytes.length) this.outboxes.set(containerId, { executorId: run.executorId, bytes });
    }
  }

  stopLaunching(): void {
    this.#launching = false;
  }

  startPolling(): void {
    const tick = () => {
      try {
        this.snapshotOutboxes();
      } catch {
        // a directory went away meanwhile: the next tick sees the rest
      }
      this.#poller = setTimeout(tick, 100);
    };
    tick();
  }

  stopPolling(): void {
    clearTimeout(this.#poller);
  }

  agentRunning(): boolean {
    return RUNNING_LINE.test(this.s.agent?.stderr ?? '');
  }

  /** kill -9 of 1–2 live executors (and sometimes their tasks' groups) while the agent is down. */
  killExecutors(): number {
    this.snapshotOutboxes();
    const live: Array<{ executorId: string; pid: number; tasks: Array<{ pgid: number }> }> = [];
    for (const run of this.sandboxRuns().values()) {
      let shim: { pid: number; startTime: number; tasks: Array<{ pgid: number; startTime: number }> };
      try {
        shim = JSON.parse(fs.readFileSync(path.join(run.dir, '.lifeline', 'shim.json'), 'utf8'));
      } catch {
        continue;
      }
      const stat = readProcStat(shim.pid);
      if (!stat || stat.startTime !== shim.startTime || stat.state === 'Z') continue;
      live.push({ executorId: run.executorId, pid: shim.pid, tasks: shim.tasks });
    }
    if (live.length === 0) return 0;
    let killed = 0;
    for (let n = this.rng.int(1, 2); n > 0 && live.length > 0; n--) {
      const victim = live.splice(this.rng.int(0, live.length - 1), 1)[0]!;
      const withTasks = this.rng.chance(0.5);
      killHard(victim.pid);
      if (withTasks) for (const task of victim.tasks) killHard(task.pgid, { group: true });
      this.killedExecutors.add(victim.executorId);
      this.log(`  kill -9 executor ${victim.executorId} (pid ${victim.pid})${withTasks ? ' and its task group' : ''}`);
      killed++;
    }
    return killed;
  }

  /**
   * Starts an agent. Armed: a watcher on its stderr kills it (SIGKILL, synchronously, in the same
   * tick the line arrives) as soon as it logs RECOVERY_LINE; killArmed() waits for that.
   */
  async startAgent({ armed = false } = {}): Promise<void> {
    const agent = await this.s.startAgent(STORM_AGENT_FLAGS as string[], { waitRunning: false });
    if (!armed) return;
    const stderr = agent.child.stderr!;
    let scanned = 0;
    this.#armed = new Promise((resolve) => {
      const done = (result: { recovering: boolean } | undefined) => {
        stderr.off('data', onData);
        resolve(result);
      };
      // Proc's own listener came first: agent.stderr already holds this chunk. The overlap covers
      // a line split across two chunks.
      const onData = () => {
        const text = agent.stderr;
        const match = RECOVERY_LINE.exec(text.slice(Math.max(0, scanned - 200)));
        scanned = text.length;
        if (!match) return;
        const recovering = !RUNNING_LINE.test(text);
        agent.child.kill('SIGKILL');
        done({ recovering });
      };
      stderr.on('data', onData);
      void agent.exited.then(() => done(undefined));
    });
  }

  /**
   * The armed agent's kill: waits (with a deadline) until the watcher killed it on its recovery
   * line. Resolves true when that kill happened while the agent was recovering. An agent that
   * exited by itself first is a violation; one that never printed the line is killed anyway.
   */
  async killArmed(): Promise<boolean> {
    const agent = this.s.agent!;
    const armed = this.#armed;
    this.#armed = undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), RECOVERY_LINE_TIMEOUT_MS)));
    const result = await Promise.race([armed ?? Promise.resolve(undefined), deadline]).finally(() => clearTimeout(timer));
    const recovering = result !== 'timeout' && result !== undefined ? result.recovering : !this.agentRunning();
    if (result === undefined && agent.exit?.signal !== 'SIGKILL') {
      this.violations.push(`agent exited by itself ${JSON.stringify(agent.exit)} before its recovery line, after kill #${this.agentKills}\n${tail(agent.stderr, 3_000)}`);
    }
    if (result === 'timeout') this.log(`  no recovery line within ${RECOVERY_LINE_TIMEOUT_MS} ms: killing anyway`);
    await this.s.killAgent(agent);
    if (result !== 'timeout' && result !== undefined) this.killsOnRecoveryLine++;
    return recovering;
  }

  /** Waits for the agent to be RUNNING; an agent that exits by itself is a violation (and ends the storm). */
  async waitRunning(timeoutMs = 180_000): Promise<boolean> {
    const agent = this.s.agent!;
    try {
      await this.s.waitAgentRunning(agent, timeoutMs);
      return true;
    } catch (error) {
      const how = agent.exit ? `exited by itself ${JSON.stringify(agent.exit)}` : `not RUNNING within ${timeoutMs} ms`;
      this.violations.push(`agent ${how} after kill #${this.agentKills}: ${(error as Error).message.split('\n')[0]}\n${tail(agent.stderr, 3_000)}`);
      return false;
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readWitness(file: string): Witness {
  const witness: Witness = { started: false, ended: undefined, acked: new Set() };
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return witness;
  }
  for (const line of text.split('\n')) {
    const [word, value] = line.split(' ');
    if (word === 'started') witness.started = true;
    else if (word === 'ended') witness.ended = Number(value);
    else if (word === 'ack') witness.acked.add(Number(value));
  }
  return witness;
}

/** The sequence number an update carries: custom executors "seq N"; command shims STARTING 1, RUNNING 2, their terminal 3. */
function seqOf(task: PlannedTask, status: RoutedTaskStatus): number | undefined {
  if (status.source !== 'SOURCE_EXECUTOR') return undefined;
  if (task.kind === 'custom') {
    const match = /^seq (\d+)/.exec(status.message ?? '');
    return match ? Number(match[1]) : undefined;
  }
  if (status.state === 'TASK_STARTING') return 1;
  if (status.state === 'TASK_RUNNING') return 2;
  return isTerminal(status.state) ? 3 : undefined;
}

const describe = (s: RoutedTaskStatus) => `${s.state}${s.reason ? `/${s.reason}` : ''}(${s.source ?? '?'})${s.message ? ` "${s.message}"` : ''}`;

/** Runs a storm; resolves with its figures and the violations found (it never throws for a violation). */
export async function run(options: StormOptions): Promise<StormResult> {
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new TypeError(`kill-storm: rounds must be a positive integer, got ${options.rounds}`);
  const started = Date.now();
  const storm = new Storm(options);
  process.env.LIFELINE_LOG_LEVEL ??= 'info';
  // A recovery slowed down by a loaded machine must not turn into the master removing the agent
  // (that is a different failure, with its own scenario): the master waits long for it.
  const s = (storm.s = await Scenario.start({ masterFlags: ['--agent_reregister_timeout=10mins'] }));
  const endings = new Map<string, number>();
  let executorsKilled = 0;
  try {
    await storm.startAgent();
    if (!(await storm.waitRunning())) throw new Error('the first agent did not start');
    storm.framework = await s.framework({ name: 'kill-storm', checkpoint: true });
    storm.startPolling();
    const launching = storm.launchLoop();

    // Armed rounds kill the agent on its recovery line (the agent for round n is started, and so
    // armed, at the end of round n-1; the first agent must come up, so round 1 is never armed).
    let armed = false;
    for (let round = 1; round <= options.rounds; round++) {
      // Rounds 2 and 3 always bring the rarer faults, so that even a short storm has each kind.
      const whileRecovering = !armed && storm.rng.chance(0.1);
      let recovering = false;
      if (armed) {
        recovering = await storm.killArmed();
      } else if (whileRecovering) {
        // A seeded random moment (early in the agent's life, often still recovering).
        await delay(storm.rng.int(20, 500));
      } else {
        if (!(await storm.waitRunning())) break;
        // On a loaded machine executors start slowly: let the workload move (a few updates reach
        // the framework) before the next kill, or the storm would only ever kill idle agents.
        const seen = storm.framework.updates.length;
        const progress = storm.rng.int(1, 8);
        await waitFor(() => storm.framework.updates.length >= seen + progress, { timeoutMs: 10_000 }).catch(() => {});
        await delay(storm.rng.int(0, 1_000));
      }
      if (!armed) {
        recovering = !storm.agentRunning();
        await s.killAgent();
      }
      storm.agentKills++;
      if (recovering) storm.killsWhileRecovering++;
      const killExecutors = storm.rng.chance(0.3) || round === 3;
      const killed = killExecutors ? storm.killExecutors() : 0;
      executorsKilled += killed;
      storm.log(`kill #${round}${armed ? ' (on its recovery line)' : recovering ? ' (while recovering)' : ''}: ${storm.inFlight()} tasks in flight, ${storm.tasks.size} launched${killed ? `, ${killed} executor(s) killed` : ''}`);
      await delay(storm.rng.int(0, 300));
      armed = round < options.rounds && (round === 1 || storm.rng.chance(0.15));
      await storm.startAgent({ armed });
    }

    // Drain: no more launches, the agent stays up, every task must end.
    storm.stopLaunching();
    await launching;
    const running = storm.violations.length === 0 && (await storm.waitRunning());
    if (running) {
      await waitFor(() => storm.inFlight() === 0, { timeoutMs: 120_000, message: 'every task terminal' }).catch(() => {});
    }
    // Every executor and task process ends on its own once its terminal update is acknowledged.
    await waitFor(() => processesUnder(s.workDir).length === 0, { timeoutMs: 30_000 }).catch(() => {});
    // The last outboxes are copied before the gc (GC_DELAY_MS after completion) removes them.
    storm.snapshotOutboxes();
    if (running) {
      await waitFor(() => storm.sandboxRuns().size === 0 && storm.metaRuns().length === 0, { timeoutMs: GC_DELAY_MS + 30_000 }).catch(() => {});
    }
    storm.stopPolling();
    const figures = await check(storm, endings, executorsKilled, running);
    figures.wallSeconds = Math.round((Date.now() - started) / 100) / 10;
    if (storm.violations.length > 0) {
      // The whole story, for whoever repeats the seed: every agent's log and every executor's stderr.
      const file = path.join(options.logDir ?? '/tmp', `kill-storm-${options.seed}.log`);
      fs.writeFileSync(file, `${storm.framework.updates.map((u) => `${u.taskId} ${u.uuid} ${describe(u)}`).join('\n')}\n${s.logs(Number.MAX_SAFE_INTEGER)}`);
      storm.violations.push(`the framework's updates, every agent's log and every executor's stderr are in ${file}`);
    }
    return { figures, violations: storm.violations, endings };
  } finally {
    storm.stopLaunching();
    storm.stopPolling();
    await s.cleanup();
    removeDir(storm.dir);
  }
}

// The checks (docs/reliability.md): everything is read back from what the framework saw, the
// witness files the tasks wrote, and the outboxes copied during the run.
async function check(storm: Storm, endings: Map<string, number>, executorsKilled: number, running: boolean): Promise<StormFigures> {
  const { violations, framework } = storm;
  const updates = framework.updates;
  const figures: StormFigures = {
    seed: storm.options.seed,
    agentKills: storm.agentKills,
    killsWhileRecovering: storm.killsWhileRecovering,
    killsOnRecoveryLine: storm.killsOnRecoveryLine,
    executorsKilled,
    tasks: storm.tasks.size,
    commandTasks: 0,
    customTasks: 0,
    updatesSeen: updates.length,
    duplicates: 0,
    ackedUpdates: 0,
    ackedSeqs: 0,
    ackedLost: 0,
    sequenceViolations: 0,
    misreported: 0,
    notTerminal: 0,
    endedByFaults: 0,
    processesLeft: 0,
    runsLeft: 0,
    wallSeconds: 0,
  };
  const seenUuids = new Set(updates.map((u) => u.uuid));

  // 1. Acknowledged to an executor (an ACK record in its outbox, or update() resolved in a custom
  // executor) but never seen by the framework.
  const outboxTerminal = new Map<string, string>(); // executorId → terminal state recorded in its outbox
  for (const [containerId, { executorId, bytes }] of storm.outboxes) {
    const file = path.join(storm.dir, `outbox-${containerId}.log`);
    fs.writeFileSync(file, bytes);
    let records: LogRecord[];
    try {
      records = (await readRecordLog(file, { strict: false })).records;
    } catch (error) {
      violations.push(`the outbox of executor ${executorId} (container ${containerId}) cannot be read: ${(error as Error).message}`);
      continue;
    }
    const statuses = new Map<string, string>();
    for (const record of records) {
      if (record.kind === 'UPDATE') {
        statuses.set(record.status.uuid, `${record.status.taskId} ${record.status.state} "${record.status.message ?? ''}"`);
        if (isTerminal(record.status.state) && !outboxTerminal.has(executorId)) outboxTerminal.set(executorId, record.status.state);
      } else {
        figures.ackedUpdates++;
        if (!seenUuids.has(record.uuid)) {
          figures.ackedLost++;
          violations.push(`update ${record.uuid} (${statuses.get(record.uuid) ?? 'not in the outbox'}) was acknowledged to executor ${executorId} but never reached the framework`);
        }
      }
    }
  }

  for (const task of storm.tasks.values()) {
    if (task.kind === 'command') figures.commandTasks++;
    else figures.customTasks++;
    const seen = updates.filter((u) => u.taskId === task.taskId);
    const story = seen.map(describe).join(', ') || 'nothing';
    const witness = readWitness(storm.witnessPath(task.taskId));

    // 2. Sequences: each new uuid carries the next number; a uuid seen again is a duplicate.
    const uuids = new Set<string>();
    let last = 0;
    for (const status of seen) {
      // A reconciliation answer has no uuid: it is not an update of the task's stream.
      if (status.uuid === undefined) continue;
      if (uuids.has(status.uuid)) {
        figures.duplicates++;
        continue;
      }
      uuids.add(status.uuid);
      const seq = seqOf(task, status);
      if (seq === undefined) continue;
      if (seq !== last + 1) {
        figures.sequenceViolations++;
        violations.push(`task ${task.taskId}: ${seq <= last ? 'reordered' : 'gap'}: seq ${seq} after seq ${last} (${story})`);
      }
      last = Math.max(last, seq);
    }
    // The custom executor's own record of what the agent acknowledged.
    for (const seq of witness.acked) {
      figures.ackedSeqs++;
      if (!seen.some((s) => seqOf(task, s) === seq)) {
        figures.ackedLost++;
        violations.push(`task ${task.taskId}: seq ${seq} was acknowledged to its executor but never reached the framework (${story})`);
      }
    }

    // 3. Terminal state against what really happened.
    const terminals = new Map<string, RoutedTaskStatus>();
    for (const status of seen) if (isTerminal(status.state)) terminals.set(status.uuid ?? `${status.state}/${status.reason}`, status);
    const first = [...terminals.values()][0];
    if (!first) {
      figures.notTerminal++;
      violations.push(`task ${task.taskId} (${task.kind}) never reached a terminal state (${story})`);
      continue;
    }
    const key = `${first.state}${first.reason ? `/${first.reason}` : ''}`;
    endings.set(key, (endings.get(key) ?? 0) + 1);
    if (new Set([...terminals.values()].map((t) => t.state)).size > 1) {
      figures.misreported++;
      violations.push(`task ${task.taskId}: conflicting terminal states (${story})`);
    }
    const killedByStorm = storm.killedExecutors.has(task.executorId);
    const real = task.exitCode === 0 ? 'TASK_FINISHED' : 'TASK_FAILED';
    const truthful = first.state === real && first.source === 'SOURCE_EXECUTOR' && (task.kind === 'custom' || real === 'TASK_FINISHED' || (first.message ?? '').includes(`status ${task.exitCode}`));
    const faultEnding = (first.state === 'TASK_FAILED' || first.state === 'TASK_LOST' || first.state === 'TASK_DROPPED') && first.reason !== undefined;
    let problem: string | undefined;
    if (witness.ended !== undefined) {
      // The task really ended with its planned outcome: that is what must be reported, unless the
      // storm killed its executor while the agent was down before the outbox had it.
      if (!truthful) {
        if (killedByStorm && !outboxTerminal.has(task.executorId) && faultEnding) figures.endedByFaults++;
        else problem = `exited ${witness.ended} but was reported ${describe(first)}${killedByStorm ? ` (its executor was killed; its outbox had ${outboxTerminal.get(task.executorId) ?? 'no terminal status'})` : ''}`;
      }
    } else if (first.state === 'TASK_FINISHED') {
      problem = 'was reported TASK_FINISHED but never finished';
    } else if (!faultEnding) {
      problem = `did not end by itself and was reported ${describe(first)}, not a failure or loss with a reason`;
    } else {
      figures.endedByFaults++;
      // Only a killed executor, an executor the agent gave up on, or a task that never started
      // explain a task that did not end by itself.
      const explained =
        killedByStorm ||
        first.reason === 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT' ||
        (!witness.started && ['REASON_AGENT_RESTARTED', 'REASON_RECONCILIATION', 'REASON_INVALID_OFFERS', 'REASON_EXECUTOR_TERMINATED'].includes(first.reason!));
      if (!explained) problem = `was reported ${describe(first)} though nothing killed it (started: ${witness.started})`;
    }
    if (problem) {
      figures.misreported++;
      violations.push(`task ${task.taskId} (${task.kind}, planned exit ${task.exitCode}) ${problem}; saw: ${story}`);
    }
  }

  // 4. Processes and completed runs left behind.
  const left = processesUnder(storm.s.workDir);
  figures.processesLeft = left.length;
  for (const p of left) violations.push(`process left running: pid ${p.pid} (${p.state}) ${p.cmd} in ${p.cwd}`);
  if (running) {
    const sandboxes = [...storm.sandboxRuns().values()].map((r) => r.dir);
    const metas = storm.metaRuns();
    figures.runsLeft = sandboxes.length + metas.length;
    for (const dir of [...sandboxes, ...metas]) violations.push(`completed run not garbage-collected: ${path.relative(storm.s.workDir, dir)}`);
  }
  return figures;
}

export function printReport({ figures: f, violations, endings }: StormResult): void {
  printTable(`agent kill storm, seed ${f.seed}`, ['figure', 'value', 'must be'], [
    ['agent kills survived (kill -9)', f.agentKills, ''],
    ['  of which while recovering', f.killsWhileRecovering, ''],
    ['    of which on its recovery line', f.killsOnRecoveryLine, ''],
    ['executors killed while the agent was down', f.executorsKilled, ''],
    ['tasks (command / custom executor)', `${f.tasks} (${f.commandTasks} / ${f.customTasks})`, ''],
    ['updates seen by the framework', f.updatesSeen, ''],
    ['  duplicates (same uuid again)', f.duplicates, 'allowed'],
    ['updates acknowledged to executors (outbox ACKs)', f.ackedUpdates, ''],
    ['  and acked seqs logged by custom executors', f.ackedSeqs, ''],
    ['acknowledged but never reached the framework', f.ackedLost, '0'],
    ['sequence gaps or reorderings', f.sequenceViolations, '0'],
    ['tasks misreported', f.misreported, '0'],
    ['tasks with no terminal state', f.notTerminal, '0'],
    ['tasks ended by a fault (killed executor, agent)', f.endedByFaults, ''],
    ['processes left after every task ended', f.processesLeft, '0'],
    ['completed runs left after --gc_delay', f.runsLeft, '0'],
    ['wall time (s)', f.wallSeconds, ''],
  ]);
  printTable('terminal states', ['state/reason', 'tasks'], [...endings].sort((a, b) => b[1] - a[1]));
  if (violations.length > 0) {
    process.stdout.write(`\n${violations.length} violation(s):\n${violations.map((v) => `- ${v}`).join('\n')}\n`);
  } else {
    process.stdout.write('\nevery check passed\n');
  }
}
