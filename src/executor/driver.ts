// ExecutorDriver: the runtime every executor links (the command shim and custom executors alike).
// It subscribes to the agent over its Unix socket, turns the agent's events into callbacks, records
// every status update durably in its outbox before sending it, resolves each one when the agent
// acknowledges it, and keeps what the agent has not acknowledged (updates, launched tasks) to send
// again in every SUBSCRIBE. It writes `.lifeline/shim.json` (who it is, its tasks' process groups)
// so that a restarted agent can find it, and when the agent goes away it either shuts down (the
// framework does not checkpoint) or waits for it: one recovery timer, p-retry backoff plus a watch
// on the socket's directory, then the same SUBSCRIBE with everything still unacknowledged.
//
// The connection has explicit states (NEW → CONNECTING → SUBSCRIBING → SUBSCRIBED; a failed attempt
// or a broken connection → DISCONNECTED → CONNECTING again; STOPPED from anywhere).
// The import graph stays small on purpose (DESIGN §10): one of these runs per task, so the
// connection is a session connection over the light Unix transport, never `ws`. Every module is
// imported statically: an upgrade replaces installed files under running executors, so nothing
// may be loaded later from disk (the reconnector, p-retry, signal-exit, process-group kills).
import { StateMachine } from '../lifecycle/state-machine.js';
import { processIdentity } from '../process/proc-stat.js';
import type { Reason } from '../protocol/constants.js';
import { IllegalStateError, InvalidOptionError, LifelineError, show } from '../protocol/errors.js';
import type { TaskStatus as ExecutorStatus } from '../protocol/common.js';
import type { ExecutorCall, ExecutorEvent } from '../protocol/executor.js';
import { isValidId } from '../protocol/ids.js';
import { encode } from '../protocol/msgpack.js';
import { UnknownTypeError } from '../protocol/tolerant.js';
import { SessionConnection } from '../session/connection.js';
import { HandshakeRefused, type HandshakeStep } from '../session/handshake.js';
import { Backlog } from './backlog.js';
import { HANDSHAKE_TIMEOUT_MS, RECONNECT_HANDSHAKE_TIMEOUT_MS, agentPeer } from './connection.js';
import {
  Callbacks,
  DRIVER_TRANSITIONS,
  checkCallbacks,
  makeStatus,
  takeEnvironment,
  type DriverInternals,
  type DriverState,
  type ExecutorDriverOptions,
  type ExecutorUpdate,
} from './driver-api.js';
import { installExitHook, prepareFiles } from './driver-files.js';
import type { ExecutorEnvironment } from './environment.js';
import type { Outbox } from './outbox.js';
import { RecoveryTimeout, startRecovery, type Recovery } from './reconnect.js';
import type { ShimFile } from './shim-file.js';
import { agentError, subscription } from './subscription.js';

/** How many times a non-checkpointing executor tries its first subscription (see #retryFirstSubscription). */
export const FIRST_SUBSCRIBE_ATTEMPTS = 3;

export type { DriverInternals, DriverState, ExecutorDriverOptions, ExecutorUpdate } from './driver-api.js';

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * An attempt the agent answered with a refusal (ERROR, SHUTDOWN, a malformed event): trying again
 * is pointless. `shutdownGracePeriodMs` is set when the answer was SHUTDOWN.
 */
class Refusal extends Error {
  constructor(
    readonly error: LifelineError,
    readonly shutdownGracePeriodMs?: number,
  ) {
    super(error.message);
  }
}

