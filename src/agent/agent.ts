// The node agent (DESIGN §4, §7): registers with the master, launches executors for the tasks it is
// given, serves them on the executor socket, and delivers every status update to the framework
// through the status update manager. For frameworks that checkpoint it makes its state durable
// (DESIGN §5) before acting on it, so that a restarted agent recovers: start() reads the checkpoint
// while RECOVERING (/state answers 503), finishes the runs whose executor died, listens, gives live
// executors --executor_reregistration_timeout to re-subscribe, and only then re-registers.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { Checkpointer } from '../checkpoint/checkpointer.js';
import { syncDir } from '../checkpoint/atomic-write.js';
import { agentInfoPath, forkedPath, latestAgentPath, runDir, sentinelPath, type RunRef, type TaskRef } from '../checkpoint/layout.js';
import { recoverState } from '../checkpoint/recover.js';
import type { RecoveredExecutor, RecoveredRun, RecoveredState } from '../checkpoint/state.js';
import { bootId as hostBootId, isSameProcess, processIdentity } from '../process/index.js';
import {
  EXECUTOR_PROTOCOL_VERSION,
  IllegalStateError,
  isTerminal,
  type AgentCall,
  type AgentEvent,
  type ExecutorInfo,
  type ExecutorSubscribe,
  type Reason,
  type ReportedTask,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { CheckpointUpdateStore } from './checkpoint-store.js';
import { AgentInfoChangedError, AgentOptionError } from './errors.js';
import { ExecutorEndpoint, type ExecutorConnection, type MessageData } from './executor-endpoint.js';
import { ExecutorRun, type Framework, type FrameworkRecord, type TaskEntry } from './executor-run.js';
import { AgentHttpServer } from './http.js';
import {
  commandExecutorInfo,
  executorEnvironment,
  launchExecutor,
  sandboxPath,
  shellCommand,
  shimCommand,
  type ExecutorExit,
} from './launcher.js';
import { MasterLink, type RegisteredEvent } from './master-link.js';
import { AgentMetrics } from './metrics.js';
import { killExecutorGroup, killTaskGroups, readOutboxStatuses, readShimInfo, runIdentity, runIsAlive, sameAgentInfo, terminateExecutor } from './recovery.js';
import type { AgentResources } from './resources.js';
import { checkSocketPath, defaultRuntimeDir, executorSocketPath, removeStaleSocket } from './socket-path.js';
import { StateMachine } from './state-machine.js';
import { StatusUpdateManager, type ForwardedStatus, type StatusUpdate, type UpdateReceipt, type UpdateStore } from './status-update-manager.js';
import { hashToken, newToken, verifyToken } from './token.js';

export type AgentStatus = 'RECOVERING' | 'DISCONNECTED' | 'RUNNING' | 'TERMINATING';

const TRANSITIONS: Record<AgentStatus, readonly AgentStatus[]> = {
  RECOVERING: ['DISCONNECTED', 'TERMINATING'],
  DISCONNECTED: ['RUNNING', 'TERMINATING'],
  RUNNING: ['DISCONNECTED', 'TERMINATING'],
  TERMINATING: [],
};

export type RecoverMode = 'reconnect' | 'cleanup';

export interface AgentOptions {
  /** `HOST:PORT` of the master. Required. */
  master: string;
  /** Where sandboxes and checkpoints (`meta/`) live. Required. */
  workDir: string;
  /** Where the executor socket lives. Default: `<workDir>/run` (or a short path under the temp dir if that is too long). */
  runtimeDir?: string;
  /** Checkpoint frameworks that ask for it, and recover at start. Default: true. */
  checkpoint?: boolean;
  /** Any recovery error is fatal; false: skip what is corrupt and recover the rest. Default: true. */
  strict?: boolean;
  /** What recovery does with old executors: reconnect to them, or kill them and stop. Default: 'reconnect'. */
  recover?: RecoverMode;
  /** Passed to checkpointing executors as LIFELINE_RECOVERY_TIMEOUT. Default: 15 min. */
  recoveryTimeoutMs?: number;
  /** How long a recovering agent waits for live executors to re-subscribe. Default: 2000. */
  executorReregistrationTimeoutMs?: number;
  /** SHUTDOWN/KILL grace before SIGKILL. Default: 5000. */
  executorShutdownGracePeriodMs?: number;
  /** First (re-)registration retry delay, doubled on each failure. Default: 1000. */
  registrationBackoffFactorMs?: number;
  /** Completed runs' sandboxes and meta directories are removed this long after completion. Default: 1 week. */
  gcDelayMs?: number;
  /** Status update resend backoff. Defaults: 1000 and 60000. */
  statusUpdateRetryIntervalMinMs?: number;
  statusUpdateRetryIntervalMaxMs?: number;
  /** Largest frame accepted on the executor socket. Default: 1 MiB. */
  maxFrameBytes?: number;
  /** HTTP endpoint. Defaults: 5051 and 127.0.0.1 (port 0: any free port). */
  port?: number;
  ip?: string;
  /** What the agent offers. Default: detected by the CLI; required here. */
  resources: AgentResources;
  /** Default: os.hostname(). */
  hostname?: string;
  /** HEARTBEAT period on executor connections. Default: 5000. */
  executorHeartbeatIntervalMs?: number;
  /**
   * Group commit of status update fsyncs. false: every update is appended and fdatasync'd on its
   * own (the benchmark's baseline). Default: true.
   */
  checkpointBatching?: boolean;
  /** Where status updates are recorded. Default: the checkpoint (checkpointing frameworks) or memory. */
  updateStore?: UpdateStore;
  logger?: Logger;
}

interface Config {
  master: string;
  workDir: string;
  runtimeDir: string;
  socketPath: string;
  checkpoint: boolean;
  strict: boolean;
  recover: RecoverMode;
  recoveryTimeoutMs: number;
  executorReregistrationTimeoutMs: number;
  executorShutdownGracePeriodMs: number;
  registrationBackoffFactorMs: number;
  gcDelayMs: number;
  statusUpdateRetryIntervalMinMs: number;
  statusUpdateRetryIntervalMaxMs: number;
  maxFrameBytes: number;
  port: number;
  ip: string;
  resources: AgentResources;
  hostname: string;
  executorHeartbeatIntervalMs: number;
  checkpointBatching: boolean;
}

/** DESIGN §9: the agent's /state, plus how many damaged checkpoint items a non-strict recovery skipped. */
export interface AgentState {
  id: string | null;
  status: AgentStatus;
  recoveryErrors: number;
  frameworks: Array<{
    id: string;
    checkpoint: boolean;
    executors: Array<{ id: string; containerId: string; pid: number | null; state: string; tasks: Array<{ id: string; state: TaskState }> }>;
  }>;
}

/** How the tasks of a run that ends without their own terminal update are reported. */
interface Ending {
  state: TaskState;
  reason: Reason;
  message: string;
}

/** After SHUTDOWN's grace period, how much longer an executor has before its group is SIGKILLed. */
const KILL_MARGIN_MS = 2_000;
/** How long a shutting-down agent waits for its updates to be acknowledged. */
const DRAIN_TIMEOUT_MS = 5_000;
/** How long an executor's connection may stay open after its process exited (frames in flight). */
const CONNECTION_DRAIN_MS = 1_000;
/** How often the processes of recovered executors (not the agent's children) are checked. */
const LIVENESS_INTERVAL_MS = 1_000;
/** Where the updates of an agent that does not checkpoint go: nowhere (they live in the stream until acknowledged). */
const DISCARDING_STORE: UpdateStore = { append: async () => {} };
/** setTimeout's largest delay; longer gc delays are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const streamKey = (frameworkId: string, taskId: string) => `${frameworkId}/${taskId}`;

/** The host's boot id, or undefined without /proc (a reboot cannot be detected then). */
function currentBootId(): string | undefined {
  try {
    return hostBootId();
  } catch {
    return undefined;
  }
}

export class Agent {
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #machine: StateMachine<AgentStatus>;
  readonly #metrics: AgentMetrics;
  readonly #http: AgentHttpServer;
  readonly #endpoint: ExecutorEndpoint;
  readonly #link: MasterLink;
  readonly #updates: StatusUpdateManager;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #frameworks = new Map<string, Framework>();
  readonly #runs = new WeakMap<ExecutorConnection, ExecutorRun>();
  /** Where each checkpointed task stream lives (a promise while its task.json is being written). */
  readonly #taskRefs = new Map<string, TaskRef | Promise<TaskRef | undefined>>();
  readonly #gcTimers = new Map<string, NodeJS.Timeout>();
  /** Endings of the runs recovery found dead (started by #recoverRun, awaited by #recover). */
  readonly #deadAtRecovery: Array<Promise<void>> = [];
  /** The host's boot id, written to meta/boot_id once recovery has dealt with every recorded run. */
  #pendingBootId: string | undefined;
  /** Recovery is adding the recorded frameworks and runs. */
  #loading = false;
  /** Stopped: a late event (the exit of an executor left running) changes nothing any more. */
  #stopped = false;
  #id: string | undefined;
  /** agent.json and meta/agents/latest are durable (set at first registration, or by recovery). */
  #agentCheckpointed: Promise<void> | undefined;
  #recoveryErrors = 0;
  /** While recovering: the live executors not yet re-subscribed, and what ends the wait. */
  #recoveryWait: { pending: Set<ExecutorRun>; done: () => void } | undefined;
  #liveness: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #resolveClosed!: () => void;
  /** Settles when the agent has stopped (after stop(), shutdown(), the master's SHUTDOWN, or --recover=cleanup). */
  readonly closed: Promise<void>;

  constructor(options: AgentOptions) {
    this.#config = validateOptions(options);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'agent' });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#machine = new StateMachine('agent', 'RECOVERING', TRANSITIONS, (from, to) => this.#logger.info({ from, to }, `agent ${to}`));
    this.#metrics = new AgentMetrics({
      registered: () => (this.#link.registered ? 1 : 0),
      executors: () => {
        const counts: Record<string, number> = { LAUNCHING: 0, RECOVERING: 0, RUNNING: 0, TERMINATING: 0, TERMINATED: 0 };
        for (const run of this.#allRuns()) counts[run.state] = (counts[run.state] ?? 0) + 1;
        return counts;
      },
      pendingUpdates: () => this.#updates.pendingCount(),
      executorConnections: () => this.#endpoint.connections.length,
    });
    this.#http = new AgentHttpServer({
      ip: this.#config.ip,
      port: this.#config.port,
      registry: this.#metrics.registry,
      state: () => (this.status === 'RECOVERING' ? { status: this.status } : { status: this.status, body: this.state() }),
      logger: this.#logger,
    });
    this.#endpoint = new ExecutorEndpoint({
      socketPath: this.#config.socketPath,
      maxFrameBytes: this.#config.maxFrameBytes,
      heartbeatIntervalMs: this.#config.executorHeartbeatIntervalMs,
      logger: this.#logger.child({ component: 'executor-endpoint' }),
      onRejected: (code) => this.#metrics.frameErrors.inc({ code }),
      handler: {
        subscribe: (connection, call) => this.#onSubscribe(connection, call),
        update: (connection, status) => this.#onExecutorUpdate(connection, status),
        message: (connection, data) => this.#onExecutorMessage(connection, data),
        closed: (connection) => this.#onExecutorClosed(connection),
      },
    });
    if (this.#config.checkpoint) {
      this.#checkpointer = new Checkpointer({ workDir: this.#config.workDir, batching: this.#config.checkpointBatching });
    }
    const store =
      options.updateStore ??
      (this.#checkpointer
        ? new CheckpointUpdateStore(this.#checkpointer, (frameworkId, taskId) => this.#taskRefs.get(streamKey(frameworkId, taskId)))
        : DISCARDING_STORE);
    this.#updates = new StatusUpdateManager({
      store,
      retryIntervalMinMs: this.#config.statusUpdateRetryIntervalMinMs,
      retryIntervalMaxMs: this.#config.statusUpdateRetryIntervalMaxMs,
      logger: this.#logger.child({ component: 'status-updates' }),
      forward: (update, resend) => this.#forward(update, resend),
      onAcknowledged: (update) => this.#onAcknowledged(update),
    });
    this.#link = new MasterLink({
      master: this.#config.master,
      backoffFactorMs: this.#config.registrationBackoffFactorMs,
      logger: this.#logger.child({ component: 'master-link' }),
      registration: () => this.#registration(),
      onRegistered: (event) => this.#onRegistered(event),
      onEvent: (event) => this.#onMasterEvent(event),
      onDisconnected: () => {
        if (this.#machine.is('RUNNING')) this.#machine.transition('DISCONNECTED');
      },
    });
  }

  /** The ID the master gave this agent (or recovery found); undefined until then. */
  get id(): string | undefined {
    return this.#id;
  }

  get status(): AgentStatus {
    return this.#machine.state;
  }

  get socketPath(): string {
    return this.#config.socketPath;
  }

  get runtimeDir(): string {
    return this.#config.runtimeDir;
  }

  /** Where /state, /metrics and /health answer (once started). */
  get httpAddress(): { ip: string; port: number } | undefined {
    const address = this.#http.address;
    return address && { ip: address.address, port: address.port };
  }

  get metrics(): AgentMetrics {
    return this.#metrics;
  }

  /** How many damaged checkpoint items the (non-strict) recovery skipped. */
  get recoveryErrors(): number {
    return this.#recoveryErrors;
  }

  /** DESIGN §9: the agent's /state. */
  state(): AgentState {
    return {
      id: this.#id ?? null,
      status: this.status,
      recoveryErrors: this.#recoveryErrors,
      frameworks: [...this.#frameworks.values()].map((framework) => ({
        id: framework.info.id,
        checkpoint: framework.info.checkpoint,
        executors: [...framework.executors.values()].map((run) => ({
          id: run.id,
          containerId: run.containerId,
          pid: run.pid ?? null,
          state: run.state,
          tasks: [...run.tasks.values()].map((entry) => ({ id: entry.info.taskId, state: entry.state })),
        })),
      })),
    };
  }

  /**
   * Starts the HTTP endpoint, recovers the checkpoint (DESIGN §7), then listens on the executor
   * socket and, once the live executors are back (or their time is up), starts the master link.
   * Rejects (having closed what it opened) when recovery fails (strict mode: AgentRecoveryError;
   * AgentInfoChangedError) or the socket cannot be used. With `recover: 'cleanup'` it resolves
   * after killing the old executors, and the agent is then closed without having registered.
   */
  start(): Promise<void> {
    if (this.#starting) return Promise.reject(new IllegalStateError('cannot start the agent twice'));
    this.#machine.assert(['RECOVERING'], 'start the agent');
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    let live: ExecutorRun[] = [];
    try {
      await fs.mkdir(this.#config.workDir, { recursive: true });
      const address = await this.#http.listen();
      this.#logger.info({ ip: address.address, port: address.port }, 'HTTP endpoint listening');
      // Another agent on this socket may be using this work dir: recovery must not touch it.
      await removeStaleSocket(this.#config.socketPath);
      if (this.#checkpointer) live = await this.#recover();
      if (this.#config.recover === 'cleanup') {
        await this.#cleanup(live);
        return;
      }
      if (this.#machine.is('TERMINATING')) return; // stopped while recovering
      // The agent is not the parent of recovered executors: it watches them instead.
      this.#liveness = setInterval(() => this.#checkLiveness(), LIVENESS_INTERVAL_MS);
      this.#liveness.unref();
      await this.#endpoint.listen();
    } catch (error) {
      clearInterval(this.#liveness);
      await this.#endpoint.close().catch(() => {});
      await this.#http.close().catch(() => {});
      await this.#checkpointer?.close().catch(() => {});
      if (!this.#machine.is('TERMINATING')) this.#machine.transition('TERMINATING');
      this.#loading = false;
      this.#stopped = true;
      this.#resolveClosed();
      throw error;
    }
    if (this.#machine.is('TERMINATING')) return; // stopped while starting
    await this.#awaitReregistration(live);
    await this.#finishRecovery().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not record the boot id'));
    if (this.#machine.is('TERMINATING')) return;
    this.#machine.transition('DISCONNECTED');
    this.#link.start();
  }

  /**
   * SIGTERM/SIGINT: stops the agent. Executors of frameworks that do not checkpoint are shut down;
   * checkpointed ones are left running for a restarted agent to reconnect to (DESIGN §4).
   */
  stop(): Promise<void> {
    return this.#terminate({ everything: false, forwardUpdates: false, unregister: false, forget: false, reason: 'stop' });
  }

  /**
   * SIGUSR1: shuts the whole agent down: every executor is shut down, their terminal updates are
   * forwarded (bounded wait), then the agent unregisters from the master and removes
   * `meta/agents/latest` (the next agent on this work dir starts afresh).
   */
  shutdown(): Promise<void> {
    return this.#terminate({ everything: true, forwardUpdates: true, unregister: true, forget: true, reason: 'shutdown' });
  }

  // ---- recovery (DESIGN §7) --------------------------------------------------------------------

  /**
   * Reads the checkpoint, applies its repairs, checks the agent's identity and the host's boot,
   * rebuilds frameworks, runs, tasks and update streams, and ends every run whose executor is dead
   * (outbox first, then TASK_FAILED). Returns the runs whose executor is alive.
   */
  async #recover(): Promise<ExecutorRun[]> {
    const checkpointer = this.#checkpointer!;
    const workDir = this.#config.workDir;
    const latestLink = latestAgentPath(workDir);
    // Strict mode: a CheckpointCorruptError whose message names the file, the offset and the two
    // ways out (--strict=false, or removing meta/agents/latest); the CLI prints it and exits 1.
    const state: RecoveredState = await recoverState(workDir, { strict: this.#config.strict });
    // The agent's own checkpoint skipped (non-strict) counts as a recovery error; a damaged file
    // the executor wrote (shim.json, outbox.log) is only noted: it is untrusted in every mode.
    const skipped = state.errors.filter((damage) => damage.source !== 'sandbox');
    for (const damage of state.errors) {
      const level = damage.source === 'sandbox' ? 'warn' : 'error';
      this.#logger[level]({ file: damage.file, offset: damage.offset }, `recovery skipped a damaged ${damage.source === 'sandbox' ? 'executor file' : 'checkpoint'}: ${damage.message}`);
    }
    this.#recoveryErrors = skipped.length;
    if (skipped.length > 0) this.#metrics.recoveryErrors.inc(skipped.length);
    if (state.repairs.length > 0) {
      await checkpointer.applyRepairs(state.repairs);
      for (const repair of state.repairs) this.#logger.info({ file: repair.file, length: repair.length, reason: repair.reason }, 'record log truncated');
    }
    if (state.strayTempFiles.length > 0) {
      await checkpointer.removeStrayTempFiles(state.strayTempFiles);
      this.#logger.info({ files: state.strayTempFiles }, 'stray temp files of interrupted writes removed');
    }
    const bootId = state.hostBootId ?? currentBootId();
    if (state.agentId === undefined || state.agentInfo === undefined) {
      if (state.agentId !== undefined) this.#logger.warn({ agentId: state.agentId }, 'the agent info could not be recovered: registering as a new agent');
      else this.#logger.info('nothing to recover: registering as a new agent');
      if (bootId) await checkpointer.writeBootId(bootId);
      return [];
    }
    const current = { hostname: this.#config.hostname, resources: { ...this.#config.resources } };
    if (!sameAgentInfo(state.agentInfo, current)) {
      const error = new AgentInfoChangedError(agentInfoPath(workDir, { agentId: state.agentId }), state.agentInfo, current, latestLink);
      if (!state.rebooted) throw error;
      this.#logger.warn({ agentId: state.agentId }, `the host rebooted and ${error.message.replace(/^refusing to recover the agent: /, '')}: registering as a new agent`);
      await checkpointer.removeLatestAgent();
      if (bootId) await checkpointer.writeBootId(bootId);
      return [];
    }
    this.#id = state.agentId;
    this.#agentCheckpointed = Promise.resolve();
    const log = this.#logger.child({ agentId: state.agentId });
    if (state.rebooted) log.warn({ recordedBootId: state.recordedBootId, bootId }, 'the host rebooted: no recorded executor survived');
    const live: ExecutorRun[] = [];
    // While runs are being added, a framework whose first runs are done must not be forgotten.
    this.#loading = true;
    for (const recovered of state.frameworks) {
      const framework: Framework = { info: recovered.info, executors: new Map(), terminating: false, archived: new Set(), checkpointed: Promise.resolve() };
      this.#frameworks.set(recovered.id, framework);
      for (const executor of recovered.executors) {
        // The latest run first: it owns the executor ID (and its task streams) in memory.
        const runs = [...executor.runs].sort((a, b) => Number(b.containerId === executor.latest) - Number(a.containerId === executor.latest));
        for (const recoveredRun of runs) {
          const run = await this.#recoverRun(framework, executor, recoveredRun, state.rebooted, recoveredRun.containerId === executor.latest);
          if (run.is('RECOVERING') && run.exit === undefined) live.push(run);
        }
      }
    }
    this.#loading = false;
    log.info({ frameworks: this.#frameworks.size, liveExecutors: live.length, deadExecutors: this.#deadAtRecovery.length, errors: skipped.length }, 'checkpoint recovered');
    // Runs found dead are being ended (outbox statuses first, then TASK_FAILED) while the socket
    // opens for the live ones; #finishRecovery waits for them before the agent registers.
    this.#pendingBootId = bootId;
    return live;
  }

  /** After the dead runs are ended (sentinels written): forget what is done, record this boot. */
  async #finishRecovery(): Promise<void> {
    await Promise.all(this.#deadAtRecovery.splice(0));
    for (const framework of [...this.#frameworks.values()]) this.#maybeForgetFramework(framework);
    const bootId = this.#pendingBootId;
    this.#pendingBootId = undefined;
    if (bootId && this.#checkpointer) await this.#checkpointer.writeBootId(bootId);
  }

  async #recoverRun(framework: Framework, executor: RecoveredExecutor, recovered: RecoveredRun, rebooted: boolean, latest: boolean): Promise<ExecutorRun> {
    const ref: RunRef = { agentId: this.#id!, frameworkId: framework.info.id, executorId: executor.id, containerId: recovered.containerId };
    const identity = rebooted ? undefined : runIdentity(recovered, executor.id);
    const alive = !recovered.completed && runIsAlive(identity, rebooted);
    const run = new ExecutorRun({
      info: executor.info,
      framework,
      containerId: recovered.containerId,
      tokenHash: recovered.tokenHash ?? '',
      sandbox: recovered.sandbox,
      commandTask: executor.generated,
      checkpoint: true,
      ref,
      recovered: { state: recovered.completed ? 'TERMINATED' : 'RECOVERING', ...(identity && { identity }) },
    });
    if (latest && !framework.executors.has(executor.id)) framework.executors.set(executor.id, run);
    else framework.archived.add(run);
    for (const task of recovered.tasks) {
      const entry = run.addTask(task.info);
      entry.launched = true;
      const last = task.updates.at(-1);
      if (last) entry.state = last.state;
      const key = streamKey(framework.info.id, task.id);
      if (this.#taskRefs.has(key)) {
        this.#logger.warn({ frameworkId: framework.info.id, taskId: task.id, containerId: run.containerId }, 'task ID recorded in more than one run: only the latest run\'s stream is recovered');
        continue;
      }
      this.#taskRefs.set(key, { ...ref, taskId: task.id });
      const updates = task.updates.map((status): ForwardedStatus => ({ ...status, source: status.source ?? 'SOURCE_EXECUTOR', agentId: ref.agentId, executorId: executor.id }));
      this.#updates.restore(framework.info.id, task.id, updates, new Set(task.acks));
    }
    const log = this.#logger.child({ frameworkId: framework.info.id, executorId: executor.id, containerId: run.containerId });
    if (rebooted && !recovered.completed) {
      // DESIGN §5: after a reboot the recorded pid names nothing of ours: it is deleted.
      await fs.rm(forkedPath(this.#config.workDir, ref), { force: true });
      await syncDir(runDir(this.#config.workDir, ref)).catch(() => {});
    }
    if (recovered.completed) {
      run.exit = { exitCode: null, signal: null };
      run.completedAt = await fs.stat(sentinelPath(this.#config.workDir, ref)).then((stat) => stat.mtimeMs, () => Date.now());
      // Completed without a terminal update for a task (only damage can do that): it failed.
      for (const entry of run.liveTasks()) {
        this.#agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', `executor ${run.id} had completed`);
      }
      this.#maybeForget(run);
      return run;
    }
    if (alive && latest) {
      log.info({ executorPid: identity!.pid, tasks: run.tasks.size }, 'executor alive: waiting for it to re-subscribe');
      return run;
    }
    if (alive) {
      // Only an executor's latest run can re-subscribe: an older one still running is killed.
      const why = `an older run of executor ${run.id} (pid ${identity!.pid}) was still running: killed`;
      log.warn({ executorPid: identity!.pid }, why);
      this.#deadAtRecovery.push(this.#finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: why }));
      return run;
    }
    const why = rebooted
      ? `executor ${run.id} did not survive the host's reboot`
      : identity
        ? `executor ${run.id} (pid ${identity.pid}) exited while the agent was down`
        : `executor ${run.id} was never recorded as started`;
    log.info({ executorPid: identity?.pid }, why);
    this.#deadAtRecovery.push(this.#finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: why }, { trustPids: !rebooted }));
    return run;
  }

  /**
   * DESIGN §7.4–5: waits until every live executor has re-subscribed, or the re-registration window
   * (from the moment the socket listens) has passed; then kills those not back, and their tasks'
   * process groups, reporting their tasks TASK_LOST/REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
   */
  async #awaitReregistration(live: readonly ExecutorRun[]): Promise<void> {
    const pending = new Set(live.filter((run) => run.is('RECOVERING') && run.exit === undefined));
    if (pending.size === 0) return;
    const timeoutMs = this.#config.executorReregistrationTimeoutMs;
    this.#logger.info({ executors: pending.size, timeoutMs }, 'waiting for live executors to re-subscribe');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#recoveryWait = undefined;
        resolve();
      };
      this.#recoveryWait = { pending, done };
    });
    if (this.#machine.is('TERMINATING')) return;
    const late = [...pending].filter((run) => run.is('RECOVERING') && run.exit === undefined);
    await Promise.all(
      late.map((run) =>
        this.#finishRun(run, {
          state: 'TASK_LOST',
          reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
          message: `executor ${run.id} did not re-subscribe within ${timeoutMs} ms of the agent's restart: killed`,
        }),
      ),
    );
  }

  /** A recovered run is back (re-subscribed) or gone: recovery may not need to wait any longer. */
  #recoveredRunSettled(run: ExecutorRun): void {
    const wait = this.#recoveryWait;
    if (!wait || !wait.pending.delete(run)) return;
    if (wait.pending.size === 0) wait.done();
  }

  /**
   * --recover=cleanup (DESIGN §7.3): every live executor gets SIGTERM (the shim records its tasks'
   * terminal statuses in its outbox), the grace period, then SIGKILL; its leftover task groups are
   * killed and its tasks' terminal updates recorded. Then the agent closes, without registering:
   * meta/agents/latest is kept, so the next start re-registers and forwards those updates.
   */
  async #cleanup(live: readonly ExecutorRun[]): Promise<void> {
    this.#logger.info({ executors: live.length }, '--recover=cleanup: shutting down every live executor');
    await Promise.all(
      live.map(async (run) => {
        const identity = run.identity!;
        run.transition('TERMINATING');
        const signal = await terminateExecutor(identity, this.#graceOf(run) + KILL_MARGIN_MS);
        this.#logger.info({ executorId: run.id, executorPid: identity.pid, signal }, 'executor shut down');
        await this.#finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} was shut down by --recover=cleanup` });
      }),
    );
    await this.#finishRecovery();
    await this.#updates.idle();
    this.#updates.close();
    await this.#checkpointer?.close();
    for (const timer of this.#gcTimers.values()) clearTimeout(timer);
    this.#gcTimers.clear();
    if (!this.#machine.is('TERMINATING')) this.#machine.transition('TERMINATING');
    this.#stopping ??= Promise.resolve();
    this.#stopped = true;
    await this.#http.close();
    this.#logger.info('cleanup done: the agent stops without registering');
    this.#resolveClosed();
  }

  /** Recovered executors are not the agent's children: a dead one is noticed by pid + start time. */
  #checkLiveness(): void {
    for (const run of this.#allRuns(true)) {
      if (!run.recovered || run.exit !== undefined || run.is('TERMINATED')) continue;
      if (run.identity && isSameProcess(run.identity)) continue;
      void this.#finishRun(run, {
        state: 'TASK_FAILED',
        reason: 'REASON_EXECUTOR_TERMINATED',
        message: `executor ${run.id} (pid ${run.pid}) exited (not a child of this agent: its exit status is unknown)`,
      });
    }
  }

  // ---- master ----------------------------------------------------------------------------------

  #registration(): AgentCall {
    const agentInfo = { hostname: this.#config.hostname, resources: { ...this.#config.resources }, checkpoint: this.#config.checkpoint };
    if (this.#id === undefined) {
      this.#metrics.registrations.inc({ type: 'REGISTER' });
      return { type: 'REGISTER', agentInfo };
    }
    const frameworks: FrameworkRecord[] = [];
    const executors: ExecutorInfo[] = [];
    const tasks: ReportedTask[] = [];
    for (const framework of this.#frameworks.values()) {
      frameworks.push(framework.info);
      for (const run of [...framework.executors.values(), ...framework.archived]) {
        if (!run.is('TERMINATED')) executors.push(run.info);
        for (const entry of run.tasks.values()) {
          const head = this.#updates.pending(framework.info.id, entry.info.taskId)[0];
          tasks.push({
            frameworkId: framework.info.id,
            executorId: run.id,
            task: entry.info,
            state: entry.state,
            ...(head && { unacknowledgedState: head.state, unacknowledgedUuid: head.uuid }),
          });
        }
      }
    }
    this.#metrics.registrations.inc({ type: 'REREGISTER' });
    return { type: 'REREGISTER', agentInfo: { ...agentInfo, id: this.#id }, frameworks, executors, tasks };
  }

  #onRegistered(event: RegisteredEvent): void {
    if (this.#id !== undefined && event.agentId !== this.#id) {
      this.#logger.warn({ previous: this.#id, agentId: event.agentId }, 'the master gave this agent a new ID');
    }
    this.#id = event.agentId;
    this.#logger.info({ agentId: event.agentId, type: event.type }, 'registered with the master');
    if (this.#checkpointer && this.#agentCheckpointed === undefined) {
      // First registration: agent.json, then meta/agents/latest. Launches wait for it.
      const info = { id: event.agentId, hostname: this.#config.hostname, resources: { ...this.#config.resources }, checkpoint: true };
      this.#agentCheckpointed = this.#checkpointer.checkpointAgent(info);
      this.#agentCheckpointed.catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not checkpoint the agent info'));
    }
    if (this.#machine.is('DISCONNECTED')) this.#machine.transition('RUNNING');
    this.#updates.resume();
  }

  #onMasterEvent(event: AgentEvent): void {
    switch (event.type) {
      case 'RUN_TASK':
        this.#runTask(event.frameworkInfo, event.task);
        return;
      case 'KILL_TASK':
        this.#killTask(event.frameworkId, event.taskId);
        return;
      case 'ACKNOWLEDGE':
        this.#updates.acknowledge(event.frameworkId, event.taskId, event.uuid).catch((error: unknown) => {
          this.#logger.error({ err: (error as Error).message, taskId: event.taskId }, 'could not record an acknowledgement');
        });
        return;
      case 'FRAMEWORK_MESSAGE': {
        const run = this.#frameworks.get(event.frameworkId)?.executors.get(event.executorId);
        if (!run?.connection?.send({ type: 'MESSAGE', data: event.data })) {
          this.#logger.warn({ frameworkId: event.frameworkId, executorId: event.executorId }, 'framework message for an executor that is not connected: dropped');
        }
        return;
      }
      case 'SHUTDOWN_FRAMEWORK':
        this.#shutdownFramework(event.frameworkId);
        return;
      case 'SHUTDOWN':
        this.#logger.warn({ message: event.message }, 'the master told this agent to shut down');
        // The master has removed this agent already: nothing to unregister, nobody to acknowledge.
        void this.#terminate({ everything: true, forwardUpdates: false, unregister: false, forget: true, reason: 'master shutdown' });
        return;
      case 'ERROR':
      case 'PING':
      case 'REGISTERED':
      case 'REREGISTERED':
        return; // handled (and logged) by the master link
    }
  }

  #forward(update: StatusUpdate, resend: boolean): boolean {
    const sent = this.#link.send({ type: 'STATUS_UPDATE', frameworkId: update.frameworkId, status: update.status });
    if (sent) this.#metrics.statusUpdatesForwarded.inc({ resend: String(resend) });
    return sent;
  }

  #onAcknowledged(update: StatusUpdate): void {
    this.#metrics.statusUpdatesAcknowledged.inc();
    const framework = this.#frameworks.get(update.frameworkId);
    const candidates = framework ? [framework.executors.get(update.status.executorId), ...framework.archived] : [];
    const run = candidates.find((candidate) => candidate?.id === update.status.executorId && candidate.tasks.has(update.status.taskId));
    if (run) this.#maybeForget(run);
    else if (this.#updates.pending(update.frameworkId, update.status.taskId).length === 0) {
      this.#updates.forget(update.frameworkId, update.status.taskId);
      this.#taskRefs.delete(streamKey(update.frameworkId, update.status.taskId));
    }
  }

  // ---- tasks and executors ---------------------------------------------------------------------

  #runTask(frameworkInfo: FrameworkRecord, task: TaskInfo): void {
    this.#metrics.tasksLaunched.inc();
    const executorId = task.executor?.executorId ?? task.taskId;
    const log = this.#logger.child({ frameworkId: frameworkInfo.id, taskId: task.taskId, executorId });
    const reject = (state: TaskState, reason: Reason | undefined, message: string) => {
      log.warn({ state, reason }, `task not launched: ${message}`);
      this.#agentUpdate(frameworkInfo.id, executorId, undefined, task.taskId, state, reason, message);
    };
    if (this.#machine.is('TERMINATING')) return reject('TASK_LOST', undefined, 'the agent is shutting down');
    if (task.agentId !== this.#id) return reject('TASK_ERROR', 'REASON_TASK_INVALID', `the task is for agent ${task.agentId}, this is agent ${this.#id}`);
    if ((task.command === undefined) === (task.executor === undefined)) {
      return reject('TASK_ERROR', 'REASON_TASK_INVALID', 'a task needs exactly one of command and executor');
    }
    if (task.executor && task.executor.frameworkId !== frameworkInfo.id) {
      return reject('TASK_ERROR', 'REASON_TASK_INVALID', `its executor belongs to framework ${task.executor.frameworkId}, not ${frameworkInfo.id}`);
    }
    let framework = this.#frameworks.get(frameworkInfo.id);
    if (framework?.terminating) return reject('TASK_LOST', 'REASON_FRAMEWORK_REMOVED', 'its framework is being shut down on this agent');
    if (framework) {
      for (const other of framework.executors.values()) {
        const entry = other.tasks.get(task.taskId);
        if (entry && !isTerminal(entry.state)) return reject('TASK_ERROR', 'REASON_TASK_INVALID', `task ID ${task.taskId} is already in use on this agent`);
      }
    } else {
      framework = { info: frameworkInfo, executors: new Map(), terminating: false, archived: new Set() };
      this.#frameworks.set(frameworkInfo.id, framework);
    }
    let run = framework.executors.get(executorId);
    if (run?.is('TERMINATED')) {
      // A finished run of the same executor: a new run replaces it (its update streams live on).
      framework.executors.delete(executorId);
      framework.archived.add(run);
      run = undefined;
    }
    if (run) {
      if (run.commandTask || task.command) {
        return reject('TASK_ERROR', 'REASON_TASK_INVALID', `executor ID ${executorId} is already in use on this agent`);
      }
      if (run.is('TERMINATING')) return reject('TASK_LOST', undefined, `executor ${executorId} is shutting down`);
      this.#addTask(run, task);
      log.info(run.connection?.isOpen ? 'task launched on a running executor' : 'task queued until its executor subscribes');
      return;
    }
    this.#startExecutor(framework, task.executor ?? commandExecutorInfo(frameworkInfo.id, task.taskId), task.executor === undefined, task);
  }

  /**
   * Gives a task to a run: for a checkpointing run its task.json is made durable first (DESIGN §4);
   * then it is sent in a LAUNCH if the executor is connected, or queued until it subscribes.
   */
  #addTask(run: ExecutorRun, task: TaskInfo): TaskEntry {
    const key = streamKey(run.frameworkId, task.taskId);
    if (!run.ref) {
      const entry = run.addTask(task);
      this.#taskRefs.delete(key);
      this.#deliver(run, entry);
      return entry;
    }
    const entry = run.addTask(task, false);
    const ref: TaskRef = { ...run.ref, taskId: task.taskId };
    const checkpointer = this.#checkpointer!;
    entry.durable = (run.checkpointed ?? Promise.resolve()).then(() => checkpointer.checkpointTask(ref, task));
    // Updates made meanwhile (a kill during launch) wait for the task's log to exist.
    this.#taskRefs.set(key, entry.durable.then(() => ref, () => undefined));
    entry.durable.then(
      () => {
        if (this.#taskRefs.get(key) instanceof Promise) this.#taskRefs.set(key, ref);
        entry.ready = true;
        this.#deliver(run, entry);
      },
      (error: unknown) => {
        this.#logger.error({ err: (error as Error).message, taskId: task.taskId }, 'could not checkpoint a task: not launched');
        this.#agentUpdate(run.frameworkId, run.id, run, task.taskId, 'TASK_FAILED', undefined, `the agent could not checkpoint the task: ${(error as Error).message}`);
      },
    );
    return entry;
  }

  /** Sends LAUNCH for a durable task not yet launched, if its executor is connected. */
  #deliver(run: ExecutorRun, entry: TaskEntry): void {
    if (!entry.ready || entry.launched || isTerminal(entry.state) || !run.connection?.isOpen) return;
    entry.launched = true;
    run.connection.send({ type: 'LAUNCH', task: entry.info });
  }

  #startExecutor(framework: Framework, info: ExecutorInfo, commandTask: boolean, task: TaskInfo): ExecutorRun {
    const config = this.#config;
    const containerId = randomUUID();
    const token = newToken();
    const agentId = this.#id!;
    const sandbox = sandboxPath(config.workDir, agentId, framework.info.id, info.executorId, containerId);
    const checkpoint = config.checkpoint && framework.info.checkpoint;
    const ref: RunRef | undefined = checkpoint ? { agentId, frameworkId: framework.info.id, executorId: info.executorId, containerId } : undefined;
    const run = new ExecutorRun({ info, framework, containerId, tokenHash: hashToken(token), sandbox, commandTask, checkpoint, ...(ref && { ref }) });
    framework.executors.set(info.executorId, run);
    if (ref) run.checkpointed = this.#checkpointRun(run, ref);
    this.#addTask(run, task);
    const env = executorEnvironment({
      socketPath: config.socketPath,
      agentId,
      frameworkId: framework.info.id,
      executorId: info.executorId,
      containerId,
      sandbox,
      checkpoint,
      recoveryTimeoutMs: config.recoveryTimeoutMs,
      executorReregistrationTimeoutMs: config.executorReregistrationTimeoutMs,
      shutdownGracePeriodMs: this.#graceOf(run),
      token,
    });
    void this.#launch(run, env);
    return run;
  }

  /** framework.json (once per framework), executor.json, then the run dir with token.sha256 and runs/latest. */
  async #checkpointRun(run: ExecutorRun, ref: RunRef): Promise<void> {
    const checkpointer = this.#checkpointer!;
    const framework = run.framework;
    framework.checkpointed ??= (async () => {
      await this.#agentCheckpointed;
      await checkpointer.checkpointFramework({ agentId: ref.agentId }, framework.info);
    })().catch((error: unknown) => {
      framework.checkpointed = undefined; // the next launch tries again
      throw error;
    });
    await framework.checkpointed;
    await checkpointer.checkpointExecutor({ agentId: ref.agentId, frameworkId: ref.frameworkId, executorId: ref.executorId }, run.info, { generated: run.commandTask });
    await checkpointer.checkpointRun(ref, { tokenHash: run.tokenHash });
  }

  /** Spawns the executor once its run and first tasks are durable; then records forked.json at once. */
  async #launch(run: ExecutorRun, env: Record<string, string>): Promise<void> {
    const log = this.#logger.child({ frameworkId: run.frameworkId, executorId: run.id, containerId: run.containerId });
    if (run.ref) {
      try {
        await run.checkpointed;
        await Promise.all([...run.tasks.values()].map((entry) => entry.durable));
      } catch (error) {
        log.error({ err: (error as Error).message }, 'could not checkpoint the executor run: not started');
        await this.#finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} could not be checkpointed: ${(error as Error).message}` }, { exit: { exitCode: null, signal: null, error: error as Error } });
        return;
      }
    }
    if (run.is('TERMINATING')) {
      await this.#finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} was shut down before it started` }, { exit: { exitCode: null, signal: null } });
      return;
    }
    this.#metrics.executorsLaunched.inc();
    let launched;
    try {
      launched = await launchExecutor({ command: run.commandTask ? shimCommand() : shellCommand(run.info.command.value), sandbox: run.sandbox, env });
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not start the executor');
      await this.#finishRun(run, this.#exitEnding(run, { exitCode: null, signal: null, error: error as Error }), { exit: { exitCode: null, signal: null, error: error as Error } });
      return;
    }
    run.pid = launched.pid;
    void launched.exited.then((exit) => this.#finishRun(run, this.#exitEnding(run, exit), { exit }));
    if (run.ref) {
      const identity = processIdentity(launched.pid);
      if (identity) {
        run.identity = identity;
        this.#checkpointer!.checkpointForked(run.ref, identity).catch((error: unknown) => log.error({ err: (error as Error).message }, 'could not checkpoint forked.json'));
      }
    }
    log.info({ executorPid: launched.pid, sandbox: run.sandbox }, 'executor started');
    // Shut down before its pid was known: it has not subscribed, so a signal is all there is.
    if (run.is('TERMINATING')) run.signalGroup('SIGTERM');
  }

  #exitEnding(run: ExecutorRun, exit: ExecutorExit): Ending {
    const how = exit.error
      ? `could not be started (${exit.error.message})`
      : exit.exitCode !== null
        ? `exited with code ${exit.exitCode}`
        : `was killed by ${exit.signal}`;
    return { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} ${how}` };
  }

  #graceOf(run: ExecutorRun): number {
    return run.info.shutdownGracePeriodMs ?? this.#config.executorShutdownGracePeriodMs;
  }

  #killTask(frameworkId: string, taskId: string): void {
    const framework = this.#frameworks.get(frameworkId);
    let run: ExecutorRun | undefined;
    for (const candidate of framework?.executors.values() ?? []) if (candidate.tasks.has(taskId)) run = candidate;
    const entry = run?.tasks.get(taskId);
    if (!run || !entry) {
      this.#logger.warn({ frameworkId, taskId }, 'kill for a task this agent does not have: ignored');
      return;
    }
    if (isTerminal(entry.state)) return;
    if (!entry.launched) {
      this.#agentUpdate(frameworkId, run.id, run, taskId, 'TASK_KILLED', 'REASON_TASK_KILLED_DURING_LAUNCH', 'killed before its executor received it');
      if (run.liveTasks().length === 0) this.#shutdownExecutor(run);
      return;
    }
    const gracePeriodMs = entry.info.killPolicy?.gracePeriodMs ?? this.#config.executorShutdownGracePeriodMs;
    if (run.connection?.send({ type: 'KILL', taskId, gracePeriodMs })) return;
    // Launched, but its executor is not connected right now: the kill goes when it re-subscribes.
    entry.killPending = true;
  }

  #shutdownFramework(frameworkId: string): void {
    const framework = this.#frameworks.get(frameworkId);
    if (!framework) return;
    this.#logger.info({ frameworkId }, 'shutting down a framework');
    framework.terminating = true;
    for (const run of framework.executors.values()) this.#shutdownExecutor(run);
    for (const run of [...framework.archived]) this.#maybeForget(run);
    this.#maybeForgetFramework(framework);
  }

  /** SHUTDOWN to the executor (or SIGTERM if it is not connected), SIGKILL to its group after the grace period. */
  #shutdownExecutor(run: ExecutorRun): void {
    if (run.is('TERMINATING', 'TERMINATED')) return;
    run.transition('TERMINATING');
    const gracePeriodMs = this.#graceOf(run);
    if (!run.connection?.send({ type: 'SHUTDOWN', gracePeriodMs })) run.signalGroup('SIGTERM');
    run.killTimer = setTimeout(() => {
      if (run.signalGroup('SIGKILL')) this.#logger.warn({ executorId: run.id, executorPid: run.pid }, 'executor still alive after its grace period: killed');
    }, gracePeriodMs + KILL_MARGIN_MS);
  }

  /**
   * Ends a run once: kills what is left of it (its process group, its tasks' groups from shim.json;
   * pid + start time checked, not after a reboot), lets its connection drain, replays its outbox
   * (the real statuses its executor recorded), reports the tasks still non-terminal with `ending`,
   * and, for a checkpointing run, writes executor.sentinel once those updates are durable.
   */
  async #finishRun(run: ExecutorRun, ending: Ending, options: { exit?: ExecutorExit; trustPids?: boolean } = {}): Promise<void> {
    if (run.exit !== undefined || this.#stopped) return;
    run.exit = options.exit ?? { exitCode: null, signal: null };
    clearTimeout(run.killTimer);
    const log = this.#logger.child({ frameworkId: run.frameworkId, executorId: run.id, containerId: run.containerId });
    if (options.trustPids !== false) {
      if (run.recovered) killExecutorGroup(run.identity);
      else if (run.pid !== undefined && run.pid > 1) {
        // Whatever is left in its process group goes with it (the pgid cannot be reused while the group has members).
        try {
          process.kill(-run.pid, 'SIGKILL');
        } catch {
          // the group is empty
        }
      }
      const killed = killTaskGroups(await readShimInfo(run.sandbox, run.id, run.containerId));
      if (killed.length > 0) log.info({ tasks: killed }, 'killed the leftover process groups of its tasks');
    }
    // Frames it wrote before dying may still be in the socket: let the connection close first.
    const connection = run.connection;
    if (connection?.isOpen) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([connection.closed, new Promise((resolve) => (timer = setTimeout(resolve, CONNECTION_DRAIN_MS)))]);
      clearTimeout(timer);
      if (connection.isOpen) connection.close(1000, 'executor exited');
    }
    const outbox = await readOutboxStatuses(run.sandbox);
    // From here to the last update, synchronous: whoever waits for `terminated` finds them recorded.
    if (!run.is('TERMINATED')) run.transition('TERMINATED');
    this.#metrics.executorsTerminated.inc();
    log.info({ executorPid: run.pid, exitCode: run.exit.exitCode, signal: run.exit.signal }, ending.message);
    const recorded: Array<Promise<void>> = [];
    let replayed = 0;
    for (const status of outbox) {
      const entry = run.tasks.get(status.taskId);
      if (!entry) continue;
      const receipt = this.#record(run.frameworkId, run.id, entry, status);
      if (receipt.outcome === 'recorded') {
        replayed++;
        recorded.push(receipt.recorded);
      }
    }
    if (replayed > 0) log.info({ updates: replayed }, 'recorded the statuses from the executor\'s outbox');
    for (const entry of run.liveTasks()) {
      recorded.push(this.#agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, ending.state, ending.reason, ending.message));
    }
    if (run.ref && this.#checkpointer) {
      await Promise.allSettled(recorded);
      try {
        await this.#checkpointer.markCompleted(run.ref);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'could not write executor.sentinel');
      }
    }
    run.completedAt = Date.now();
    this.#recoveredRunSettled(run);
    this.#maybeForget(run);
  }

  /** Forgets a terminated run once every update of its tasks is acknowledged; its gc_delay starts. */
  #maybeForget(run: ExecutorRun): void {
    if (!run.is('TERMINATED')) return;
    const framework = run.framework;
    const taskIds = [...run.tasks.keys()];
    if (!framework.terminating && taskIds.some((taskId) => this.#updates.pending(run.frameworkId, taskId).length > 0)) return;
    for (const taskId of taskIds) {
      const key = streamKey(run.frameworkId, taskId);
      const ref = this.#taskRefs.get(key);
      // The stream belongs to this run unless a newer run of the framework reuses the task ID.
      if (ref !== undefined && !(ref instanceof Promise) && ref.containerId !== run.containerId) continue;
      this.#updates.forget(run.frameworkId, taskId);
      this.#taskRefs.delete(key);
    }
    if (framework.executors.get(run.id) === run) framework.executors.delete(run.id);
    framework.archived.delete(run);
    this.#scheduleGc(run);
    this.#maybeForgetFramework(framework);
  }

  #maybeForgetFramework(framework: Framework): void {
    if (this.#loading) return;
    const done = [...framework.executors.values()].every((run) => run.is('TERMINATED'));
    if (!done || ((framework.executors.size > 0 || framework.archived.size > 0) && !framework.terminating)) return;
    if (this.#frameworks.get(framework.info.id) === framework) this.#frameworks.delete(framework.info.id);
    // A removed framework will acknowledge nothing more: drop its streams.
    if (framework.terminating) this.#updates.forget(framework.info.id);
  }

  /** --gc_delay after it completed, a run's sandbox and (checkpointing runs) meta directory are removed. */
  #scheduleGc(run: ExecutorRun): void {
    if (run.completedAt === undefined || this.#gcTimers.has(run.containerId) || this.#machine.is('TERMINATING')) return;
    const dueAt = run.completedAt + this.#config.gcDelayMs;
    const timer = setTimeout(() => {
      this.#gcTimers.delete(run.containerId);
      if (Date.now() < dueAt) this.#scheduleGc(run); // a delay longer than setTimeout allows
      else void this.#gc(run);
    }, Math.min(Math.max(0, dueAt - Date.now()), MAX_TIMER_MS));
    timer.unref();
    this.#gcTimers.set(run.containerId, timer);
  }

  async #gc(run: ExecutorRun): Promise<void> {
    try {
      if (run.ref && this.#checkpointer) await this.#checkpointer.gc(run.ref);
      else await fs.rm(run.sandbox, { recursive: true, force: true });
      this.#logger.info({ frameworkId: run.frameworkId, executorId: run.id, containerId: run.containerId }, 'completed run garbage-collected');
    } catch (error) {
      this.#logger.warn({ err: (error as Error).message, containerId: run.containerId }, 'could not garbage-collect a completed run');
    }
  }

  /** A status made by the agent itself (SOURCE_AGENT), recorded and forwarded like any other. Settles when durable. */
  #agentUpdate(
    frameworkId: string,
    executorId: string,
    run: ExecutorRun | undefined,
    taskId: string,
    state: TaskState,
    reason: Reason | undefined,
    message: string,
  ): Promise<void> {
    const status: TaskStatus = {
      taskId,
      state,
      uuid: randomUUID(),
      timestamp: Date.now(),
      source: 'SOURCE_AGENT',
      ...(reason && { reason }),
      message,
    };
    const receipt = this.#record(frameworkId, executorId, run?.tasks.get(taskId), status);
    return receipt.recorded.catch((error: unknown) => this.#logger.error({ err: (error as Error).message, taskId }, 'could not record a status update'));
  }

  #record(frameworkId: string, executorId: string, entry: TaskEntry | undefined, status: TaskStatus): UpdateReceipt {
    const forwarded: ForwardedStatus = { ...status, source: status.source ?? 'SOURCE_EXECUTOR', agentId: this.#id!, executorId };
    const receipt = this.#updates.update(frameworkId, forwarded);
    if (receipt.outcome === 'recorded') {
      if (entry) entry.state = status.state;
      this.#metrics.statusUpdatesReceived.inc({ source: forwarded.source });
    } else if (receipt.outcome === 'duplicate') {
      this.#metrics.statusUpdatesDuplicate.inc();
    }
    return receipt;
  }

  // ---- executor connections --------------------------------------------------------------------

  #onSubscribe(connection: ExecutorConnection, call: ExecutorSubscribe): void {
    const log = this.#logger.child({ frameworkId: call.frameworkId, executorId: call.executorId, containerId: call.containerId });
    if (this.#machine.is('TERMINATING')) {
      connection.close(1001, 'agent stopping');
      return;
    }
    const framework = this.#frameworks.get(call.frameworkId);
    const run = framework?.executors.get(call.executorId);
    if (!framework || framework.terminating || !run || run.is('TERMINATED') || run.containerId !== call.containerId) {
      const why = !framework ? 'unknown framework' : framework.terminating ? 'framework shut down' : !run || run.containerId !== call.containerId ? 'unknown executor run' : 'executor terminated';
      log.info({ why }, 'SUBSCRIBE from an executor this agent does not run: SHUTDOWN');
      connection.shutdownAndClose(this.#config.executorShutdownGracePeriodMs, why);
      return;
    }
    if (!verifyToken(call.token, run.tokenHash)) {
      this.#metrics.frameErrors.inc({ code: 'ERR_UNAUTHORIZED' });
      connection.fail('ERR_UNAUTHORIZED', `wrong token for executor ${call.executorId} (container ${call.containerId})`);
      return;
    }
    if (call.protocol !== EXECUTOR_PROTOCOL_VERSION) {
      this.#metrics.frameErrors.inc({ code: 'ERR_PROTOCOL' });
      connection.fail('ERR_PROTOCOL', `executor protocol ${call.protocol} is not supported (this agent speaks ${EXECUTOR_PROTOCOL_VERSION})`);
      return;
    }
    const previous = run.connection;
    if (previous && previous !== connection) {
      log.info('executor subscribed again: closing its previous connection');
      previous.close(1000, 'replaced by a new subscription');
    }
    connection.accept({ frameworkId: call.frameworkId, executorId: call.executorId, containerId: call.containerId });
    run.connection = connection;
    this.#runs.set(connection, run);
    const recovering = run.is('RECOVERING');
    if (run.is('LAUNCHING', 'RECOVERING')) run.transition('RUNNING');
    log.info({ replayedUpdates: call.unacknowledgedUpdates.length, replayedTasks: call.unacknowledgedTasks.length, recovering }, 'executor subscribed');
    connection.send({
      type: 'SUBSCRIBED',
      agentId: this.#id!,
      containerId: run.containerId,
      executorInfo: run.info,
      frameworkInfo: framework.info,
      heartbeatIntervalMs: this.#config.executorHeartbeatIntervalMs,
    });
    // Tasks the executor already has (its LAUNCH arrived before a broken connection) are not sent again.
    for (const task of call.unacknowledgedTasks) {
      const entry = run.tasks.get(task.taskId);
      if (entry) entry.launched = true;
      else log.warn({ taskId: task.taskId }, 'executor reported a task this agent did not give it');
    }
    for (const status of call.unacknowledgedUpdates) {
      if (!connection.isOpen) return;
      this.#onExecutorUpdate(connection, status);
    }
    if (!connection.isOpen) return;
    if (recovering) {
      // DESIGN §7.4: a task the agent recorded but the executor never received (the agent died
      // between task.json and LAUNCH) cannot run: it is lost.
      const reported = new Set(call.unacknowledgedTasks.map((task) => task.taskId));
      for (const entry of run.liveTasks()) {
        if (entry.state !== 'TASK_STAGING' || reported.has(entry.info.taskId)) continue;
        this.#agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_LOST', 'REASON_AGENT_RESTARTED', `executor ${run.id} never received task ${entry.info.taskId}: the agent restarted before launching it`);
      }
      this.#recoveredRunSettled(run);
    }
    for (const entry of run.queuedTasks()) this.#deliver(run, entry);
    for (const entry of run.tasks.values()) {
      if (!entry.killPending) continue;
      entry.killPending = false;
      if (!isTerminal(entry.state)) {
        connection.send({ type: 'KILL', taskId: entry.info.taskId, gracePeriodMs: entry.info.killPolicy?.gracePeriodMs ?? this.#config.executorShutdownGracePeriodMs });
      }
    }
    if (run.is('TERMINATING')) connection.send({ type: 'SHUTDOWN', gracePeriodMs: this.#graceOf(run) });
    // A command executor left with nothing to run (its task was lost) is shut down.
    else if (recovering && run.commandTask && run.liveTasks().length === 0) this.#shutdownExecutor(run);
  }

  #onExecutorUpdate(connection: ExecutorConnection, status: TaskStatus): void {
    const run = this.#runs.get(connection);
    if (!run) return;
    const entry = run.tasks.get(status.taskId);
    if (!entry) {
      this.#metrics.frameErrors.inc({ code: 'ERR_PROTOCOL' });
      connection.fail('ERR_PROTOCOL', `invalid UPDATE frame: task ${status.taskId} does not belong to executor ${run.id}`);
      return;
    }
    const receipt = this.#record(run.frameworkId, run.id, entry, status);
    // DESIGN §2: ACKNOWLEDGED only once the update is durable (for checkpointing frameworks).
    receipt.recorded.then(
      () => connection.send({ type: 'ACKNOWLEDGED', taskId: status.taskId, uuid: status.uuid }),
      (error: unknown) => {
        this.#logger.error({ err: (error as Error).message, taskId: status.taskId }, 'could not record a status update: closing the executor connection');
        // Not ERROR (which makes an executor give up): a broken connection makes it resend.
        connection.close(1011, 'could not record the update');
      },
    );
  }

  #onExecutorMessage(connection: ExecutorConnection, data: MessageData): void {
    const run = this.#runs.get(connection);
    if (!run) return;
    if (!this.#link.send({ type: 'EXECUTOR_MESSAGE', frameworkId: run.frameworkId, executorId: run.id, data })) {
      this.#logger.warn({ executorId: run.id }, 'executor message while not registered with the master: dropped');
    }
  }

  #onExecutorClosed(connection: ExecutorConnection): void {
    const run = this.#runs.get(connection);
    if (!run || run.connection !== connection) return;
    run.connection = undefined;
    this.#logger.info({ executorId: run.id, state: run.state }, 'executor connection closed');
    // Not our child: the closed connection may mean its process is gone. Look soon (and on every tick).
    if (run.recovered) setTimeout(() => this.#checkLiveness(), 100).unref();
  }

  /** Every run in memory: each executor's current one, plus (with `archived`) replaced ones kept for their updates. */
  *#allRuns(archived = false): Iterable<ExecutorRun> {
    for (const framework of this.#frameworks.values()) {
      yield* framework.executors.values();
      if (archived) yield* framework.archived;
    }
  }

  // ---- stopping --------------------------------------------------------------------------------

  #terminate(how: { everything: boolean; forwardUpdates: boolean; unregister: boolean; forget: boolean; reason: string }): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      if (!this.#machine.is('TERMINATING')) this.#machine.transition('TERMINATING');
      this.#recoveryWait?.done();
      // Stopped while starting: let start() finish opening what it opens, then close it all.
      await this.#starting?.catch(() => {});
      // Stopped while recovering: the dead runs being ended still get their updates and sentinels.
      await this.#finishRecovery().catch(() => {});
      this.#logger.info(how, 'agent stopping');
      const runs = [...this.#allRuns()].filter((run) => !run.is('TERMINATED') && (how.everything || !run.checkpoint));
      for (const run of runs) this.#shutdownExecutor(run);
      if (runs.length > 0) {
        const bound = Math.max(...runs.map((run) => this.#graceOf(run))) + KILL_MARGIN_MS + CONNECTION_DRAIN_MS + LIVENESS_INTERVAL_MS + 1_000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(runs.map((run) => run.terminated)), new Promise((resolve) => (timer = setTimeout(resolve, bound)))]);
        clearTimeout(timer);
      }
      if (how.forwardUpdates && this.#link.registered) {
        const drained = await this.#updates.whenDrained(DRAIN_TIMEOUT_MS);
        if (!drained) this.#logger.warn({ pending: this.#updates.pendingCount() }, 'stopping with status updates not yet acknowledged');
      }
      if (how.unregister && (await this.#link.sendAndFlush({ type: 'UNREGISTER' }))) this.#logger.info('unregistered from the master');
      if (how.forget && this.#checkpointer) {
        // The next agent on this work dir starts afresh (DESIGN §4).
        await this.#checkpointer.removeLatestAgent().then(
          () => this.#logger.info('meta/agents/latest removed'),
          (error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not remove meta/agents/latest'),
        );
      }
      await this.#link.close();
      await this.#endpoint.close();
      clearInterval(this.#liveness);
      for (const run of this.#allRuns(true)) clearTimeout(run.killTimer);
      for (const timer of this.#gcTimers.values()) clearTimeout(timer);
      this.#gcTimers.clear();
      await this.#updates.idle();
      this.#updates.close();
      await this.#checkpointer?.close().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not close the checkpoint'));
      await this.#http.close();
      this.#stopped = true;
      this.#logger.info('agent stopped');
      this.#resolveClosed();
    })();
    return this.#stopping;
  }
}

// ---- options -----------------------------------------------------------------------------------

const MASTER_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function validateOptions(options: AgentOptions): Config {
  if (options === null || typeof options !== 'object') throw new AgentOptionError('options', options, 'an object');
  const ms = (name: keyof AgentOptions, fallback: number, min = 1): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new AgentOptionError(name, value, `a number of milliseconds ≥ ${min}`);
    }
    return value;
  };
  const bool = (name: keyof AgentOptions, fallback: boolean): boolean => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'boolean') throw new AgentOptionError(name, value, 'a boolean');
    return value;
  };
  const master = options.master;
  const port = MASTER_ADDRESS.exec(typeof master === 'string' ? master : '')?.[1];
  if (port === undefined || Number(port) < 1 || Number(port) > 65_535) throw new AgentOptionError('master', master, 'HOST:PORT');
  if (typeof options.workDir !== 'string' || options.workDir === '') throw new AgentOptionError('workDir', options.workDir, 'a directory path');
  if (options.runtimeDir !== undefined && (typeof options.runtimeDir !== 'string' || options.runtimeDir === '')) {
    throw new AgentOptionError('runtimeDir', options.runtimeDir, 'a directory path');
  }
  const recover = options.recover ?? 'reconnect';
  if (recover !== 'reconnect' && recover !== 'cleanup') throw new AgentOptionError('recover', recover, 'reconnect or cleanup');
  const httpPort = options.port ?? 5051;
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65_535) throw new AgentOptionError('port', httpPort, 'a port number (0-65535)');
  const ip = options.ip ?? '127.0.0.1';
  if (typeof ip !== 'string' || net.isIP(ip) === 0) throw new AgentOptionError('ip', ip, 'an IP address');
  const hostname = options.hostname ?? os.hostname();
  if (typeof hostname !== 'string' || hostname === '' || hostname.length > 1024) throw new AgentOptionError('hostname', hostname, 'a non-empty host name');
  const resources = options.resources;
  if (resources === null || typeof resources !== 'object' || !(['cpus', 'mem', 'disk'] as const).every((name) => Number.isFinite(resources[name]) && resources[name] >= 0)) {
    throw new AgentOptionError('resources', resources, '{cpus, mem, disk} with non-negative numbers');
  }
  const maxFrameBytes = options.maxFrameBytes ?? 1024 * 1024;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024) throw new AgentOptionError('maxFrameBytes', maxFrameBytes, 'an integer ≥ 1024');
  const retryMin = ms('statusUpdateRetryIntervalMinMs', 1_000);
  const retryMax = ms('statusUpdateRetryIntervalMaxMs', 60_000);
  if (retryMax < retryMin) throw new AgentOptionError('statusUpdateRetryIntervalMaxMs', retryMax, `≥ statusUpdateRetryIntervalMinMs (${retryMin})`);
  const runtimeDir = options.runtimeDir ?? defaultRuntimeDir(options.workDir);
  const socketPath = executorSocketPath(runtimeDir);
  return {
    master,
    workDir: options.workDir,
    runtimeDir,
    // Checked here, so that a bad --runtime_dir fails before anything starts.
    socketPath: checkSocketPath(socketPath, '--runtime_dir'),
    checkpoint: bool('checkpoint', true),
    strict: bool('strict', true),
    recover,
    recoveryTimeoutMs: ms('recoveryTimeoutMs', 15 * 60_000),
    executorReregistrationTimeoutMs: ms('executorReregistrationTimeoutMs', 2_000),
    executorShutdownGracePeriodMs: ms('executorShutdownGracePeriodMs', 5_000, 0),
    registrationBackoffFactorMs: ms('registrationBackoffFactorMs', 1_000),
    gcDelayMs: ms('gcDelayMs', 7 * 24 * 3_600_000),
    statusUpdateRetryIntervalMinMs: retryMin,
    statusUpdateRetryIntervalMaxMs: retryMax,
    maxFrameBytes,
    port: httpPort,
    ip,
    resources: { cpus: resources.cpus, mem: resources.mem, disk: resources.disk },
    hostname,
    executorHeartbeatIntervalMs: ms('executorHeartbeatIntervalMs', 5_000),
    checkpointBatching: bool('checkpointBatching', true),
  };
}
