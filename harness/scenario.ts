// The recovery scenarios' stage: a real master and a real agent (the built CLI) on a temp work dir,
// frameworks as SchedulerDrivers in the test process that record every update they see, and a net
// that finds and kills every process whose working directory is inside the work dir (executors
// and their tasks run in their sandboxes), so that a failing test leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchedulerDriver, isTerminal, type NewTaskInfo, type Offer, type RoutedTaskStatus, type TaskState } from '../src/scheduler/index.js';
import { readProcStat } from '../src/process/index.js';
import { readRecordLog, type LogRecord } from '../src/checkpoint/index.js';
import { CLI, freePort, getJson, isAlive, Proc, removeDir, tempDir, waitFor } from './helpers.js';
import { startMaster } from './cluster.js';

/** Short timeouts: every scenario stays well under 20 s. */
export const AGENT_FLAGS: readonly string[] = [
  '--executor_reregistration_timeout=1secs',
  '--recovery_timeout=4secs',
  '--status_update_retry_interval_min=100ms',
  '--status_update_retry_interval_max=1secs',
  '--executor_shutdown_grace_period=1secs',
  '--registration_backoff_factor=100ms',
  '--resources=cpus:4;mem:4096;disk:10000',
];
export const MASTER_FLAGS: readonly string[] = ['--agent_reregister_timeout=30secs', '--allocation_interval=200ms'];

const EXECUTOR_MODULE = fileURLToPath(new URL('../src/executor/index.js', import.meta.url));

export interface ScenarioOptions {
  /** The CLI the master runs from (an old release's fixture, for upgrade tests). Default: this build's. */
  masterCli?: string;
  masterFlags?: string[];
  agentFlags?: string[];
}

export interface AgentState {
  id: string;
  status: string;
  frameworks: Array<{ id: string; checkpoint: boolean; executors: Array<{ id: string; containerId: string; pid: number | null; state: string; tasks: Array<{ id: string; state: string }> }> }>;
}

export interface MasterState {
  agents: Array<{ id: string; status: string }>;
  frameworks: Array<{ id: string; tasks: Array<{ id: string; state: string; agentId: string }> }>;
  completedFrameworks: Array<{ id: string }>;
}

export interface ProcInfo {
  pid: number;
  pgid: number;
  state: string;
  cmd: string;
  cwd: string;
}

/** Live (not zombie) processes whose working directory is `dir` or inside it. */
export function processesUnder(dir: string): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    let cwd: string;
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue; // gone, or a zombie (no cwd)
    }
    if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
    const stat = readProcStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') continue;
    let cmd = stat.comm;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() || cmd;
    } catch {
      // gone meanwhile
    }
    found.push({ pid, pgid: stat.pgid, state: stat.state, cmd, cwd });
  }
  return found;
}

/** SIGKILL to a process group (or a process), ignoring "no such process"; never pgid <= 1. */
export function killHard(pid: number, { group = false } = {}): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A command task that runs until the file `release` appears in its sandbox, then exits 0. */
export function waitingTask(taskId: string): NewTaskInfo {
  return {
    taskId,
    name: taskId,
    resources: { cpus: 0.1, mem: 32 },
    command: { value: 'while [ ! -e release ]; do sleep 0.05; done; echo released' },
  };
}

/** A task under the scenario's custom executor (ExecutorDriver); it finishes when `release-<taskId>` appears. */
export function customTask(taskId: string, executorId: string, executorScript: string, frameworkId: string): NewTaskInfo {
  return {
    taskId,
    name: taskId,
    resources: { cpus: 0.1, mem: 32 },
    executor: { executorId, frameworkId, command: { value: `${process.execPath} ${executorScript}` } },
  };
}

// A custom executor written with ExecutorDriver, like examples/custom-executor.mjs but held until
// released: TASK_RUNNING at launch, TASK_FINISHED when `release-<taskId>` appears in its sandbox,
// TASK_KILLED on KILL or SHUTDOWN. It stops once it has no task left.
const CUSTOM_EXECUTOR = `
import fs from 'node:fs';
import { ExecutorDriver } from ${JSON.stringify(EXECUTOR_MODULE)};
const timers = new Map();
const driver = new ExecutorDriver({
  onLaunch(task) {
    timers.set(task.taskId, setInterval(() => {
      if (fs.existsSync('release-' + task.taskId)) void finish(task.taskId, 'TASK_FINISHED');
    }, 50));
    void driver.update({ taskId: task.taskId, state: 'TASK_RUNNING' }).catch(() => {});
  },
  onKill(taskId) { void finish(taskId, 'TASK_KILLED'); },
  onShutdown() { for (const taskId of [...timers.keys()]) void finish(taskId, 'TASK_KILLED'); },
  onError(error) { console.error('custom executor:', error.code, error.message); },
});
async function finish(taskId, state) {
  const timer = timers.get(taskId);
  if (timer === undefined) return;
  clearInterval(timer);
  timers.delete(taskId);
  await driver.update({ taskId, state }).catch((error) => console.error('custom executor: update', error.message));
  if (timers.size === 0) await driver.stop();
}
await driver.start();
`;

