// The agent's node model: the one owner of what the agent knows about its node — its ID and
// lifecycle, frameworks, executor runs (and which connection speaks for which), tasks, their update
// streams, and when a finished run is forgotten and garbage-collected. The flows (recovery, the
// launcher, run ending, the master and executor sessions) read and change it only through here.
import { randomUUID } from 'node:crypto';
import type { Checkpointer } from '../checkpoint/checkpointer.js';
import type { TaskRef } from '../checkpoint/layout.js';
import { StateMachine } from '../lifecycle/state-machine.js';
import type { Logger } from '../log.js';
import { isTerminal, type Reason, type TaskInfo, type TaskState, type TaskStatus } from '../protocol/index.js';
import { CheckpointUpdateStore } from './checkpoint-store.js';
import type { ExecutorConnection } from './executor-endpoint.js';
import type { ExecutorRun, Framework, FrameworkRecord, TaskEntry } from './executor-run.js';
import { RunCollector } from './run-collector.js';
import type { AgentMetrics } from './metrics.js';
import type { Config } from './options.js';
import {
  StatusUpdateManager,
  type ForwardedStatus,
  type StatusOrigin,
  type StatusUpdate,
  type UpdateReceipt,
  type UpdateStore,
} from './status-update-manager.js';

export type AgentStatus = 'RECOVERING' | 'DISCONNECTED' | 'RUNNING' | 'TERMINATING';

const TRANSITIONS: Record<AgentStatus, readonly AgentStatus[]> = {
  RECOVERING: ['DISCONNECTED', 'TERMINATING'],
  DISCONNECTED: ['RUNNING', 'TERMINATING'],
  RUNNING: ['DISCONNECTED', 'TERMINATING'],
  TERMINATING: [],
};

/** Where the updates of an agent that does not checkpoint go: nowhere (they live in the stream until acknowledged). */
const DISCARDING_STORE: UpdateStore = { append: async () => {} };

const streamKey = (frameworkId: string, taskId: string) => `${frameworkId}/${taskId}`;

export interface NodeModelOptions {
  config: Config;
  checkpointer: Checkpointer | undefined;
  logger: Logger;
  metrics: AgentMetrics;
  /** Where updates go (default: the task logs when checkpointing, else nowhere). */
  updateStore?: UpdateStore;
  /** The one action the model cannot take itself: sending an update to the master (false: not sent). */
  forward(update: StatusUpdate, resend: boolean): boolean;
}

export class NodeModel {
  readonly config: Config;
  readonly checkpointer: Checkpointer | undefined;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  /** The agent's lifecycle: RECOVERING → DISCONNECTED ⇄ RUNNING → TERMINATING. */
  readonly lifecycle: StateMachine<AgentStatus>;
  /** The update streams of every task (DESIGN §2): recorded, forwarded, retried until acknowledged. */
  readonly updates: StatusUpdateManager;
  readonly #frameworks = new Map<string, Framework>();
  readonly #runs = new WeakMap<ExecutorConnection, ExecutorRun>();
  /** Where each checkpointed task stream lives (a promise while its task.json is being written). */
  readonly #taskRefs = new Map<string, TaskRef | Promise<TaskRef | undefined>>();
  readonly #collector: RunCollector;
  #id: string | undefined;
  /** agent.json and meta/agents/latest are durable (set at first registration, or by recovery). */
  #agentCheckpointed: Promise<void> | undefined;
  #recoveryErrors = 0;
  /** Recovery is adding the recorded frameworks and runs: nothing is forgotten meanwhile. */
  #loading = false;
  /** Stopped: a late event (the exit of an executor left running) changes nothing any more. */
  #stopped = false;

