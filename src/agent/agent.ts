// The node agent (DESIGN §4, §7): registers with the master, launches executors for the tasks it is
// given, serves them on the executor socket, and delivers every status update to the framework
// through the status update manager. For frameworks that checkpoint it makes its state durable
// (DESIGN §5) before acting on it, so that a restarted agent recovers: start() reads the checkpoint
// while RECOVERING (/state answers 503), finishes the runs whose executor died, listens, gives live
// executors --executor_reregistration_timeout to re-subscribe, and only then re-registers.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { Checkpointer } from '../checkpoint/checkpointer.js';
import type { TaskRef } from '../checkpoint/layout.js';
import { isSameProcess } from '../process/index.js';
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
import { ExecutorEndpoint, type ExecutorConnection, type MessageData } from './executor-endpoint.js';
import { ExecutorRun, KILL_MARGIN_MS, type Ending, type Framework, type FrameworkRecord, type TaskEntry } from './executor-run.js';
import { AgentHttpServer } from './http.js';
import { commandExecutorInfo, ExecutorLauncher, type ExecutorExit } from './launcher.js';
import { MasterLink, type RegisteredEvent } from './master-link.js';
import { AgentMetrics } from './metrics.js';
import { validateOptions, type AgentOptions, type Config } from './options.js';
import { killExecutorGroup, killTaskGroups, readOutboxStatuses, readShimInfo } from './recovery.js';
import { RecoveryFlow } from './recovery-flow.js';
import { removeStaleSocket } from './socket-path.js';
import { StateMachine } from '../lifecycle/state-machine.js';
import { StatusUpdateManager, type ForwardedStatus, type StatusUpdate, type UpdateReceipt, type UpdateStore } from './status-update-manager.js';
import { verifyToken } from './token.js';

export type { AgentOptions, RecoverMode } from './options.js';

export type AgentStatus = 'RECOVERING' | 'DISCONNECTED' | 'RUNNING' | 'TERMINATING';

