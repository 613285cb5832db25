// ExecutorDriver: the runtime every executor links (the command shim and custom executors alike).
// It subscribes to the agent over its Unix socket, turns the agent's events into callbacks, records
// every status update durably in its outbox before sending it, resolves each one when the agent
// acknowledges it, and keeps what the agent has not acknowledged (updates, launched tasks) to send
// again in every SUBSCRIBE. It writes `.lifeline/shim.json` (who it is, its tasks' process groups)
// so that a restarted agent can find it, and when the agent goes away it either shuts down (the
// framework does not checkpoint) or waits for it: one recovery timer, p-retry backoff plus a watch
// on the socket's directory, then the same SUBSCRIBE with everything still unacknowledged.
//
// Its parts: the connection and its states (driver-link.ts), the update path (driver-updates.ts),
// the API's types and checks (driver-api.ts), the sandbox files (driver-files.ts), the SUBSCRIBE
// (subscription.ts) and the reconnector (reconnect.ts); this module is the policy that ties them.
// The import graph stays small on purpose (DESIGN §10): one of these runs per task, so the
// connection is a session connection over the light Unix transport, never `ws`. Every module is
// imported statically: an upgrade replaces installed files under running executors, so nothing
// may be loaded later from disk (the reconnector, p-retry, signal-exit, process-group kills).
import { processIdentity } from '../process/proc-stat.js';
import type { Reason } from '../protocol/constants.js';
import { IllegalStateError, InvalidOptionError, LifelineError, show } from '../protocol/errors.js';
import type { ExecutorEvent } from '../protocol/executor.js';
import { isValidId } from '../protocol/ids.js';
import type { HandshakeStep } from '../session/handshake.js';
import { HANDSHAKE_TIMEOUT_MS, RECONNECT_HANDSHAKE_TIMEOUT_MS } from './connection.js';
import {
  Callbacks,
  checkCallbacks,
  makeStatus,
  takeEnvironment,
  type DriverInternals,
  type DriverState,
  type ExecutorDriverOptions,
  type ExecutorUpdate,
} from './driver-api.js';
import { installExitHook, prepareFiles } from './driver-files.js';
import { DriverLink, Refusal } from './driver-link.js';
import { UpdateQueue } from './driver-updates.js';
import type { ExecutorEnvironment } from './environment.js';
import type { Outbox } from './outbox.js';
import { RecoveryTimeout, startRecovery, type Recovery } from './reconnect.js';
import type { ShimFile } from './shim-file.js';
import { agentError, subscription } from './subscription.js';

/** How many times a non-checkpointing executor tries its first subscription (see #retryFirstSubscription). */
export const FIRST_SUBSCRIBE_ATTEMPTS = 3;

export type { DriverInternals, DriverState, ExecutorDriverOptions, ExecutorUpdate } from './driver-api.js';

export class ExecutorDriver {
  readonly #callbacks: Callbacks;
  readonly #internals: DriverInternals;
  readonly #link: DriverLink;
  readonly #updates: UpdateQueue;
  #env: ExecutorEnvironment | undefined;
  #outbox: Outbox | undefined;
  #shimFile: ShimFile | undefined;
  #filesReady: Promise<void> | undefined;
  #recovery: Recovery | undefined;
  #exitHook = false;
  #shutdownRequested = false;
  /** The agent refused us or the recovery timer fired: a broken connection is not retried. */
  #giveUp = false;
  #stopped: Promise<void> | undefined;