  constructor(options: NodeModelOptions) {
    this.config = options.config;
    this.checkpointer = options.checkpointer;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.lifecycle = new StateMachine('agent', 'RECOVERING', TRANSITIONS, (from, to) => this.logger.info({ from, to }, `agent ${to}`));
    this.#collector = new RunCollector({ gcDelayMs: options.config.gcDelayMs, checkpointer: options.checkpointer, logger: options.logger, lifecycle: this.lifecycle });
    const store =
      options.updateStore ??
      (options.checkpointer ? new CheckpointUpdateStore(options.checkpointer, (frameworkId, taskId) => this.#taskRefs.get(streamKey(frameworkId, taskId))) : DISCARDING_STORE);
    this.updates = new StatusUpdateManager({
      store,
      retryIntervalMinMs: options.config.statusUpdateRetryIntervalMinMs,
      retryIntervalMaxMs: options.config.statusUpdateRetryIntervalMaxMs,
      maxStreamUpdates: options.config.maxStatusUpdatesPerTask,
      maxStreamBytes: options.config.maxStatusUpdateBytesPerTask,
      logger: options.logger.child({ component: 'status-updates' }),
      forward: (update, resend) => options.forward(update, resend),
      onAcknowledged: (update) => this.#onAcknowledged(update),
    });
  }

  // ---- the node itself -------------------------------------------------------------------------

  /** The ID the master gave this agent (or recovery found); undefined until then. */
  get id(): string | undefined {
    return this.#id;
  }

  get status(): AgentStatus {
    return this.lifecycle.state;
  }

  get terminating(): boolean {
    return this.lifecycle.is('TERMINATING');
  }

  /** Settles when agent.json and meta/agents/latest are durable (undefined before the first registration). */
  get agentCheckpointed(): Promise<void> | undefined {
    return this.#agentCheckpointed;
  }

  /** The checkpoint names this agent: its ID, with agent.json already durable. */
  adoptRecoveredId(agentId: string): void {
    this.#id = agentId;
    this.#agentCheckpointed = Promise.resolve();
  }

  /** The master registered this agent: its ID, and (first registration) agent.json then meta/agents/latest. */
  registeredAs(agentId: string): void {
    this.#id = agentId;
    if (this.checkpointer && this.#agentCheckpointed === undefined) {
      const info = { id: agentId, hostname: this.config.hostname, resources: { ...this.config.resources }, checkpoint: true };
      this.#agentCheckpointed = this.checkpointer.checkpointAgent(info);
      this.#agentCheckpointed.catch((error: unknown) => this.logger.error({ err: (error as Error).message }, 'could not checkpoint the agent info'));
    }
  }

  /** How many damaged checkpoint items the (non-strict) recovery skipped. */
  get recoveryErrors(): number {
    return this.#recoveryErrors;
  }

  countRecoveryErrors(count: number): void {
    this.#recoveryErrors = count;
    if (count > 0) this.metrics.recoveryErrors.inc(count);
  }

  get loading(): boolean {
    return this.#loading;
  }

  /** Recovery is adding recorded frameworks and runs (true), or is done (false). */
  setLoading(loading: boolean): void {
    this.#loading = loading;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The agent has stopped: timers are cleared and late events change nothing. */
  markStopped(): void {
    this.#stopped = true;
  }

  /** The grace period an executor gets between SHUTDOWN (or SIGTERM) and SIGKILL. */
  graceOf(run: ExecutorRun): number {
    return run.info.shutdownGracePeriodMs ?? this.config.executorShutdownGracePeriodMs;
  }

  // ---- frameworks and runs ---------------------------------------------------------------------

  frameworks(): IterableIterator<Framework> {
    return this.#frameworks.values();
  }

  get frameworkCount(): number {
    return this.#frameworks.size;
  }

  framework(frameworkId: string): Framework | undefined {
    return this.#frameworks.get(frameworkId);
  }

  /** The framework, added (with no executors) if this agent does not know it yet. */
  frameworkFor(info: FrameworkRecord): Framework {
    let framework = this.#frameworks.get(info.id);
    if (!framework) {
      framework = { info, executors: new Map(), terminating: false, archived: new Set() };
      this.#frameworks.set(info.id, framework);
    }
    return framework;
  }

  addFramework(framework: Framework): void {
    this.#frameworks.set(framework.info.id, framework);
  }

  /** Every run in memory: each executor's current one, plus (with `archived`) replaced ones kept for their updates. */
  *runs(archived = false): Iterable<ExecutorRun> {
    for (const framework of this.#frameworks.values()) {
      yield* framework.executors.values();
      if (archived) yield* framework.archived;
    }
  }

  /** The run a subscribed connection speaks for. */
  runOf(connection: ExecutorConnection): ExecutorRun | undefined {
    return this.#runs.get(connection);
  }

  /** The connection now speaks for the run (its SUBSCRIBE was accepted). */
  attach(run: ExecutorRun, connection: ExecutorConnection): void {
    run.connection = connection;
    this.#runs.set(connection, run);
  }

  // ---- tasks and their update streams ----------------------------------------------------------

  /** Where a task's stream lives (a promise while its task.json is being written). */
  streamRef(frameworkId: string, taskId: string): TaskRef | Promise<TaskRef | undefined> | undefined {
    return this.#taskRefs.get(streamKey(frameworkId, taskId));
  }

  /** Records where a recovered task's stream lives; false if another run already holds that task ID's stream. */
  claimTaskStream(ref: TaskRef): boolean {
    const key = streamKey(ref.frameworkId, ref.taskId);
    if (this.#taskRefs.has(key)) return false;
    this.#taskRefs.set(key, ref);
    return true;
  }

  restoreStream(frameworkId: string, taskId: string, updates: readonly TaskStatus[], acked: ReadonlySet<string>, origin: StatusOrigin): void {
    this.updates.restore(frameworkId, taskId, updates, acked, origin);
  }

  /**
   * Gives a task to a run: for a checkpointing run its task.json is made durable first (DESIGN §4);
   * then it is sent in a LAUNCH if the executor is connected, or queued until it subscribes.
   */
  addTask(run: ExecutorRun, task: TaskInfo): TaskEntry {
    const key = streamKey(run.frameworkId, task.taskId);
    if (!run.ref) {
      const entry = run.addTask(task);
      this.#taskRefs.delete(key);
      this.deliver(run, entry);
      return entry;
    }
    const entry = run.addTask(task, false);
    const ref: TaskRef = { ...run.ref, taskId: task.taskId };
    const checkpointer = this.checkpointer!;
    entry.durable = (run.checkpointed ?? Promise.resolve()).then(() => checkpointer.checkpointTask(ref, task));
    // Updates made meanwhile (a kill during launch) wait for the task's log to exist.
    this.#taskRefs.set(key, entry.durable.then(() => ref, () => undefined));
    entry.durable.then(
      () => {
        if (this.#taskRefs.get(key) instanceof Promise) this.#taskRefs.set(key, ref);
        entry.ready = true;
        this.deliver(run, entry);
      },
      (error: unknown) => {
        this.logger.error({ err: (error as Error).message, taskId: task.taskId }, 'could not checkpoint a task: not launched');
        this.agentUpdate(run.frameworkId, run.id, run, task.taskId, 'TASK_FAILED', undefined, `the agent could not checkpoint the task: ${(error as Error).message}`);
      },
    );
    return entry;
  }

  /** Sends LAUNCH for a durable task not yet launched, if its executor is connected. */
  deliver(run: ExecutorRun, entry: TaskEntry): void {
    if (!entry.ready || entry.launched || isTerminal(entry.state) || !run.connection?.isOpen) return;
    entry.launched = true;
    run.connection.send({ type: 'LAUNCH', task: entry.info });
  }

  /** Records a status (from an executor, its outbox, or the agent) in its task's stream; the entry takes its state. */
  record(frameworkId: string, executorId: string, entry: TaskEntry | undefined, status: TaskStatus): UpdateReceipt {
    const forwarded: ForwardedStatus = { ...status, source: status.source ?? 'SOURCE_EXECUTOR', agentId: this.#id!, executorId };
    const receipt = this.updates.update(frameworkId, forwarded);
    if (receipt.outcome === 'recorded') {
      if (entry) entry.state = status.state;
      this.metrics.statusUpdatesReceived.inc({ source: forwarded.source });
      // Every status update at info, with the IDs an operator greps for (issue 15).
      this.logger.info(
        { frameworkId, executorId, taskId: status.taskId, state: status.state, source: forwarded.source, ...(status.reason && { reason: status.reason }), uuid: status.uuid },
        `status update ${status.state} for task ${status.taskId}`,
      );
    } else if (receipt.outcome === 'duplicate') {
      this.metrics.statusUpdatesDuplicate.inc();
    }
    return receipt;
  }

  /** A status made by the agent itself (SOURCE_AGENT), recorded and forwarded like any other. Settles when durable. */
  agentUpdate(
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
    const receipt = this.record(frameworkId, executorId, run?.tasks.get(taskId), status);
    return receipt.recorded.catch((error: unknown) => this.logger.error({ err: (error as Error).message, taskId }, 'could not record a status update'));
  }

  #onAcknowledged(update: StatusUpdate): void {
    this.metrics.statusUpdatesAcknowledged.inc();
    const framework = this.#frameworks.get(update.frameworkId);
    const candidates = framework ? [framework.executors.get(update.status.executorId), ...framework.archived] : [];
    const run = candidates.find((candidate) => candidate?.id === update.status.executorId && candidate.tasks.has(update.status.taskId));
    if (run) this.maybeForget(run);
    else if (this.updates.pendingCount(update.frameworkId, update.status.taskId) === 0) {
      this.updates.forget(update.frameworkId, update.status.taskId);
      this.#taskRefs.delete(streamKey(update.frameworkId, update.status.taskId));
    }
  }

  // ---- forgetting and GC -----------------------------------------------------------------------

  /** Forgets a terminated run once every update of its tasks is acknowledged; its gc_delay starts. */
  maybeForget(run: ExecutorRun): void {
    if (!run.is('TERMINATED')) return;
    const framework = run.framework;
    const taskIds = [...run.tasks.keys()];
    // Asked on every acknowledgement of an ended run's updates: counted, not copied (a copy of each
    // stream per ACK made draining an ended run's backlog quadratic).
    if (!framework.terminating && taskIds.some((taskId) => this.updates.pendingCount(run.frameworkId, taskId) > 0)) return;
    for (const taskId of taskIds) {
      const key = streamKey(run.frameworkId, taskId);
      const ref = this.#taskRefs.get(key);
      // The stream belongs to this run unless a newer run of the framework reuses the task ID.
      if (ref !== undefined && !(ref instanceof Promise) && ref.containerId !== run.containerId) continue;
      this.updates.forget(run.frameworkId, taskId);
      this.#taskRefs.delete(key);
    }
    if (framework.executors.get(run.id) === run) framework.executors.delete(run.id);
    framework.archived.delete(run);
    this.#collector.schedule(run);
    this.maybeForgetFramework(framework);
  }

  /** Forgets a framework with nothing left to do (all runs forgotten, or it was shut down and its runs are done). */
  maybeForgetFramework(framework: Framework): void {
    if (this.#loading) return;
    const done = [...framework.executors.values()].every((run) => run.is('TERMINATED'));
    if (!done || ((framework.executors.size > 0 || framework.archived.size > 0) && !framework.terminating)) return;
    if (this.#frameworks.get(framework.info.id) === framework) this.#frameworks.delete(framework.info.id);
    // A removed framework will acknowledge nothing more: drop its streams.
    if (framework.terminating) this.updates.forget(framework.info.id);
  }

  /** Forgets every framework with nothing left to do. */
  forgetDoneFrameworks(): void {
    for (const framework of [...this.#frameworks.values()]) this.maybeForgetFramework(framework);
  }

  /** Stops the gc timers and the runs' kill timers (the agent is stopping). */
  clearTimers(): void {
    for (const run of this.runs(true)) clearTimeout(run.killTimer);
    this.#collector.clear();
  }

  /** --gc_disk_headroom: removes now the completed runs older than `maxAgeMs`; resolves with how many. */
  pruneCompletedRuns(maxAgeMs: number): Promise<number> {
    return this.#collector.prune(maxAgeMs);
  }

  /** Stops the gc timers only (after --recover=cleanup). */
  clearGcTimers(): void {
    this.#collector.clear();
  }
}
