// The node agent (DESIGN §4): registers with the master, launches executors for the tasks it is
// given, serves them on the executor socket, and delivers every status update to the framework
// through the status update manager. This is the walking skeleton: state lives in memory and the
// agent is the parent of its executors. Recovery (the next issue) slots in at start(), between the
// HTTP endpoint coming up (RECOVERING, /state answers 503) and the executor socket listening.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
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
import { AgentOptionError } from './errors.js';
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
import type { AgentResources } from './resources.js';
import { checkSocketPath, defaultRuntimeDir, executorSocketPath } from './socket-path.js';
import { StateMachine } from './state-machine.js';
import { MemoryUpdateStore, StatusUpdateManager, type ForwardedStatus, type StatusUpdate, type UpdateReceipt, type UpdateStore } from './status-update-manager.js';
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
  /** Where sandboxes (and, with recovery, checkpoints) live. Required. */
  workDir: string;
  /** Where the executor socket lives. Default: `<workDir>/run` (or a short path under the temp dir if that is too long). */
  runtimeDir?: string;
  /** Checkpoint frameworks that ask for it. Default: true. */
  checkpoint?: boolean;
  /** Any recovery error is fatal (recovery issue). Default: true. */
  strict?: boolean;
  /** What recovery does with old executors (recovery issue). Default: 'reconnect'. */
  recover?: RecoverMode;
  /** Passed to checkpointing executors as LIFELINE_RECOVERY_TIMEOUT. Default: 15 min. */
  recoveryTimeoutMs?: number;
  /** How long a recovering agent waits for executors to re-subscribe. Default: 2000. */
  executorReregistrationTimeoutMs?: number;
  /** SHUTDOWN/KILL grace before SIGKILL. Default: 5000. */
  executorShutdownGracePeriodMs?: number;
  /** First (re-)registration retry delay, doubled on each failure. Default: 1000. */
  registrationBackoffFactorMs?: number;
  /** When completed runs are garbage-collected (recovery issue). Default: 1 week. */
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
  /** Where status updates are recorded. Default: in memory. */
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
}

/** DESIGN §9: the agent's /state. */
export interface AgentState {
  id: string | null;
  status: AgentStatus;
  frameworks: Array<{
    id: string;
    checkpoint: boolean;
    executors: Array<{ id: string; containerId: string; pid: number | null; state: string; tasks: Array<{ id: string; state: TaskState }> }>;
  }>;
}

/** After SHUTDOWN's grace period, how much longer an executor has before its group is SIGKILLed. */
const KILL_MARGIN_MS = 2_000;
/** How long a shutting-down agent waits for its updates to be acknowledged. */
const DRAIN_TIMEOUT_MS = 5_000;
/** How long an executor's connection may stay open after its process exited (frames in flight). */
const CONNECTION_DRAIN_MS = 1_000;

export class Agent {
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #machine: StateMachine<AgentStatus>;
  readonly #metrics: AgentMetrics;
  readonly #http: AgentHttpServer;
  readonly #endpoint: ExecutorEndpoint;
  readonly #link: MasterLink;
  readonly #updates: StatusUpdateManager;
  readonly #frameworks = new Map<string, Framework>();
  readonly #runs = new WeakMap<ExecutorConnection, ExecutorRun>();
  #id: string | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #resolveClosed!: () => void;
  /** Settles when the agent has stopped (after stop(), shutdown(), or the master's SHUTDOWN). */
  readonly closed: Promise<void>;