export class ExecutorDriver {
  readonly #callbacks: Callbacks;
  readonly #internals: DriverInternals;
  readonly #backlog = new Backlog();
  /** The promise of each unacknowledged update() call, by uuid. */
  readonly #pending = new Map<string, Deferred>();
  /** update() calls waiting for room in a full backlog, in call order. */
  #waitingForRoom: Array<{ status: ExecutorStatus; admit: () => void }> = [];
  readonly #machine = new StateMachine<DriverState>('the executor driver', 'NEW', DRIVER_TRANSITIONS);
  #env: ExecutorEnvironment | undefined;
  #connection: SessionConnection<ExecutorEvent, number> | undefined;
  /** Connections being closed, awaited by stop(). */
  readonly #closing = new Set<Promise<void>>();
  /** The attempt under way: settles on SUBSCRIBED, or when the attempt fails. */
  #handshake: Deferred | undefined;
  /** The last update (by seq) sent on the current connection, in SUBSCRIBE or as UPDATE. */
  #sentUpTo = 0;
  #outbox: Outbox | undefined;
  #shimFile: ShimFile | undefined;
  #filesReady: Promise<void> | undefined;
  #recovery: Recovery | undefined;
  #attempts = 0;
  #exitHook = false;
  #shutdownRequested = false;
  /** The agent refused us or the recovery timer fired: a broken connection is not retried. */
  #giveUp = false;
  #stopped: Promise<void> | undefined;

  constructor(options: ExecutorDriverOptions = {}, /** @internal */ internals: DriverInternals = {}) {
    this.#callbacks = new Callbacks(checkCallbacks(options));
    this.#internals = { ...internals };
  }

  /** The connection's state: NEW, CONNECTING, SUBSCRIBING, SUBSCRIBED, DISCONNECTED or STOPPED. */
  get state(): DriverState {
    return this.#machine.state;
  }