/** A framework in the test process: a SchedulerDriver that records every update it sees. */
export class Framework {
  readonly driver: SchedulerDriver;
  /** Every update received, in order (auto-acknowledged by the driver). */
  readonly updates: RoutedTaskStatus[] = [];
  frameworkId = '';
  #offers = new Map<string, Offer>();
  #wanted = 0;

  constructor(master: string, info: { name: string; checkpoint: boolean; failoverTimeoutMs?: number }) {
    this.driver = new SchedulerDriver({
      master,
      frameworkInfo: info,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      onOffers: (offers) => {
        for (const offer of offers) this.#offers.set(offer.id, offer);
        // Held only while a launch waits for one; otherwise given back so other frameworks get them.
        if (this.#wanted === 0) this.#declineAll();
      },
      onRescind: (offerId) => {
        this.#offers.delete(offerId);
      },
      onUpdate: (status) => {
        this.updates.push(status);
      },
      onError: () => {},
    });
  }

  async start(): Promise<this> {
    this.frameworkId = await this.driver.start();
    return this;
  }

  /** Launches the tasks together on one offer (waiting for one big enough). */
  async launch(tasks: NewTaskInfo[], timeoutMs = 10_000): Promise<void> {
    const cpus = tasks.reduce((sum, task) => sum + task.resources.cpus, 0);
    const mem = tasks.reduce((sum, task) => sum + task.resources.mem, 0);
    this.#wanted++;
    try {
      const offer = await waitFor(() => [...this.#offers.values()].find((o) => o.resources.cpus >= cpus - 1e-9 && o.resources.mem >= mem), {
        timeoutMs,
        message: `an offer of cpus ${cpus}, mem ${mem} for framework ${this.frameworkId}`,
      });
      this.#offers.delete(offer.id);
      this.driver.accept([offer.id], tasks);
    } finally {
      this.#wanted--;
    }
    if (this.#wanted === 0) this.#declineAll();
  }

  /** Waits for an update of `taskId` in `state` (and matching `where`), returning it. */
  async waitFor(taskId: string, state: TaskState, { timeoutMs = 10_000, where }: { timeoutMs?: number; where?: (status: RoutedTaskStatus) => boolean } = {}): Promise<RoutedTaskStatus> {
    return waitFor(() => this.updates.find((s) => s.taskId === taskId && s.state === state && (!where || where(s))), {
      timeoutMs,
      message: `${state} for task ${taskId} (framework ${this.frameworkId} saw: ${this.describe(taskId)})`,
    });
  }

  /** Waits for the first terminal update of `taskId`. */
  async waitTerminal(taskId: string, timeoutMs = 10_000): Promise<RoutedTaskStatus> {
    return waitFor(() => this.updates.find((s) => s.taskId === taskId && isTerminal(s.state)), {
      timeoutMs,
      message: `a terminal update for task ${taskId} (framework ${this.frameworkId} saw: ${this.describe(taskId)})`,
    });
  }

  /** The updates of one task. */
  of(taskId: string): RoutedTaskStatus[] {
    return this.updates.filter((s) => s.taskId === taskId);
  }

  /** The distinct terminal updates of a task (by uuid; a resent update arrives more than once). */
  terminals(taskId: string): RoutedTaskStatus[] {
    const seen = new Map<string, RoutedTaskStatus>();
    for (const s of this.of(taskId)) if (isTerminal(s.state)) seen.set(s.uuid ?? `${s.state}/${s.reason}/${s.timestamp}`, s);
    return [...seen.values()];
  }

  describe(taskId: string): string {
    return this.of(taskId).map((s) => `${s.state}${s.reason ? `/${s.reason}` : ''}${s.source ? `(${s.source})` : ''}${s.message ? ` "${s.message}"` : ''}`).join(', ') || 'nothing';
  }

  async stop(): Promise<void> {
    await this.driver.stop();
  }

  #declineAll(): void {
    const ids = [...this.#offers.keys()];
    this.#offers.clear();
    if (ids.length > 0) this.driver.decline(ids, 0.1);
  }
}

/** Where one executor run lives, on disk and as processes. */
export interface RunPaths {
  agentId: string;
  frameworkId: string;
  executorId: string;
  containerId: string;
  sandbox: string;
  /** meta/…/runs/<containerId> (exists only for checkpointing frameworks). */
  meta: string;
}

export interface ShimJson {
  pid: number;
  startTime: number;
  tasks: Array<{ taskId: string; pgid: number; startTime: number }>;
}

export class Scenario {
  master!: Proc;
  masterAddress = '';
  workDir = '';
  agentAddress = '';
  /** The agent started last. */
  agent: Proc | undefined;
  /** Where the custom executor script is (outside the work dir). */
  fixtures = '';
  #agentPort = 0;
  #agentFlags: string[] = [];
  #agents: Proc[] = [];
  #frameworks: Framework[] = [];
  #others: Proc[] = [];
  #groups = new Set<number>();

  static async start(options: ScenarioOptions = {}): Promise<Scenario> {
    const scenario = new Scenario();
    scenario.workDir = fs.realpathSync(tempDir('ll-rec-'));
    scenario.fixtures = fs.realpathSync(tempDir('ll-fix-'));
    scenario.#agentFlags = options.agentFlags ?? [];
    const { master, address } = await startMaster([...MASTER_FLAGS, ...(options.masterFlags ?? [])], options.masterCli);
    scenario.master = master;
    scenario.masterAddress = address;
    scenario.#agentPort = await freePort();
    scenario.agentAddress = `127.0.0.1:${scenario.#agentPort}`;
    return scenario;
  }

  get customExecutor(): string {
    const file = path.join(this.fixtures, 'executor.mjs');
    if (!fs.existsSync(file)) fs.writeFileSync(file, CUSTOM_EXECUTOR);
    return file;
  }

  get runtimeDir(): string {
    return path.join(this.workDir, 'rt');
  }

  /** Starts an agent on the work dir (again); waits until its /state says RUNNING unless told not to. */
  async startAgent(extraFlags: string[] = [], { waitRunning = true, cli = CLI, nodeArgs = [] }: { waitRunning?: boolean; cli?: string; nodeArgs?: string[] } = {}): Promise<Proc> {
    // `cli`: the CLI main.js to run it from (an old release's fixture, for upgrade tests);
    // `nodeArgs`: options for node itself (a bench's --cpu-prof).
    const agent = new Proc(
      process.execPath,
      [
        ...nodeArgs,
        cli,
        'agent',
        `--master=${this.masterAddress}`,
        `--work_dir=${this.workDir}`,
        `--runtime_dir=${this.runtimeDir}`,
        '--ip=127.0.0.1',
        `--port=${this.#agentPort}`,
        ...AGENT_FLAGS,
        ...this.#agentFlags,
        ...extraFlags,
      ],
      { env: { ...process.env, LIFELINE_LOG_LEVEL: process.env.LIFELINE_LOG_LEVEL ?? 'debug' } },
    );
    this.#agents.push(agent);
    this.agent = agent;
    if (waitRunning) await this.waitAgentRunning(agent);
    return agent;
  }

  async waitAgentRunning(agent: Proc = this.agent!, timeoutMs = 15_000): Promise<AgentState> {
    return waitFor(
      async () => {
        if (agent.exit) throw new Error(`the agent exited ${JSON.stringify(agent.exit)}`);
        const state = await this.agentState().catch(() => undefined);
        return state?.status === 'RUNNING' ? state : undefined;
      },
      { timeoutMs, message: `agent RUNNING on ${this.agentAddress}\n--- agent stderr\n${tail(agent.stderr)}` },
    );
  }

  /** kill -9 the agent (SIGCONT is not needed: SIGKILL ends a stopped process too). */
  async killAgent(agent: Proc = this.agent!): Promise<void> {
    if (!agent.exit) agent.child.kill('SIGKILL');
    await agent.waitForExit(5_000);
  }

  async agentState(): Promise<AgentState> {
    const { status, body } = await getJson(`http://${this.agentAddress}/state`);
    if (status !== 200) throw new Error(`agent /state answered ${status}`);
    return body as AgentState;
  }

  async agentMetrics(): Promise<string> {
    const response = await fetch(`http://${this.agentAddress}/metrics`);
    return response.text();
  }

  async masterState(): Promise<MasterState> {
    const { status, body } = await getJson(`http://${this.masterAddress}/state`);
    if (status !== 200) throw new Error(`master /state answered ${status}`);
    return body as MasterState;
  }

  async masterAgentStatus(agentId: string): Promise<string | undefined> {
    return (await this.masterState()).agents.find((a) => a.id === agentId)?.status;
  }

  async waitMasterAgentStatus(agentId: string, status: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => (await this.masterAgentStatus(agentId)) === status, { timeoutMs, message: `agent ${agentId} ${status} in the master` });
  }

  async framework(info: { name?: string; checkpoint?: boolean; failoverTimeoutMs?: number } = {}): Promise<Framework> {
    const framework = new Framework(this.masterAddress, { name: info.name ?? 'recovery-test', checkpoint: info.checkpoint ?? true, ...(info.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: info.failoverTimeoutMs } : {}) });
    this.#frameworks.push(framework);
    return framework.start();
  }