  constructor(options: AgentOptions) {
    this.#config = validateOptions(options);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'agent' });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#machine = new StateMachine('agent', 'RECOVERING', TRANSITIONS, (from, to) => this.#logger.info({ from, to }, `agent ${to}`));
    this.#metrics = new AgentMetrics({
      registered: () => (this.#link.registered ? 1 : 0),
      executors: () => {
        const counts: Record<string, number> = { LAUNCHING: 0, RUNNING: 0, TERMINATING: 0, TERMINATED: 0 };
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
    this.#updates = new StatusUpdateManager({
      store: options.updateStore ?? new MemoryUpdateStore(),
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

  /** The ID the master gave this agent (undefined until it has registered). */
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

  /** DESIGN §9: the agent's /state. */
  state(): AgentState {
    return {
      id: this.#id ?? null,
      status: this.status,
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
   * Starts the HTTP endpoint, the executor socket and the master link. Rejects (having closed what
   * it opened) when the socket cannot be used: path too long, another agent listening on it, ….
   */
  start(): Promise<void> {
    if (this.#starting) return Promise.reject(new IllegalStateError('cannot start the agent twice'));
    this.#machine.assert(['RECOVERING'], 'start the agent');
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    try {
      await fs.mkdir(this.#config.workDir, { recursive: true });
      const address = await this.#http.listen();
      this.#logger.info({ ip: address.address, port: address.port }, 'HTTP endpoint listening');
      // Recovery of checkpointed state goes here (next issue): before the executor socket listens.
      await this.#endpoint.listen();
    } catch (error) {
      await this.#endpoint.close().catch(() => {});
      await this.#http.close().catch(() => {});
      if (!this.#machine.is('TERMINATING')) this.#machine.transition('TERMINATING');
      this.#resolveClosed();
      throw error;
    }
    if (this.#machine.is('TERMINATING')) return; // stopped while starting
    this.#machine.transition('DISCONNECTED');
    this.#link.start();
  }

  /**
   * SIGTERM/SIGINT: stops the agent. Executors of frameworks that do not checkpoint are shut down;
   * checkpointed ones are left running for a restarted agent to reconnect to (DESIGN §4).
   */
  stop(): Promise<void> {
    return this.#terminate({ everything: false, forwardUpdates: false, unregister: false, reason: 'stop' });
  }

  /**
   * SIGUSR1: shuts the whole agent down: every executor is shut down, their terminal updates are
   * forwarded (bounded wait), then the agent unregisters from the master.
   */
  shutdown(): Promise<void> {
    return this.#terminate({ everything: true, forwardUpdates: true, unregister: true, reason: 'shutdown' });
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
      for (const run of framework.executors.values()) {
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
        void this.#terminate({ everything: true, forwardUpdates: false, unregister: false, reason: 'master shutdown' });
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
    const run = this.#frameworks.get(update.frameworkId)?.executors.get(update.status.executorId);
    if (run?.tasks.has(update.status.taskId)) this.#maybeForget(run);
    else if (this.#updates.pending(update.frameworkId, update.status.taskId).length === 0) {
      this.#updates.forget(update.frameworkId, update.status.taskId);
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
      framework = { info: frameworkInfo, executors: new Map(), terminating: false };
      this.#frameworks.set(frameworkInfo.id, framework);
    }
    let run = framework.executors.get(executorId);
    if (run?.is('TERMINATED')) {
      // A finished run of the same executor: a new run replaces it (its update streams live on).
      framework.executors.delete(executorId);
      run = undefined;
    }
    if (run) {
      if (run.commandTask || task.command) {
        return reject('TASK_ERROR', 'REASON_TASK_INVALID', `executor ID ${executorId} is already in use on this agent`);
      }
      if (run.is('TERMINATING')) return reject('TASK_LOST', undefined, `executor ${executorId} is shutting down`);
      const entry = run.addTask(task);
      if (run.connection?.isOpen) {
        entry.launched = true;
        run.connection.send({ type: 'LAUNCH', task });
        log.info('task launched on a running executor');
      } else {
        log.info('task queued until its executor subscribes');
      }
      return;
    }
    run = this.#startExecutor(framework, task.executor ?? commandExecutorInfo(frameworkInfo.id, task.taskId), task.executor === undefined);
    run.addTask(task);
  }

  #startExecutor(framework: Framework, info: ExecutorInfo, commandTask: boolean): ExecutorRun {
    const config = this.#config;
    const containerId = randomUUID();
    const token = newToken();
    const sandbox = sandboxPath(config.workDir, this.#id!, framework.info.id, info.executorId, containerId);
    const checkpoint = config.checkpoint && framework.info.checkpoint;
    const run = new ExecutorRun({ info, framework, containerId, tokenHash: hashToken(token), sandbox, commandTask, checkpoint });
    framework.executors.set(info.executorId, run);
    const env = executorEnvironment({
      socketPath: config.socketPath,
      agentId: this.#id!,
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
    const log = this.#logger.child({ frameworkId: framework.info.id, executorId: info.executorId, containerId });
    this.#metrics.executorsLaunched.inc();
    launchExecutor({ command: commandTask ? shimCommand() : shellCommand(info.command.value), sandbox, env }).then(
      (launched) => {
        run.pid = launched.pid;
        log.info({ executorPid: launched.pid, sandbox }, 'executor started');
        // Shut down before its pid was known: it has not subscribed, so a signal is all there is.
        if (run.is('TERMINATING')) run.signalGroup('SIGTERM');
        void launched.exited.then((exit) => this.#executorExited(run, exit));
      },
      (error: Error) => {
        log.error({ err: error.message }, 'could not start the executor');
        void this.#executorExited(run, { exitCode: null, signal: null, error });
      },
    );
    return run;
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

  async #executorExited(run: ExecutorRun, exit: ExecutorExit): Promise<void> {
    run.exit = exit;
    clearTimeout(run.killTimer);
    // Whatever is left in its process group goes with it (the pgid cannot be reused while the group has members).
    if (run.pid !== undefined && run.pid > 1) {
      try {
        process.kill(-run.pid, 'SIGKILL');
      } catch {
        // the group is empty
      }
    }
    // Frames it wrote before dying may still be in the socket: let the connection close first.
    const connection = run.connection;
    if (connection?.isOpen) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([connection.closed, new Promise((resolve) => (timer = setTimeout(resolve, CONNECTION_DRAIN_MS)))]);
      clearTimeout(timer);
      if (connection.isOpen) connection.close(1000, 'executor exited');
    }
    if (!run.is('TERMINATED')) run.transition('TERMINATED');
    this.#metrics.executorsTerminated.inc();
    const how = exit.error
      ? `could not be started (${exit.error.message})`
      : exit.exitCode !== null
        ? `exited with code ${exit.exitCode}`
        : `was killed by ${exit.signal}`;
    this.#logger.info({ executorId: run.id, executorPid: run.pid, exitCode: exit.exitCode, signal: exit.signal }, `executor ${how}`);
    for (const entry of run.liveTasks()) {
      this.#agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', `executor ${run.id} ${how}`);
    }
    this.#maybeForget(run);
  }

  /** Forgets a terminated run once every update of its tasks is acknowledged. */
  #maybeForget(run: ExecutorRun): void {
    if (!run.is('TERMINATED')) return;
    const framework = run.framework;
    const taskIds = [...run.tasks.keys()];
    if (!framework.terminating && taskIds.some((taskId) => this.#updates.pending(run.frameworkId, taskId).length > 0)) return;
    for (const taskId of taskIds) this.#updates.forget(run.frameworkId, taskId);
    if (framework.executors.get(run.id) === run) framework.executors.delete(run.id);
    this.#maybeForgetFramework(framework);
  }

  #maybeForgetFramework(framework: Framework): void {
    const done = [...framework.executors.values()].every((run) => run.is('TERMINATED'));
    if (!done || (framework.executors.size > 0 && !framework.terminating)) return;
    if (this.#frameworks.get(framework.info.id) === framework) this.#frameworks.delete(framework.info.id);
    // A removed framework will acknowledge nothing more: drop its streams.
    if (framework.terminating) this.#updates.forget(framework.info.id);
  }

  /** A status made by the agent itself (SOURCE_AGENT), recorded and forwarded like any other. */
  #agentUpdate(
    frameworkId: string,
    executorId: string,
    run: ExecutorRun | undefined,
    taskId: string,
    state: TaskState,
    reason: Reason | undefined,
    message: string,
  ): void {
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
    receipt.recorded.catch((error: unknown) => this.#logger.error({ err: (error as Error).message, taskId }, 'could not record a status update'));
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
    if (run.is('LAUNCHING')) run.transition('RUNNING');
    log.info({ replayedUpdates: call.unacknowledgedUpdates.length, replayedTasks: call.unacknowledgedTasks.length }, 'executor subscribed');
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
    for (const entry of run.queuedTasks()) {
      entry.launched = true;
      connection.send({ type: 'LAUNCH', task: entry.info });
    }
    for (const entry of run.tasks.values()) {
      if (!entry.killPending) continue;
      entry.killPending = false;
      if (!isTerminal(entry.state)) {
        connection.send({ type: 'KILL', taskId: entry.info.taskId, gracePeriodMs: entry.info.killPolicy?.gracePeriodMs ?? this.#config.executorShutdownGracePeriodMs });
      }
    }
    if (run.is('TERMINATING')) connection.send({ type: 'SHUTDOWN', gracePeriodMs: this.#graceOf(run) });
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
  }

  *#allRuns(): Iterable<ExecutorRun> {
    for (const framework of this.#frameworks.values()) yield* framework.executors.values();
  }

  // ---- stopping --------------------------------------------------------------------------------

  #terminate(how: { everything: boolean; forwardUpdates: boolean; unregister: boolean; reason: string }): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      if (!this.#machine.is('TERMINATING')) this.#machine.transition('TERMINATING');
      // Stopped while starting: let start() finish opening what it opens, then close it all.
      await this.#starting?.catch(() => {});
      this.#logger.info(how, 'agent stopping');
      const runs = [...this.#allRuns()].filter((run) => !run.is('TERMINATED') && (how.everything || !run.checkpoint));
      for (const run of runs) this.#shutdownExecutor(run);
      if (runs.length > 0) {
        const bound = Math.max(...runs.map((run) => this.#graceOf(run))) + KILL_MARGIN_MS + CONNECTION_DRAIN_MS + 1_000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(runs.map((run) => run.terminated)), new Promise((resolve) => (timer = setTimeout(resolve, bound)))]);
        clearTimeout(timer);
      }
      if (how.forwardUpdates && this.#link.registered) {
        const drained = await this.#updates.whenDrained(DRAIN_TIMEOUT_MS);
        if (!drained) this.#logger.warn({ pending: this.#updates.pendingCount() }, 'stopping with status updates not yet acknowledged');
      }
      if (how.unregister && (await this.#link.sendAndFlush({ type: 'UNREGISTER' }))) this.#logger.info('unregistered from the master');
      await this.#link.close();
      await this.#endpoint.close();
      this.#updates.close();
      for (const run of this.#allRuns()) clearTimeout(run.killTimer);
      await this.#http.close();
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
  };
}
