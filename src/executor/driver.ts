// ExecutorDriver: the runtime every executor links (the command shim and custom executors alike).
// It subscribes to the agent over its Unix socket, turns the agent's events into callbacks, sends
// status updates and resolves each one when the agent acknowledges it, and keeps what the agent has
// not acknowledged (updates, launched tasks) to send again in every SUBSCRIBE.
//
// The connection has explicit states (NEW → CONNECTING → SUBSCRIBING → SUBSCRIBED → DISCONNECTED,
// and STOPPED from anywhere). A broken connection shuts the executor down; DISCONNECTED →
// CONNECTING is the edge that reconnection (checkpointing frameworks: recovery timer, p-retry
// backoff, fs.watch on the socket's directory, durable outbox) will use.
// The import graph stays small on purpose (DESIGN §10): one of these runs per task.
import { randomUUID } from 'node:crypto';
import {
  IllegalStateError,
  InvalidOptionError,
  LifelineError,
  REASONS,
  TASK_STATES,
  isValidId,
  show,
  EXECUTOR_PROTOCOL_VERSION,
  type ErrorCode,
  type ExecutorEvent,
  type Reason,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from '../protocol/index.js';
import { Backlog } from './backlog.js';
import { AgentConnection } from './connection.js';
import { TOKEN_VARIABLE, readExecutorEnvironment, type ExecutorEnvironment } from './environment.js';

type Callback<A extends unknown[]> = (...args: A) => void | Promise<void>;

export interface ExecutorDriverOptions {
  /** The agent launched a task on this executor. */
  onLaunch?: Callback<[task: TaskInfo]>;
  /** Kill a task: SIGTERM, then SIGKILL after `gracePeriodMs`, then report a terminal update. */
  onKill?: Callback<[taskId: string, gracePeriodMs: number]>;
  /**
   * Shut the executor down: kill its tasks within `gracePeriodMs`, report their terminal updates,
   * call `stop()` and exit. Called once, on the agent's SHUTDOWN, after an ERROR or a malformed
   * event, and when the connection to the agent breaks. Default: `stop()`, then `process.exit(0)`.
   */
  onShutdown?: Callback<[gracePeriodMs: number]>;
  /** A framework message from the scheduler. */
  onMessage?: Callback<[data: Uint8Array]>;
  /**
   * An error: the agent's ERROR (a LifelineError with the agent's code), a malformed event
   * (ERR_PROTOCOL), or an exception thrown by another callback. Without it, errors that end the
   * driver are emitted as process warnings and a throwing callback is rethrown.
   */
  onError?: (error: Error) => void;
}

/** A status update as an executor makes it; the driver fills in uuid, timestamp and source. */
export interface ExecutorUpdate {
  taskId: string;
  state: TaskState;
  message?: string;
  reason?: Reason;
  data?: Uint8Array;
}

/** Connection states. NEW: not started; DISCONNECTED: the connection broke; STOPPED: stop() ran. */
export type DriverState = 'NEW' | 'CONNECTING' | 'SUBSCRIBING' | 'SUBSCRIBED' | 'DISCONNECTED' | 'STOPPED';

const TRANSITIONS: Readonly<Record<DriverState, readonly DriverState[]>> = {
  NEW: ['CONNECTING', 'STOPPED'],
  CONNECTING: ['SUBSCRIBING', 'DISCONNECTED', 'STOPPED'],
  SUBSCRIBING: ['SUBSCRIBED', 'DISCONNECTED', 'STOPPED'],
  SUBSCRIBED: ['DISCONNECTED', 'STOPPED'],
  DISCONNECTED: ['CONNECTING', 'STOPPED'],
  STOPPED: [],
};

const CALLBACKS = ['onLaunch', 'onKill', 'onShutdown', 'onMessage', 'onError'] as const;
const MAX_MESSAGE_LENGTH = 64 * 1024;

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

export class ExecutorDriver {
  readonly #options: ExecutorDriverOptions;
  readonly #backlog = new Backlog();
  /** The promise of each unacknowledged update() call, by uuid. */
  readonly #pending = new Map<string, Deferred>();
  #state: DriverState = 'NEW';
  #env: ExecutorEnvironment | undefined;
  #connection: AgentConnection | undefined;
  #subscribing: Deferred | undefined;
  /** Updates carried in the SUBSCRIBE in flight; the others go out as UPDATE once SUBSCRIBED. */
  #carried = new Set<string>();
  #shutdownRequested = false;
  #stopped: Promise<void> | undefined;

  constructor(options: ExecutorDriverOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', options, 'an object of callbacks');
    }
    for (const key of Object.keys(options)) {
      if (!(CALLBACKS as readonly string[]).includes(key)) {
        throw new InvalidOptionError(key, (options as Record<string, unknown>)[key], `one of ${CALLBACKS.join(', ')} (unknown option)`);
      }
    }
    for (const name of CALLBACKS) {
      const value = options[name];
      if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(name, value, 'a function');
    }
    this.#options = { ...options };
  }

  /** The connection's state: NEW, CONNECTING, SUBSCRIBING, SUBSCRIBED, DISCONNECTED or STOPPED. */
  get state(): DriverState {
    return this.#state;
  }

  /**
   * Reads the environment (and deletes LIFELINE_EXECUTOR_TOKEN from process.env), connects to the
   * agent and subscribes. Resolves once SUBSCRIBED; rejects with a LifelineError when the
   * environment is missing or invalid (ERR_ENVIRONMENT), the agent cannot be reached
   * (ERR_CONNECTION), or the agent refuses the subscription (its ERROR code, or
   * ERR_UNKNOWN_EXECUTOR when it answers SHUTDOWN). A driver that failed to start is stopped.
   */
  async start(): Promise<void> {
    if (this.#state !== 'NEW') throw new IllegalStateError(`cannot start an executor driver in ${this.#state} state`);
    try {
      this.#env = takeEnvironment();
    } catch (error) {
      await this.stop();
      throw error;
    }
    const subscribed = new Promise<void>((resolve, reject) => (this.#subscribing = { resolve, reject }));
    this.#connect();
    try {
      await subscribed;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Sends a status update; resolves when the agent has acknowledged it. Many may be in flight at
   * once; they are delivered in the order they were made. While the connection is down the update
   * waits (and is carried in the next SUBSCRIBE); stop() rejects the updates still waiting.
   */
  async update(update: ExecutorUpdate): Promise<void> {
    if (this.#state === 'NEW') throw new LifelineError('ERR_NOT_SUBSCRIBED', 'cannot send an update before start()');
    if (this.#state === 'STOPPED') throw new LifelineError('ERR_DRIVER_STOPPED', 'cannot send an update: the executor driver is stopped');
    const status = makeStatus(update);
    const acknowledged = new Promise<void>((resolve, reject) => this.#pending.set(status.uuid, { resolve, reject }));
    // Durable outbox (next issue): append the UPDATE record here, before it is sent.
    this.#backlog.addUpdate(status);
    if (this.#state === 'SUBSCRIBED') this.#connection?.send({ type: 'UPDATE', status });
    return acknowledged;
  }

  /** Sends a framework message to the scheduler (fire and forget, like Mesos). */
  sendMessage(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new InvalidOptionError('data', data, 'a Uint8Array');
    if (this.#state !== 'SUBSCRIBED' || !this.#connection?.send({ type: 'MESSAGE', data: data as Uint8Array<ArrayBuffer> })) {
      throw new LifelineError('ERR_NOT_SUBSCRIBED', `cannot send a message in ${this.#state} state: the executor is not subscribed`);
    }
  }

  /**
   * Closes the connection and clears every timer; updates still waiting for an acknowledgement
   * reject with ERR_DRIVER_STOPPED. Afterwards the driver keeps nothing alive.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#transition('STOPPED');
    const stopped = new LifelineError('ERR_DRIVER_STOPPED', 'the executor driver was stopped');
    this.#subscribing?.reject(stopped);
    this.#subscribing = undefined;
    for (const deferred of this.#pending.values()) deferred.reject(stopped);
    this.#pending.clear();
    this.#stopped = this.#connection ? this.#connection.close(1000, 'executor stopped') : Promise.resolve();
    this.#connection = undefined;
    return this.#stopped;
  }

  #transition(to: DriverState): void {
    if (!TRANSITIONS[this.#state].includes(to)) {
      throw new IllegalStateError(`cannot move the executor driver from ${this.#state} to ${to}`);
    }
    this.#state = to;
  }

  #connect(): void {
    const env = this.#env!;
    this.#transition('CONNECTING');
    const connection: AgentConnection = new AgentConnection(env.agentEndpoint, {
      open: () => {
        if (this.#connection !== connection) return;
        this.#transition('SUBSCRIBING');
        const unacknowledgedUpdates = this.#backlog.updates();
        this.#carried = new Set(unacknowledgedUpdates.map((status) => status.uuid));
        connection.send({
          type: 'SUBSCRIBE',
          frameworkId: env.frameworkId,
          executorId: env.executorId,
          containerId: env.containerId,
          token: env.token,
          protocol: EXECUTOR_PROTOCOL_VERSION,
          unacknowledgedTasks: this.#backlog.tasks(),
          unacknowledgedUpdates,
        });
      },
      event: (event) => {
        if (this.#connection === connection) this.#onEvent(event);
      },
      malformed: (error) => {
        if (this.#connection === connection) this.#onFatal(error);
      },
      closed: (error) => {
        if (this.#connection === connection) this.#onClosed(error);
      },
    });
    this.#connection = connection;
  }

  #onEvent(event: ExecutorEvent): void {
    if (this.#state === 'SUBSCRIBING') {
      this.#onSubscribingEvent(event);
      return;
    }
    switch (event.type) {
      case 'LAUNCH':
        this.#backlog.addTask(event.task);
        this.#call('onLaunch', event.task);
        break;
      case 'KILL':
        this.#call('onKill', event.taskId, event.gracePeriodMs ?? this.#env!.shutdownGracePeriodMs);
        break;
      case 'ACKNOWLEDGED':
        this.#acknowledge(event.uuid);
        break;
      case 'MESSAGE':
        this.#call('onMessage', event.data);
        break;
      case 'SHUTDOWN':
        this.#shutdown(event.gracePeriodMs);
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

  /** Before SUBSCRIBED, anything that goes wrong fails start() instead of calling back. */
  #onSubscribingEvent(event: ExecutorEvent): void {
    switch (event.type) {
      case 'SUBSCRIBED':
        this.#onSubscribed(event.heartbeatIntervalMs);
        return;
      case 'HEARTBEAT':
        return;
      case 'ACKNOWLEDGED':
        this.#acknowledge(event.uuid);
        return;
      case 'ERROR':
        this.#failSubscription(agentError(event.code, event.message));
        return;
      case 'SHUTDOWN':
        this.#failSubscription(
          new LifelineError('ERR_UNKNOWN_EXECUTOR', `the agent answered SUBSCRIBE with SHUTDOWN: it does not know executor ${this.#env!.executorId} (or its framework is gone)`),
        );
        return;
      default:
        this.#failSubscription(new LifelineError('ERR_PROTOCOL', `the agent sent ${event.type} before SUBSCRIBED`));
    }
  }

  #onSubscribed(heartbeatIntervalMs: number): void {
    const connection = this.#connection!;
    this.#transition('SUBSCRIBED');
    connection.startHeartbeats(heartbeatIntervalMs);
    // Updates made after the SUBSCRIBE was sent were not in it: send them now, in order.
    for (const status of this.#backlog.updates()) {
      if (!this.#carried.has(status.uuid)) connection.send({ type: 'UPDATE', status });
    }
    this.#carried.clear();
    const subscribing = this.#subscribing;
    this.#subscribing = undefined;
    subscribing?.resolve();
  }

  #acknowledge(uuid: string): void {
    // Durable outbox (next issue): append the ACK record before resolving.
    if (!this.#backlog.acknowledge(uuid)) return;
    const deferred = this.#pending.get(uuid);
    this.#pending.delete(uuid);
    deferred?.resolve();
  }

  #failSubscription(error: Error): void {
    const subscribing = this.#subscribing;
    this.#subscribing = undefined;
    subscribing?.reject(error);
  }

  /** The agent's ERROR, or a malformed event: report it, then shut down. */
  #onFatal(error: LifelineError): void {
    if (this.#subscribing) {
      this.#failSubscription(error);
      return;
    }
    this.#report(error);
    this.#shutdown(this.#env!.shutdownGracePeriodMs);
  }

  #onClosed(error: LifelineError): void {
    if (this.#state === 'STOPPED') return;
    this.#transition('DISCONNECTED');
    this.#connection = undefined;
    if (this.#subscribing) {
      this.#failSubscription(error);
      return;
    }
    // Not checkpointing: the agent is gone and so are we. Checkpointing frameworks will reconnect
    // here (arm the recovery timer, retry with backoff, watch the socket's directory); until that
    // lands they shut down too.
    this.#shutdown(this.#env!.shutdownGracePeriodMs);
  }

  /** Calls onShutdown once; without one, stops the driver and exits the process. */
  #shutdown(gracePeriodMs: number): void {
    if (this.#shutdownRequested || this.#state === 'STOPPED') return;
    this.#shutdownRequested = true;
    if (this.#options.onShutdown) {
      this.#call('onShutdown', gracePeriodMs);
      return;
    }
    void this.stop().then(() => process.exit(0));
  }

  #call<K extends Exclude<(typeof CALLBACKS)[number], 'onError'>>(name: K, ...args: Parameters<NonNullable<ExecutorDriverOptions[K]>>): void {
    const callback = this.#options[name] as ((...a: unknown[]) => void | Promise<void>) | undefined;
    if (!callback) return;
    try {
      const result = callback(...args);
      if (result && typeof result.then === 'function') result.then(undefined, (error: unknown) => this.#callbackFailed(error));
    } catch (error) {
      this.#callbackFailed(error);
    }
  }

  /** A callback threw: onError gets it; without onError it is rethrown, like an unhandled 'error'. */
  #callbackFailed(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(show(error));
    if (!this.#options.onError) {
      queueMicrotask(() => {
        throw failure;
      });
      return;
    }
    this.#report(failure);
  }

  #report(error: Error): void {
    const onError = this.#options.onError;
    if (!onError) {
      process.emitWarning(error);
      return;
    }
    try {
      onError(error);
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown;
      });
    }
  }
}

/** Reads the environment and deletes the token from process.env, valid or not: tasks never inherit it. */
function takeEnvironment(): ExecutorEnvironment {
  try {
    return readExecutorEnvironment(process.env);
  } finally {
    delete process.env[TOKEN_VARIABLE];
  }
}

function agentError(code: string, message: string): LifelineError {
  return new LifelineError(code as ErrorCode, `the agent reported ${code}: ${message}`);
}

function makeStatus(update: ExecutorUpdate): TaskStatus {
  if (update === null || typeof update !== 'object') throw new InvalidOptionError('update', update, 'an object {taskId, state, ...}');
  const { taskId, state, message, reason, data } = update;
  if (!isValidId(taskId)) throw new InvalidOptionError('taskId', taskId, 'an ID matching ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$');
  if (!(TASK_STATES as readonly unknown[]).includes(state)) throw new InvalidOptionError('state', state, `one of ${TASK_STATES.join(', ')}`);
  if (reason !== undefined && !(REASONS as readonly unknown[]).includes(reason)) {
    throw new InvalidOptionError('reason', reason, `one of ${REASONS.join(', ')}`);
  }
  if (message !== undefined && (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH)) {
    throw new InvalidOptionError('message', message, `a string of at most ${MAX_MESSAGE_LENGTH} characters`);
  }
  if (data !== undefined && !(data instanceof Uint8Array)) throw new InvalidOptionError('data', data, 'a Uint8Array');
  const status: TaskStatus = { taskId, state, uuid: randomUUID(), timestamp: Date.now(), source: 'SOURCE_EXECUTOR' };
  if (reason !== undefined) status.reason = reason;
  if (message !== undefined) status.message = message;
  if (data !== undefined) status.data = data as Uint8Array<ArrayBuffer>;
  return status;
}