  /** A process of the test's own (e.g. a `sleep` that takes a recorded pid), killed in cleanup. */
  spawn(command: string, args: string[], { detached = false } = {}): Proc {
    const proc = new Proc(command, args, { detached, cwd: this.fixtures });
    this.#others.push(proc);
    return proc;
  }

  /** The run of the executor that runs `taskId`, from the task's latest update. */
  run(framework: Framework, taskId: string): RunPaths {
    const status = framework.of(taskId).at(-1);
    if (!status?.agentId || !status.executorId) throw new Error(`no update with agentId/executorId for task ${taskId}: ${framework.describe(taskId)}`);
    return this.runOf(status.agentId, framework.frameworkId, status.executorId);
  }

  runOf(agentId: string, frameworkId: string, executorId: string): RunPaths {
    const runs = path.join(this.workDir, 'sandboxes', agentId, 'frameworks', frameworkId, 'executors', executorId, 'runs');
    const containers = fs.readdirSync(runs).filter((name) => name !== 'latest');
    if (containers.length !== 1) throw new Error(`expected one run in ${runs}, found ${containers.join(', ') || 'none'}`);
    const containerId = containers[0]!;
    const meta = path.join(this.workDir, 'meta', 'agents', agentId, 'frameworks', frameworkId, 'executors', executorId, 'runs', containerId);
    return { agentId, frameworkId, executorId, containerId, sandbox: path.join(runs, containerId), meta };
  }

