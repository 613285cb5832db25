// The ExecutorDriver's API surface, kept apart from its connection logic: the options and the
// callbacks' types, the test seams, the states and their table of moves, how a callback is called
// (and what happens when it throws), and how an update becomes a TaskStatus.
import { randomUUID } from 'node:crypto';
import type { TaskInfo, TaskStatus } from '../protocol/common.js';
import { InvalidOptionError, show } from '../protocol/errors.js';
import { isValidId } from '../protocol/ids.js';
import { REASONS, TASK_STATES, type Reason, type TaskState } from '../protocol/constants.js';
import type { Transitions } from '../lifecycle/state-machine.js';
import { TOKEN_VARIABLE, readExecutorEnvironment, type ExecutorEnvironment } from './environment.js';
import type { AttemptTrigger, WatchFunction } from './reconnect.js';

type Callback<A extends unknown[]> = (...args: A) => void | Promise<void>;

export interface ExecutorDriverOptions {
  /** The agent launched a task on this executor. */
  onLaunch?: Callback<[task: TaskInfo]>;
  /** Kill a task: SIGTERM, then SIGKILL after `gracePeriodMs`, then report a terminal update. */
  onKill?: Callback<[taskId: string, gracePeriodMs: number]>;
  /**
   * Shut the executor down: kill its tasks within `gracePeriodMs`, report their terminal updates
   * (`update()` records them durably in the outbox even when the agent is away; `flush()` tells
   * when), call `stop()` and exit. Called once: on the agent's SHUTDOWN (also as the answer to a
   * re-SUBSCRIBE: the agent does not know this executor), after an ERROR or a malformed event, when
   * the connection breaks and the framework does not checkpoint, and when the agent has not come
   * back within LIFELINE_RECOVERY_TIMEOUT: then `reason` is `REASON_EXECUTOR_RECOVERY_TIMEOUT`, and
   * the tasks' terminal state should be TASK_FAILED with that reason (otherwise TASK_KILLED).
   * Default: `stop()`, then `process.exit(0)`.
   */
  onShutdown?: Callback<[gracePeriodMs: number, reason: Reason | undefined]>;
  /** A framework message from the scheduler. */
  onMessage?: Callback<[data: Uint8Array]>;
  /**
   * The connection to the agent broke and this executor (its framework checkpoints) now waits for a
   * restarted agent, at most LIFELINE_RECOVERY_TIMEOUT; its tasks keep running, updates wait in the
   * outbox. Informational (Mesos: `disconnected`).
   */
  onDisconnected?: Callback<[error: Error]>;
  /** Subscribed again after onDisconnected: everything unacknowledged has been resent. */
  onResubscribed?: Callback<[]>;
  /**
   * An error: the agent's ERROR (a LifelineError with the agent's code), a malformed event
   * (ERR_PROTOCOL), an outbox that cannot be written (the fs error's code), or an exception thrown
   * by another callback. Without it, errors that end the driver are emitted as process warnings and
   * a throwing callback is rethrown.
   */
  onError?: (error: Error) => void;
}

/** @internal Test seams, not part of the API: a failing fs.watch, no stat poll, short handshakes, attempt tracing. */
export interface DriverInternals {
  watch?: WatchFunction;
  pollIntervalMs?: number;
  handshakeTimeoutMs?: number;
  reconnectHandshakeTimeoutMs?: number;
  onAttempt?: (trigger: AttemptTrigger) => void;
  /** Read the executor environment from this object instead of process.env (several drivers in one process, as the reconnect benchmark runs them); its token is deleted from it. */
  env?: NodeJS.ProcessEnv;
  /** The backlog's bound (default BACKLOG_MAX_UPDATES / BACKLOG_MAX_BYTES of backlog.ts). */
  maxBacklogUpdates?: number;
  maxBacklogBytes?: number;
}

/** A status update as an executor makes it; the driver fills in uuid, timestamp and source. */
export interface ExecutorUpdate {
  taskId: string;
  state: TaskState;
  message?: string;
  reason?: Reason;
  data?: Uint8Array;
}

/** Connection states. NEW: not started; DISCONNECTED: no connection (between attempts); STOPPED: stop() ran. */
export type DriverState = 'NEW' | 'CONNECTING' | 'SUBSCRIBING' | 'SUBSCRIBED' | 'DISCONNECTED' | 'STOPPED';

export const DRIVER_TRANSITIONS: Transitions<DriverState> = {
  NEW: ['CONNECTING', 'STOPPED'],
  CONNECTING: ['SUBSCRIBING', 'DISCONNECTED', 'STOPPED'],
  SUBSCRIBING: ['SUBSCRIBED', 'DISCONNECTED', 'STOPPED'],
  SUBSCRIBED: ['DISCONNECTED', 'STOPPED'],
  DISCONNECTED: ['CONNECTING', 'STOPPED'],
  STOPPED: [],
};

export const CALLBACKS = ['onLaunch', 'onKill', 'onShutdown', 'onMessage', 'onDisconnected', 'onResubscribed', 'onError'] as const;
const MAX_MESSAGE_LENGTH = 64 * 1024;

/** Validates the callbacks given to the constructor (unknown keys included); returns a copy. */
export function checkCallbacks(options: ExecutorDriverOptions): ExecutorDriverOptions {
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
  return { ...options };
}

/** Calls the user's callbacks: a rejected or throwing one goes to onError (or is rethrown without one). */
export class Callbacks {
  readonly #options: ExecutorDriverOptions;

  constructor(options: ExecutorDriverOptions) {
    this.#options = options;
  }

  has(name: (typeof CALLBACKS)[number]): boolean {
    return this.#options[name] !== undefined;
  }


  call<K extends Exclude<(typeof CALLBACKS)[number], 'onError'>>(name: K, ...args: Parameters<NonNullable<ExecutorDriverOptions[K]>>): void {
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
    this.report(failure);
  }

  report(error: Error): void {
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

/** Reads the environment and deletes the token from it (process.env), valid or not: tasks never inherit it. */
export function takeEnvironment(source: NodeJS.ProcessEnv): ExecutorEnvironment {
  try {
    return readExecutorEnvironment(source);
  } finally {
    delete source[TOKEN_VARIABLE];
  }
}


export function makeStatus(update: ExecutorUpdate): TaskStatus {
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