const TRANSITIONS: Record<AgentStatus, readonly AgentStatus[]> = {
  RECOVERING: ['DISCONNECTED', 'TERMINATING'],
  DISCONNECTED: ['RUNNING', 'TERMINATING'],
  RUNNING: ['DISCONNECTED', 'TERMINATING'],
  TERMINATING: [],
};

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
  readonly #recovery: RecoveryFlow;
  readonly #launcher: ExecutorLauncher;
  /** Recovery is adding the recorded frameworks and runs. */
  #loading = false;
  /** Stopped: a late event (the exit of an executor left running) changes nothing any more. */
  #stopped = false;
  #id: string | undefined;
  /** agent.json and meta/agents/latest are durable (set at first registration, or by recovery). */
  #agentCheckpointed: Promise<void> | undefined;
  #recoveryErrors = 0;
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
    this.#recovery = new RecoveryFlow({
      config: this.#config,
      checkpointer: this.#checkpointer,
      logger: this.#logger,
      countRecoveryErrors: (count) => {
        this.#recoveryErrors = count;
        if (count > 0) this.#metrics.recoveryErrors.inc(count);
      },
      adoptAgentId: (agentId) => {
        this.#id = agentId;
        this.#agentCheckpointed = Promise.resolve();
      },
      setLoading: (loading) => (this.#loading = loading),
      addFramework: (framework) => this.#frameworks.set(framework.info.id, framework),
      frameworkCount: () => this.#frameworks.size,
      forgetDoneFrameworks: () => {
        for (const framework of [...this.#frameworks.values()]) this.#maybeForgetFramework(framework);
      },
      claimTaskStream: (ref) => {
        const key = streamKey(ref.frameworkId, ref.taskId);
        if (this.#taskRefs.has(key)) return false;
        this.#taskRefs.set(key, ref);
        return true;
      },
      restoreStream: (frameworkId, taskId, updates, acked, origin) => this.#updates.restore(frameworkId, taskId, updates, acked, origin),
      isTerminating: () => this.#machine.is('TERMINATING'),
      finishRun: (run, ending, options) => this.#finishRun(run, ending, options),
      agentUpdate: (frameworkId, executorId, run, taskId, state, reason, message) => this.#agentUpdate(frameworkId, executorId, run, taskId, state, reason, message),
      maybeForget: (run) => this.#maybeForget(run),
      graceOf: (run) => this.#launcher.graceOf(run),
    });
    this.#launcher = new ExecutorLauncher({
      config: this.#config,
      checkpointer: this.#checkpointer,
      logger: this.#logger,
      agentId: () => this.#id!,
      agentCheckpointed: () => this.#agentCheckpointed,
      executorLaunched: () => this.#metrics.executorsLaunched.inc(),
      addTask: (run, task) => this.#addTask(run, task),
      finishRun: (run, ending, options) => this.#finishRun(run, ending, options),
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
      if (this.#checkpointer) live = await this.#recovery.recover();
      if (this.#config.recover === 'cleanup') {
        await this.#recovery.cleanup(live);
        await this.#closeAfterCleanup();
        return;
      }
      if (this.#machine.is('TERMINATING')) return; // stopped while recovering
      await this.#endpoint.listen();
      // Listening first: the runs recovery found dead are ended now, while live executors come back.
      this.#recovery.endDeadRuns();
      // The agent is not the parent of recovered executors: it watches them instead.
      this.#liveness = setInterval(() => this.#checkLiveness(), LIVENESS_INTERVAL_MS);
      this.#liveness.unref();
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
    await this.#recovery.awaitReregistration(live);
    await this.#recovery.finish().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not record the boot id'));
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

  // ---- recovery (DESIGN §7): the flow is in recovery-flow.ts; what closes or watches the agent stays here ----

  /** After --recover=cleanup: the agent closes without registering. */
  async #closeAfterCleanup(): Promise<void> {
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
    this.#launcher.start(framework, task.executor ?? commandExecutorInfo(frameworkInfo.id, task.taskId), task.executor === undefined, task);
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
    const gracePeriodMs = this.#launcher.graceOf(run);
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
    this.#recovery.settled(run);
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
    if (!framework || framework.terminating || !run || run.is('TERMINATED') || run.containerId !== call.containerId || this.#recovery.isFoundDead(run)) {
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
    // An executor keeps a launched task in unacknowledgedTasks until one of its updates is
    // acknowledged: a task still STAGING that it does not report never reached it.
    const reported = new Set(call.unacknowledgedTasks.map((task) => task.taskId));
    let lostAtRecovery = 0;
    if (recovering) {
      // DESIGN §7.4: a task the agent recorded but the executor never received (the agent died
      // between task.json and LAUNCH) cannot run: it is lost.
      for (const entry of run.liveTasks()) {
        if (entry.state !== 'TASK_STAGING' || reported.has(entry.info.taskId)) continue;
        this.#agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_LOST', 'REASON_AGENT_RESTARTED', `executor ${run.id} never received task ${entry.info.taskId}: the agent restarted before launching it`);
        lostAtRecovery++;
      }
      this.#recovery.settled(run);
    } else {
      // Its LAUNCH went out on a connection the executor had already given up on (a handshake that
      // timed out on an overloaded node): launch it again on this one.
      const neverReceived = run.liveTasks().filter((entry) => entry.launched && entry.state === 'TASK_STAGING' && !reported.has(entry.info.taskId));
      for (const entry of neverReceived) entry.launched = false;
      if (neverReceived.length > 0) log.info({ tasks: neverReceived.map((entry) => entry.info.taskId) }, 'executor re-subscribed without tasks it was sent: launching them again');
    }
    for (const entry of run.queuedTasks()) this.#deliver(run, entry);
    for (const entry of run.tasks.values()) {
      if (!entry.killPending) continue;
      entry.killPending = false;
      if (!isTerminal(entry.state)) {
        connection.send({ type: 'KILL', taskId: entry.info.taskId, gracePeriodMs: entry.info.killPolicy?.gracePeriodMs ?? this.#config.executorShutdownGracePeriodMs });
      }
    }
    if (run.is('TERMINATING')) connection.send({ type: 'SHUTDOWN', gracePeriodMs: this.#launcher.graceOf(run) });
    // An executor left with nothing to run because its tasks were lost (a command executor, or a
    // custom one that never received its tasks) is shut down: nothing would ever end it otherwise.
    else if (recovering && (run.commandTask || lostAtRecovery > 0) && run.liveTasks().length === 0) this.#shutdownExecutor(run);
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
    if (status.state === 'TASK_RUNNING' && run.spawnedAt !== undefined) {
      // Executor start-up latency, for operators (and bench-shim): spawn to its first TASK_RUNNING.
      const startupMs = Math.round((performance.now() - run.spawnedAt) * 10) / 10;
      run.spawnedAt = undefined;
      this.#logger.info({ executorId: run.id, taskId: status.taskId, pid: run.pid, startupMs }, 'executor reported TASK_RUNNING');
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
      this.#recovery.stopWaiting();
      // Stopped while starting: let start() finish opening what it opens, then close it all.
      await this.#starting?.catch(() => {});
      // Stopped while recovering: the dead runs being ended still get their updates and sentinels.
      await this.#recovery.finish().catch(() => {});
      this.#logger.info(how, 'agent stopping');
      const runs = [...this.#allRuns()].filter((run) => !run.is('TERMINATED') && (how.everything || !run.checkpoint));
      for (const run of runs) this.#shutdownExecutor(run);
      if (runs.length > 0) {
        const bound = Math.max(...runs.map((run) => this.#launcher.graceOf(run))) + KILL_MARGIN_MS + CONNECTION_DRAIN_MS + LIVENESS_INTERVAL_MS + 1_000;
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