  /** The executor's own `.lifeline/shim.json` (written before TASK_RUNNING); its pids are remembered for cleanup. */
  shim(run: RunPaths): ShimJson {
    const shim = JSON.parse(fs.readFileSync(path.join(run.sandbox, '.lifeline', 'shim.json'), 'utf8')) as ShimJson;
    this.#groups.add(shim.pid);
    for (const task of shim.tasks) this.#groups.add(task.pgid);
    return shim;
  }

  /** Waits for shim.json to name the task's process group, and returns it. */
  async shimWithTask(run: RunPaths, taskId: string): Promise<ShimJson> {
    return waitFor(() => {
      const shim = this.shim(run);
      return shim.tasks.some((t) => t.taskId === taskId) ? shim : undefined;
    }, { message: `shim.json of ${run.executorId} naming task ${taskId}` });
  }

  /**
   * Launches a command task that waits for its `release` file (see waitingTask), waits for
   * TASK_RUNNING, and returns its run and the shim.json that names the task's process group.
   */
  async launchRunning(framework: Framework, taskId: string): Promise<{ run: RunPaths; shim: ShimJson }> {
    await framework.launch([waitingTask(taskId)]);
    await framework.waitFor(taskId, 'TASK_RUNNING');
    const run = this.run(framework, taskId);
    return { run, shim: await this.shimWithTask(run, taskId) };
  }