  /** @internal Counters for tests and benchmarks. */
  get diagnostics(): { outboxSyncs: number; outboxRecords: number; attempts: number; recovering: boolean } {
    const stats = this.#outbox?.stats;
    return { outboxSyncs: stats?.syncs ?? 0, outboxRecords: stats?.records ?? 0, attempts: this.#attempts, recovering: this.#recovery !== undefined };
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
    if (this.#machine.state !== 'NEW') throw new IllegalStateError(`cannot start an executor driver in ${this.#machine.state} state`);
    let env: ExecutorEnvironment;
    try {
      env = this.#env = takeEnvironment(this.#internals.env ?? process.env);
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
    if (this.#machine.state === 'NEW') throw new LifelineError('ERR_NOT_SUBSCRIBED', 'cannot send an update before start()');
    if (this.#machine.state === 'STOPPED') throw new LifelineError('ERR_DRIVER_STOPPED', 'cannot send an update: the executor driver is stopped');
    const status = makeStatus(update);
    const acknowledged = new Promise<void>((resolve, reject) => this.#pending.set(status.uuid, { resolve, reject }));
    const admit = () => {
      const entry = this.#backlog.addUpdate(status);
      // Durable after as many retries as the disk needs (outbox.ts); rejected only when stopped.
      this.#outbox!.appendUpdate(status).then(
        () => {
          entry.durable = true;
          this.#pump();
        },
        () => {},
      );
    };
    // A full backlog (backlog.ts): the update waits, in call order, for an acknowledgement to make room.
    if (this.#waitingForRoom.length > 0 || this.#backlogFull(status)) this.#waitingForRoom.push({ status, admit });
    else admit();
    return acknowledged;
  }

  #backlogFull(status: ExecutorStatus): boolean {
    return this.#backlog.isFull(status, this.#internals.maxBacklogUpdates, this.#internals.maxBacklogBytes);
  }

  /** After an acknowledgement: the updates waiting for room go, in order, while there is room. */
  #admitWaiting(): void {
    while (this.#waitingForRoom.length > 0 && this.#machine.state !== 'STOPPED') {
      const next = this.#waitingForRoom[0]!;
      if (this.#backlogFull(next.status)) return;
      this.#waitingForRoom.shift();
      next.admit();
    }
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
    if (!this.#shimFile || this.#machine.state === 'STOPPED') throw new IllegalStateError(`cannot track a task's process group in ${this.#machine.state} state`);
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
    if (this.#machine.state !== 'SUBSCRIBED' || !this.#send({ type: 'MESSAGE', data: data as Uint8Array<ArrayBuffer> })) {
      throw new LifelineError('ERR_NOT_SUBSCRIBED', `cannot send a message in ${this.#machine.state} state: the executor is not subscribed`);
    }
  }

  /**
   * Closes the connection, stops reconnecting, clears every timer and watcher, and closes the
   * outbox once what was appended to it is written; updates still waiting for an acknowledgement
   * reject with ERR_DRIVER_STOPPED. Afterwards the driver keeps nothing alive.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#transition('STOPPED');
    const stopped = new LifelineError('ERR_DRIVER_STOPPED', 'the executor driver was stopped');
    const handshake = this.#handshake;
    this.#handshake = undefined;
    handshake?.reject(stopped);
    for (const deferred of this.#pending.values()) deferred.reject(stopped);
    this.#pending.clear();
    this.#waitingForRoom = [];
    const recovery = this.#recovery;
    if (recovery) {
      clearTimeout(recovery.timer);
      recovery.cancel(stopped);
    }
    this.#closeConnection(1000, 'executor stopped');
    this.#stopped = (async () => {
      await recovery?.done.catch(() => {});
      await Promise.all(this.#closing);
      await this.#outbox?.close();
      await this.#shimFile?.idle();
    })();
    return this.#stopped;
  }

  #transition(to: DriverState): void {
    this.#machine.transition(to);
  }

  // ---- files ----

  /** `.lifeline/` made durably, then shim.json written and the outbox opened, side by side. */
  #prepareFiles(env: ExecutorEnvironment): Promise<void> {
    const files = prepareFiles(env, (error) => this.#callbacks.report(error));
    this.#shimFile = files.shimFile;
    this.#outbox = files.outbox;
    return files.ready;
  }

  /** The last resort on every way out that runs JavaScript: SIGKILL the recorded task groups. */
  async #installExitHook(): Promise<void> {
    if (this.#exitHook) return;
    this.#exitHook = true;
    installExitHook(() => this.#shimFile?.tasks ?? []);
  }

  // ---- connecting ----

  /** One attempt: connect, SUBSCRIBE, wait for SUBSCRIBED. Rejects with a Refusal when the agent refused us. */
  #attempt(handshakeTimeoutMs: number): Promise<void> {
    const env = this.#env!;
    this.#attempts += 1;
    return new Promise<void>((resolve, reject) => {
      this.#transition('CONNECTING');
      this.#handshake = { resolve, reject };
      const connection: SessionConnection<ExecutorEvent, number> = new SessionConnection<ExecutorEvent, number>({
        ...agentPeer(env.agentEndpoint),
        handshake: this.#subscription(() => this.#connection === connection),
        handshakeTimeoutMs,
        handshakeName: 'subscription',
        onInvalid: (error) => {
          // An event type a newer agent added: ignored (issue 11); any other bad frame is fatal.
          if (error instanceof UnknownTypeError) return 'drop';
          if (this.#connection === connection) this.#onFatal(error);
          return 'close';
        },
        onAccepted: () => {
          if (this.#connection === connection) this.#onSubscribed();
        },
        onFrame: (event) => {
          if (this.#connection === connection) this.#onEvent(event);
        },
        onClosed: (error) => {
          if (this.#connection === connection) this.#onClosed(error);
        },
      });
      connection.ready.catch((error: unknown) => {
        if (this.#connection === connection && error instanceof HandshakeRefused) this.#refuse(new Refusal(error.error, error.detail as number | undefined));
      });
      this.#connection = connection;
    });
  }

  /** The handshake (subscription.ts): SUBSCRIBE with what is unacknowledged, then SUBSCRIBED. */
  #subscription(current: () => boolean): HandshakeStep<ExecutorEvent, number> {
    return subscription({
      env: this.#env!,
      backlog: this.#backlog,
      ready: async () => {
        await this.#filesReady;
        // Every update made so far goes in the SUBSCRIBE, once durable (an fdatasync under way at
        // most; not while the outbox waits for a full disk: those follow as UPDATE once durable).
        await this.#outbox!.quiet();
      },
      begin: () => {
        if (!current() || this.#machine.state !== 'CONNECTING') return false;
        this.#transition('SUBSCRIBING');
        return true;
      },
      sentUpTo: (seq) => (this.#sentUpTo = seq),
      acknowledge: (uuid) => this.#acknowledge(uuid),
    });
  }

  #send(call: ExecutorCall): boolean {
    return this.#connection?.send(encode(call)) ?? false;
  }

  #onEvent(event: ExecutorEvent): void {
    switch (event.type) {
      case 'LAUNCH':
        this.#backlog.addTask(event.task);
        this.#callbacks.call('onLaunch', event.task);
        break;
      case 'KILL':
        this.#callbacks.call('onKill', event.taskId, event.gracePeriodMs ?? this.#env!.shutdownGracePeriodMs);
        break;
      case 'ACKNOWLEDGED':
        this.#acknowledge(event.uuid);
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
        this.#onFatal(agentError(event.code, event.message));
        break;
      case 'SUBSCRIBED':
        this.#onFatal(new LifelineError('ERR_PROTOCOL', 'the agent sent SUBSCRIBED to an executor that is already subscribed'));
        break;
    }
  }

  /** SUBSCRIBED: the session connection has started the heartbeats. */
  #onSubscribed(): void {
    this.#transition('SUBSCRIBED');
    // Updates that became durable after the SUBSCRIBE was sent were not in it: send them now, in order.
    this.#pump();
    const handshake = this.#handshake;
    this.#handshake = undefined;
    handshake?.resolve();
  }

  /** Sends, in order, every durable update not yet sent on this connection; stops at the first that is not durable. */
  #pump(): void {
    if (this.#machine.state !== 'SUBSCRIBED') return;
    for (const entry of this.#backlog.entries()) {
      if (entry.seq <= this.#sentUpTo) continue;
      if (!entry.durable) break;
      this.#send({ type: 'UPDATE', status: entry.status });
      this.#sentUpTo = entry.seq;
    }
  }

  #acknowledge(uuid: string): void {
    if (!this.#backlog.acknowledge(uuid)) return;
    this.#outbox?.appendAck(uuid);
    const deferred = this.#pending.get(uuid);
    this.#pending.delete(uuid);
    deferred?.resolve();
    this.#admitWaiting();
  }

  /** The agent refused the attempt under way: drop the connection and fail the attempt for good. */
  #refuse(refusal: Refusal): void {
    const handshake = this.#handshake;
    this.#handshake = undefined;
    this.#closeConnection(1000, 'subscription refused');
    handshake?.reject(refusal);
  }

  /** The agent's ERROR, or a malformed event: report it, then shut down. */
  #onFatal(error: LifelineError): void {
    if (this.#handshake) {
      this.#refuse(new Refusal(error));
      return;
    }
    this.#giveUp = true;
    this.#callbacks.report(error);
    this.#shutdown(this.#env!.shutdownGracePeriodMs, undefined);
  }

  #onClosed(error: LifelineError): void {
    if (this.#machine.state === 'STOPPED') return;
    this.#connection = undefined;
    this.#transition('DISCONNECTED');
    const handshake = this.#handshake;
    if (handshake) {
      this.#handshake = undefined;
      handshake.reject(error);
      return;
    }
    this.#onBroken(error);
  }

  /** Drops the current connection (its close is awaited by stop()); an attempt under way fails. */
  #closeConnection(code: number, reason: string): void {
    const connection = this.#connection;
    if (!connection) return;
    this.#connection = undefined;
    if (this.#machine.state !== 'STOPPED' && this.#machine.state !== 'DISCONNECTED') this.#transition('DISCONNECTED');
    const closing = connection.close(code, reason);
    this.#closing.add(closing);
    void closing.then(() => this.#closing.delete(closing));
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
      stillWaiting: () => !this.#machine.is('SUBSCRIBED', 'STOPPED'),
      onTimeout: (timeout) => {
        // An attempt under way fails now, so that the reconnector can settle.
        const handshake = this.#handshake;
        this.#handshake = undefined;
        this.#closeConnection(1000, 'recovery timeout');
        handshake?.reject(timeout);
      },
      onSettled: () => (this.#recovery = undefined),
    });
    return this.#recovery.done;
  }

  #recoveryFailed(error: unknown): void {
    if (this.#machine.state === 'STOPPED') return;
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
    if (this.#shutdownRequested || this.#machine.state === 'STOPPED') return;
    this.#shutdownRequested = true;
    if (this.#callbacks.has('onShutdown')) {
      this.#callbacks.call('onShutdown', gracePeriodMs, reason);
      return;
    }
    void this.stop().then(() => process.exit(0));
  }

}