  constructor(options: ExecutorDriverOptions = {}, /** @internal */ internals: DriverInternals = {}) {
    this.#callbacks = new Callbacks(checkCallbacks(options));
    this.#internals = { ...internals };
    this.#link = new DriverLink({
      handshake: (begin) => this.#subscription(begin),
      // Updates that became durable after the SUBSCRIBE was sent were not in it: send them now, in order.
      subscribed: () => this.#updates.pump(),
      event: (event) => this.#onEvent(event),
      fatal: (error) => this.#onFatal(error),
      broken: (error) => this.#onBroken(error),
    });
    this.#updates = new UpdateQueue(
      { subscribed: () => this.#link.state === 'SUBSCRIBED', send: (call) => this.#link.send(call) },
      { maxBacklogUpdates: this.#internals.maxBacklogUpdates, maxBacklogBytes: this.#internals.maxBacklogBytes },
    );
  }

  /** The connection's state: NEW, CONNECTING, SUBSCRIBING, SUBSCRIBED, DISCONNECTED or STOPPED. */
  get state(): DriverState {
    return this.#link.state;
  }

  /** @internal Counters for tests and benchmarks. */
  get diagnostics(): { outboxSyncs: number; outboxRecords: number; attempts: number; recovering: boolean } {
    const stats = this.#outbox?.stats;
    return { outboxSyncs: stats?.syncs ?? 0, outboxRecords: stats?.records ?? 0, attempts: this.#link.attempts, recovering: this.#recovery !== undefined };
  }

  /**
   * Reads the environment (and deletes LIFELINE_EXECUTOR_TOKEN from process.env), writes
   * `.lifeline/shim.json`, opens `.lifeline/outbox.log`, connects to the agent and subscribes.
   * Resolves once SUBSCRIBED. Rejects with a LifelineError when the environment is missing or
   * invalid or the sandbox cannot be written (ERR_ENVIRONMENT), the agent refuses the subscription
   * (its ERROR code, or ERR_UNKNOWN_EXECUTOR when it answers SHUTDOWN), or cannot be reached: when
   * the framework does not checkpoint, with ERR_CONNECTION at once if nothing listens on the socket,
   * or after FIRST_SUBSCRIBE_ATTEMPTS handshakes that failed or timed out; otherwise the driver keeps trying, as
   * after a broken connection, and rejects with ERR_TIMEOUT when LIFELINE_RECOVERY_TIMEOUT passes.
   * A driver that failed to start is stopped.
   */
  async start(): Promise<void> {
    if (this.#link.state !== 'NEW') throw new IllegalStateError(`cannot start an executor driver in ${this.#link.state} state`);
    let env: ExecutorEnvironment;
    try {
      env = this.#env = takeEnvironment(this.#internals.env ?? process.env);
      this.#updates.boundBy({ maxBacklogUpdates: env.backlogMaxUpdates, maxBacklogBytes: env.backlogMaxBytes });
      this.#filesReady = this.#prepareFiles(env);
    } catch (error) {
      await this.stop();
      throw error;
    }
    try {
      try {
        await this.#attempt(this.#internals.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
      } catch (error) {
        if (error instanceof Refusal || this.#stopped) throw error;
        // The agent may have died right after launching us: a checkpointing executor waits for it.
        if (env.checkpoint) await this.#reconnect();
        else await this.#retryFirstSubscription(error);
      }
    } catch (error) {
      await this.stop();
      throw error instanceof Refusal ? error.error : error;
    }
  }

  /**
   * A non-checkpointing executor has no agent to wait for if its agent is gone, but an agent that
   * is there and slow (a hundred executors starting at once on two cores) is worth a few more
   * tries: FIRST_SUBSCRIBE_ATTEMPTS in all, each with the first handshake's deadline. A socket
   * that is missing or refuses connections means there is no agent: that fails at once.
   */
  async #retryFirstSubscription(failure: unknown): Promise<void> {
    let last = failure;
    for (let attempt = 2; attempt <= FIRST_SUBSCRIBE_ATTEMPTS; attempt++) {
      const cause = ((last as Error | undefined)?.cause as NodeJS.ErrnoException | undefined)?.code;
      if (last instanceof Refusal || this.#stopped || cause === 'ENOENT' || cause === 'ECONNREFUSED') break;
      try {
        await this.#attempt(this.#internals.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
        return;
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  /**
   * Sends a status update; resolves when the agent has acknowledged it. The update is first
   * recorded in the outbox and made durable (updates made in the same turn share one fdatasync),
   * then sent. Many may be in flight at once; they are delivered in the order they were made. While
   * the connection is down the update waits (and is carried in the next SUBSCRIBE); stop() rejects
   * the updates still waiting.
   */
  async update(update: ExecutorUpdate): Promise<void> {
    if (this.#link.state === 'NEW') throw new LifelineError('ERR_NOT_SUBSCRIBED', 'cannot send an update before start()');
    if (this.#link.state === 'STOPPED') throw new LifelineError('ERR_DRIVER_STOPPED', 'cannot send an update: the executor driver is stopped');
    return this.#updates.add(makeStatus(update));
  }

  /**
   * Resolves once every update made so far is durable in the outbox (acknowledged or not): after
   * that, a restarted agent learns them even if this process dies.
   */
  flush(): Promise<void> {
    return this.#outbox?.flush() ?? Promise.resolve();
  }

  /**
   * Records a task's process group in `.lifeline/shim.json` (with its leader's start time, read
   * now); resolves once that is durable. Call it after spawning the task's process group and before
   * reporting TASK_RUNNING: a restarted agent that finds this executor dead kills that group. The
   * group also gets SIGKILL if this process exits with it still recorded (a synchronous exit hook).
   * A leader that is already gone is not recorded.
   */
  async trackTaskGroup(taskId: string, pgid: number): Promise<void> {
    if (!isValidId(taskId)) throw new InvalidOptionError('taskId', taskId, 'an ID matching ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$');
    if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new InvalidOptionError('pgid', pgid, 'a process group ID greater than 1');
    if (!this.#shimFile || this.#link.state === 'STOPPED') throw new IllegalStateError(`cannot track a task's process group in ${this.#link.state} state`);
    const leader = processIdentity(pgid);
    if (!leader) return;
    await this.#installExitHook();
    await this.#shimFile.setTask({ taskId, pgid, startTime: leader.startTime });
  }

  /** Forgets a task's process group (it has ended); resolves once shim.json says so. */
  async untrackTaskGroup(taskId: string): Promise<void> {
    await this.#shimFile?.deleteTask(taskId);
  }

  /** Sends a framework message to the scheduler (fire and forget, like Mesos). */
  sendMessage(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new InvalidOptionError('data', data, 'a Uint8Array');
    if (this.#link.state !== 'SUBSCRIBED' || !this.#link.send({ type: 'MESSAGE', data: data as Uint8Array<ArrayBuffer> })) {
      throw new LifelineError('ERR_NOT_SUBSCRIBED', `cannot send a message in ${this.#link.state} state: the executor is not subscribed`);
    }
  }

  /**
   * Closes the connection, stops reconnecting, clears every timer and watcher, and closes the
   * outbox once what was appended to it is written; updates still waiting for an acknowledgement
   * reject with ERR_DRIVER_STOPPED. Afterwards the driver keeps nothing alive.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    const stopped = new LifelineError('ERR_DRIVER_STOPPED', 'the executor driver was stopped');
    this.#link.stop(stopped);
    this.#updates.stop(stopped);
    const recovery = this.#recovery;
    if (recovery) {
      clearTimeout(recovery.timer);
      recovery.cancel(stopped);
    }
    this.#link.close(1000, 'executor stopped');
    this.#stopped = (async () => {
      await recovery?.done.catch(() => {});
      await this.#link.closed();
      await this.#outbox?.close();
      await this.#shimFile?.idle();
    })();
    return this.#stopped;
  }

  // ---- files ----

  /** `.lifeline/` made durably, then shim.json written and the outbox opened, side by side. */
  #prepareFiles(env: ExecutorEnvironment): Promise<void> {
    const files = prepareFiles(env, (error) => this.#callbacks.report(error));
    this.#shimFile = files.shimFile;
    this.#outbox = files.outbox;
    this.#updates.attach(files.outbox);
    return files.ready;
  }

  /** The last resort on every way out that runs JavaScript: SIGKILL the recorded task groups. */
  async #installExitHook(): Promise<void> {
    if (this.#exitHook) return;
    this.#exitHook = true;
    installExitHook(() => this.#shimFile?.tasks ?? []);
  }

  // ---- subscribed ----

  #attempt(handshakeTimeoutMs: number): Promise<void> {
    return this.#link.attempt(this.#env!.agentEndpoint, handshakeTimeoutMs);
  }

  /** The handshake (subscription.ts): SUBSCRIBE with what is unacknowledged, then SUBSCRIBED. */
  #subscription(begin: () => boolean): HandshakeStep<ExecutorEvent, number> {
    return subscription({
      env: this.#env!,
      backlog: this.#updates.backlog,
      ready: async () => {
        await this.#filesReady;
        // Every update made so far goes in the SUBSCRIBE, once durable (an fdatasync under way at
        // most; not while the outbox waits for a full disk: those follow as UPDATE once durable).
        await this.#outbox!.quiet();
      },
      begin,
      sentUpTo: (seq) => this.#updates.sentUpTo(seq),
      acknowledge: (uuid) => this.#updates.acknowledge(uuid),
    });
  }

  #onEvent(event: ExecutorEvent): void {
    switch (event.type) {
      case 'LAUNCH':
        this.#updates.backlog.addTask(event.task);
        this.#callbacks.call('onLaunch', event.task);
        break;
      case 'KILL':
        this.#callbacks.call('onKill', event.taskId, event.gracePeriodMs ?? this.#env!.shutdownGracePeriodMs);
        break;
      case 'ACKNOWLEDGED':
        this.#updates.acknowledge(event.uuid);
        break;
      case 'MESSAGE':
        this.#callbacks.call('onMessage', event.data);
        break;
      case 'SHUTDOWN':
        this.#shutdown(event.gracePeriodMs, undefined);
        break;
      case 'HEARTBEAT':
        break;
      case 'ERROR':
        this.#link.fail(agentError(event.code, event.message));
        break;
      case 'SUBSCRIBED':
        this.#link.fail(new LifelineError('ERR_PROTOCOL', 'the agent sent SUBSCRIBED to an executor that is already subscribed'));
        break;
    }
  }

  /** The agent's ERROR, or a malformed event, once subscribed: report it, then shut down. */
  #onFatal(error: LifelineError): void {
    this.#giveUp = true;
    this.#callbacks.report(error);
    this.#shutdown(this.#env!.shutdownGracePeriodMs, undefined);
  }

  // ---- the agent went away ----

  /** A subscribed connection broke (close, error, or missed heartbeats). */
  #onBroken(error: LifelineError): void {
    const env = this.#env!;
    if (!env.checkpoint) {
      // The agent is gone and so are we: nothing of a non-checkpointing framework survives it.
      this.#shutdown(env.shutdownGracePeriodMs, undefined);
      return;
    }
    if (this.#giveUp) return;
    this.#callbacks.call('onDisconnected', error);
    this.#reconnect().then(
      () => this.#callbacks.call('onResubscribed'),
      (failure: unknown) => this.#recoveryFailed(failure),
    );
  }

  /**
   * Arms the recovery timer and tries to subscribe again until it fires. Resolves once SUBSCRIBED;
   * rejects with a Refusal, a RecoveryTimeout, or ERR_DRIVER_STOPPED.
   */
  #reconnect(): Promise<void> {
    if (this.#recovery) return this.#recovery.done;
    const env = this.#env!;
    // One timer per disconnection, and it keeps the process alive while we wait (no unref).
    this.#recovery = startRecovery({
      attempt: () => this.#attempt(this.#internals.reconnectHandshakeTimeoutMs ?? RECONNECT_HANDSHAKE_TIMEOUT_MS),
      isFatal: (error) => error instanceof Refusal,
      socketPath: env.agentEndpoint,
      backoffMaxMs: env.subscriptionBackoffMaxMs,
      watch: this.#internals.watch,
      pollIntervalMs: this.#internals.pollIntervalMs,
      onAttempt: this.#internals.onAttempt,
      recoveryTimeoutMs: env.recoveryTimeoutMs,
      stillWaiting: () => !this.#link.is('SUBSCRIBED', 'STOPPED'),
      // An attempt under way fails now, so that the reconnector can settle.
      onTimeout: (timeout) => this.#link.abandon(timeout, 'recovery timeout'),
      onSettled: () => (this.#recovery = undefined),
    });
    return this.#recovery.done;
  }

  #recoveryFailed(error: unknown): void {
    if (this.#link.state === 'STOPPED') return;
    this.#giveUp = true;
    const grace = this.#env!.shutdownGracePeriodMs;
    if (error instanceof RecoveryTimeout) {
      this.#shutdown(grace, 'REASON_EXECUTOR_RECOVERY_TIMEOUT');
    } else if (error instanceof Refusal && error.shutdownGracePeriodMs !== undefined) {
      this.#shutdown(error.shutdownGracePeriodMs, undefined);
    } else {
      this.#callbacks.report(error instanceof Refusal ? error.error : error instanceof Error ? error : new Error(show(error)));
      this.#shutdown(grace, undefined);
    }
  }

  /** Calls onShutdown once; without one, stops the driver and exits the process. */
  #shutdown(gracePeriodMs: number, reason: Reason | undefined): void {
    if (this.#shutdownRequested || this.#link.state === 'STOPPED') return;
    this.#shutdownRequested = true;
    if (this.#callbacks.has('onShutdown')) {
      this.#callbacks.call('onShutdown', gracePeriodMs, reason);
      return;
    }
    void this.stop().then(() => process.exit(0));
  }
}