  /** The executor's outbox records (`.lifeline/outbox.log`), read without changing it; [] if absent. */
  async outbox(run: RunPaths): Promise<LogRecord[]> {
    try {
      return (await readRecordLog(path.join(run.sandbox, '.lifeline', 'outbox.log'), { strict: false })).records;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Waits until the executor's outbox holds an update of `taskId` in `state`; returns that record's status. */
  async outboxUpdate(run: RunPaths, taskId: string, state: TaskState): Promise<Extract<LogRecord, { kind: 'UPDATE' }>['status']> {
    return waitFor(async () => {
      for (const record of await this.outbox(run)) {
        if (record.kind === 'UPDATE' && record.status.taskId === taskId && record.status.state === state) return record.status;
      }
      return undefined;
    }, { message: `${state} of ${taskId} in the outbox of ${run.executorId}` });
  }

  /** meta/…/tasks/<taskId>/task.updates of the run. */
  taskUpdatesPath(run: RunPaths, taskId: string): string {
    return path.join(run.meta, 'tasks', taskId, 'task.updates');
  }

  /** Lets a waitingTask finish (a file in its sandbox). */
  release(run: RunPaths, taskId?: string): void {
    fs.writeFileSync(path.join(run.sandbox, taskId === undefined ? 'release' : `release-${taskId}`), '');
  }

  /** The tail of each agent's log (JSON lines on stderr), for failure messages. */
  logs(chars = 5_000): string {
    const agents = this.#agents.map((agent, i) => `--- agent #${i + 1} ${JSON.stringify(agent.exit ?? 'running')} stderr\n${tail(agent.stderr, chars)}`);
    return [...agents, ...this.#executorLogs(1_500)].join('\n');
  }

  /** The tail of every executor's stderr in its sandbox (the shim's own messages end up there). */
  #executorLogs(chars: number): string[] {
    const logs: string[] = [];
    const walk = (dir: string, depth: number): void => {
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        return;
      }
      if (depth === 0) {
        const text = names.includes('stderr') ? fs.readFileSync(path.join(dir, 'stderr'), 'utf8') : '';
        if (text.trim()) logs.push(`--- ${path.relative(this.workDir, dir)}/stderr\n${tail(text, chars)}`);
        return;
      }
      for (const name of names) walk(path.join(dir, name), depth - 1);
    };
    // sandboxes/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>
    walk(path.join(this.workDir, 'sandboxes'), 7);
    return logs;
  }

  processes(): ProcInfo[] {
    return processesUnder(this.workDir);
  }

  /** Waits until no executor or task process is left (zombies count as dead). */
  async expectNoProcesses(timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.processes().length === 0, {
      timeoutMs,
      message: `no process left in ${this.workDir}; left: ${JSON.stringify(this.processes())}`,
    });
  }

  async expectDead(pids: number[], what: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => pids.every((pid) => !isAlive(pid)), { timeoutMs, message: `${what} (pids ${pids.join(', ')}) dead; left: ${JSON.stringify(this.processes())}` });
  }

  /** Kills everything the scenario started: agents, executors and tasks (by group), frameworks, master. */
  async cleanup(): Promise<void> {
    for (const agent of this.#agents) if (!agent.exit) agent.child.kill('SIGKILL');
    for (let round = 0; round < 20; round++) {
      const left = this.processes();
      for (const group of this.#groups) {
        const leader = readProcStat(group);
        // Only a group whose leader is still ours (its cwd is in the work dir) or that is gone.
        if (leader === undefined || left.some((p) => p.pid === group)) killHard(group, { group: true });
      }
      if (left.length === 0) break;
      for (const p of left) {
        if (p.pgid > 1 && p.pgid === p.pid) killHard(p.pgid, { group: true });
        killHard(p.pid);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const proc of this.#others) if (!proc.exit) proc.child.kill('SIGKILL');
    await Promise.all(this.#frameworks.map((f) => f.stop().catch(() => {})));
    await Promise.all([...this.#agents, ...this.#others].map((p) => p.exited));
    await this.master?.stop();
    removeDir(this.workDir);
    removeDir(this.fixtures);
  }
}

export function tail(text: string, chars = 6_000): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

export interface ScenarioContext {
  s?: Scenario;
}

/**
 * A scenario test: starts a fresh master (and the work dir) with `options`, runs `body`, and on
 * failure adds the tail of every agent's log to the error, so a failing scenario explains itself.
 */
export function scenario(options: ScenarioOptions, body: (s: Scenario) => Promise<void>): (ctx: ScenarioContext) => Promise<void> {
  return async (ctx) => {
    const started = Date.now();
    const s = (ctx.s = await Scenario.start(options));
    try {
      await body(s);
    } catch (error) {
      if (error instanceof Error) error.message += `\n${s.logs()}`;
      throw error;
    } finally {
      // LIFELINE_TEST_TIMING=1 prints how long each scenario took (they must stay well under 20 s).
      if (process.env.LIFELINE_TEST_TIMING) process.stderr.write(`scenario took ${Date.now() - started} ms\n`);
    }
  };
}
