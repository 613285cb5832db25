// A framework's client of the master (DESIGN §8): typed callbacks, automatic acknowledgement, and
// reconnection that re-subscribes with the framework ID, so a dropped connection loses neither the
// framework nor its calls (queued while disconnected). Callbacks run one at a time, in event order.
import pRetry, { AbortError } from 'p-retry';
import WebSocket from 'ws';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import {
  ConnectionError,
  IllegalStateError,
  InvalidOptionError,
  LifelineError,
  assertId,
  decodeFrame,
  encode,
  show,
  toBuffer,
  validate,
  type ErrorCode,
  type NewTaskInfo,
  type Offer,
  type RoutedTaskStatus,
  SchedulerCall,
  SchedulerEvent,
} from '../protocol/index.js';
import { formatAddress, parseAddress } from './address.js';

export type FailureEvent = Extract<SchedulerEvent, { type: 'FAILURE' }>;

export interface SchedulerFrameworkInfo {
  /** Shown in the master's /state. */
  name: string;
  /** The ID of an existing framework to fail over to (a restarted scheduler taking over its tasks). */
  id?: string;
  /** Ask for checkpointing agents only; the framework's tasks survive an agent restart. Default false. */
  checkpoint?: boolean;
  /** How long the master keeps the framework (and its tasks) after the scheduler disconnects. Default 0. */
  failoverTimeoutMs?: number;
}

type Callback<A extends unknown[]> = (...args: A) => void | Promise<void>;

export interface SchedulerDriverOptions {
  /** The master's scheduler endpoint, `HOST:PORT`. */
  master: string;
  frameworkInfo: SchedulerFrameworkInfo;
  /** Acknowledge every UPDATE that carries a uuid once onUpdate has returned (or resolved). Default true. */
  autoAcknowledge?: boolean;
  /** Subscribed (first time, and again after every reconnection) with this framework ID. */
  onSubscribed?: Callback<[frameworkId: string]>;
  onOffers?: Callback<[offers: Offer[]]>;
  onRescind?: Callback<[offerId: string]>;
  onUpdate?: Callback<[status: RoutedTaskStatus]>;
  onMessage?: Callback<[agentId: string, executorId: string, data: Uint8Array]>;
  onFailure?: Callback<[event: FailureEvent]>;
  /**
   * An error. When `driver.state` is `'STOPPED'` it is the error that stopped the driver (the
   * master's ERROR); otherwise the driver carries on by itself (a failed connection attempt, a
   * malformed frame from the master, a callback that threw).
   */
  onError?: (error: Error) => void;
  /** The subscription was lost; the driver is reconnecting. */
  onDisconnected?: () => void;
  /** Reconnection backoff: first delay (default 250 ms) and cap (default 10 s). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A connection attempt that is not subscribed after this long fails (default 10 s). */
  connectTimeoutMs?: number;
  /** Largest frame accepted from the master (default 16 MiB: offers from many agents add up). */
  maxFrameBytes?: number;
  logger?: Logger;
}

/**
 * IDLE → CONNECTING → SUBSCRIBING → SUBSCRIBED, falling back to DISCONNECTED (backoff, then
 * CONNECTING again) when a connection breaks or an attempt fails; STOPPED from anywhere, for good.
 */
export type ConnectionState = 'IDLE' | 'CONNECTING' | 'SUBSCRIBING' | 'SUBSCRIBED' | 'DISCONNECTED' | 'STOPPED';

const TRANSITIONS: Record<ConnectionState, readonly ConnectionState[]> = {
  IDLE: ['CONNECTING', 'STOPPED'],
  CONNECTING: ['SUBSCRIBING', 'DISCONNECTED', 'STOPPED'],
  SUBSCRIBING: ['SUBSCRIBED', 'DISCONNECTED', 'STOPPED'],
  SUBSCRIBED: ['DISCONNECTED', 'STOPPED'],
  DISCONNECTED: ['CONNECTING', 'STOPPED'],
  STOPPED: [],
};

const ENDPOINT = '/api/v1/scheduler';
/** The master is presumed gone after this many heartbeat intervals without any frame. */
const MISSED_HEARTBEATS = 3;
/** How long stop() waits for the master to answer the close handshake before cutting the socket. */
const CLOSE_GRACE_MS = 1_000;
const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_INVALID_ID', 'ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE', 'ERR_UNAUTHORIZED', 'ERR_ILLEGAL_STATE', 'ERR_NOT_SUBSCRIBED',
]);

/** The master answered with `ERROR {code, message}` (and closed the connection). */
export class MasterError extends LifelineError {
  /** The code exactly as the master sent it. */
  readonly masterCode: string;

  constructor(master: string, masterCode: string, message: string) {
    super(KNOWN_CODES.has(masterCode) ? (masterCode as ErrorCode) : 'ERR_PROTOCOL', `master at ${master} refused: ${message} [${masterCode}]`);
    this.masterCode = masterCode;
  }
}

/** A call on a driver that has been stopped (or was stopped while the call was waiting). */
export class DriverStoppedError extends LifelineError {
  constructor(what: string) {
    super('ERR_DRIVER_STOPPED', `cannot ${what}: the scheduler driver is stopped`);
  }
}

interface Pending {
  resolve(): void;
  reject(error: Error): void;
}

export class SchedulerDriver {
  readonly #master: string;
  readonly #url: string;
  readonly #frameworkInfo: SchedulerFrameworkInfo;
  readonly #options: SchedulerDriverOptions;
  readonly #autoAcknowledge: boolean;
  readonly #backoffMinMs: number;
  readonly #backoffMaxMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxFrameBytes: number;
  readonly #log: Logger;

  #state: ConnectionState = 'IDLE';
  #frameworkId: string | undefined;
  #ws: WebSocket | undefined;
  /** Calls waiting for a subscription, in the order they were made. */
  #queue: SchedulerCall[] = [];
  /** The current connection attempt, settled by SUBSCRIBED or by the connection failing. */
  #attempt: Pending | undefined;
  #attemptTimer: NodeJS.Timeout | undefined;
  #livenessTimer: NodeJS.Timeout | undefined;
  #heartbeatIntervalMs = 0;
  #retry: AbortController | undefined;
  /** Event callbacks run one after another on this chain. */
  #dispatch: Promise<void> = Promise.resolve();
  #start: { promise: Promise<string>; resolve(id: string): void; reject(error: Error): void } | undefined;
  /** Woken when the driver is next subscribed, or stopped. */
  #subscribedWaiters: Array<() => void> = [];
  #stopped: Promise<void> | undefined;

  constructor(options: SchedulerDriverOptions) {
    checkOptions(options);
    this.#options = options;
    const address = parseAddress(options.master)!;
    this.#master = options.master;
    this.#url = `ws://${formatAddress(address)}${ENDPOINT}`;
    this.#frameworkInfo = { ...options.frameworkInfo };
    this.#frameworkId = options.frameworkInfo.id;
    this.#autoAcknowledge = options.autoAcknowledge ?? true;
    this.#backoffMinMs = options.backoffMinMs ?? 250;
    this.#backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
    this.#log = options.logger ?? silentLogger;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The framework ID, once the master has given one (or the one passed in frameworkInfo.id). */
  get frameworkId(): string | undefined {
    return this.#frameworkId;
  }

  /**
   * Connects and subscribes, retrying with backoff while the master cannot be reached. Resolves
   * with the framework ID; rejects if the master refuses the subscription or stop() is called first.
   */
  start(): Promise<string> {
    if (this.#state !== 'IDLE' || this.#start) throw new IllegalStateError(`cannot start a scheduler driver in ${this.#state} state`);
    let resolve!: (id: string) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#start = { promise, resolve, reject };
    this.#connect();
    return promise;
  }

  /** Launches tasks on the offers (which are used up: what the tasks do not use goes back). */
  accept(offerIds: readonly string[], tasks: readonly NewTaskInfo[]): void {
    offerIds.forEach((id, i) => assertId(`offerIds[${i}]`, id));
    this.#call({ type: 'ACCEPT', offerIds: [...offerIds], tasks: [...tasks] }, 'accept offers');
  }

  /** Gives offers back; the master will not offer those resources again for `refuseSeconds`. */
  decline(offerIds: readonly string[], refuseSeconds?: number): void {
    offerIds.forEach((id, i) => assertId(`offerIds[${i}]`, id));
    const call: SchedulerCall = { type: 'DECLINE', offerIds: [...offerIds] };
    if (refuseSeconds !== undefined) call.refuseSeconds = refuseSeconds;
    this.#call(call, 'decline offers');
  }

  kill(taskId: string): void {
    assertId('taskId', taskId);
    this.#call({ type: 'KILL', taskId }, 'kill a task');
  }

  /** Acknowledges a status update (needed only with `autoAcknowledge: false`). */
  acknowledge(status: Pick<RoutedTaskStatus, 'agentId' | 'taskId' | 'uuid'>): void {
    assertId('status.agentId', status.agentId);
    assertId('status.taskId', status.taskId);
    this.#call({ type: 'ACKNOWLEDGE', agentId: status.agentId!, taskId: status.taskId, uuid: status.uuid! }, 'acknowledge an update');
  }

  /** Asks the master for the latest state of these tasks (all of the framework's if none given). */
  reconcile(taskIds?: readonly string[]): void {
    taskIds?.forEach((id, i) => assertId(`taskIds[${i}]`, id));
    this.#call(taskIds ? { type: 'RECONCILE', taskIds: [...taskIds] } : { type: 'RECONCILE' }, 'reconcile');
  }

  sendMessage(agentId: string, executorId: string, data: Uint8Array): void {
    assertId('agentId', agentId);
    assertId('executorId', executorId);
    this.#call({ type: 'MESSAGE', agentId, executorId, data: data as Uint8Array<ArrayBuffer> }, 'send a message');
  }

  /**
   * Ends the framework: the master kills its tasks and forgets it. Resolves once TEARDOWN has been
   * handed to the connection (waiting for a subscription if need be, at most connectTimeoutMs),
   * then stops the driver.
   */
  async teardown(): Promise<void> {
    if (this.#state === 'STOPPED') throw new DriverStoppedError('tear down the framework');
    if (this.#state === 'IDLE') throw new IllegalStateError('cannot tear down a framework in IDLE state (call start() first)');
    if (this.#state !== 'SUBSCRIBED') await this.#whenSubscribed(this.#connectTimeoutMs);
    const ws = this.#ws;
    if (this.state === 'STOPPED') throw new DriverStoppedError('tear down the framework');
    if (this.state !== 'SUBSCRIBED' || !ws) {
      await this.stop();
      throw new LifelineError('ERR_TIMEOUT', `could not send TEARDOWN: not subscribed to master at ${this.#master} within ${this.#connectTimeoutMs} ms`);
    }
    // stop() closes with a close frame, which ws sends after TEARDOWN: the master sees both, in order.
    ws.send(encode({ type: 'TEARDOWN' }));
    await this.stop();
  }

  /**
   * Closes the connection and cancels every timer and retry: afterwards nothing of the driver keeps
   * the process alive, and no callback is called. Queued calls are dropped. Idempotent.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#stopped = this.#shutdown(new DriverStoppedError('subscribe'));
    return this.#stopped;
  }

  /** Resolves when subscribed or stopped, or after `timeoutMs`. */
  #whenSubscribed(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.#subscribedWaiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i !== -1) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#subscribedWaiters]) wake();
  }

  // --- connection ---------------------------------------------------------------------------

  #transition(to: ConnectionState, action: string): void {
    if (!TRANSITIONS[this.#state].includes(to)) {
      throw new IllegalStateError(`cannot ${action} in ${this.#state} state`);
    }
    this.#log.debug({ from: this.#state, to }, 'scheduler driver state');
    this.#state = to;
  }

  /** Connects (again) with backoff until subscribed, stop() is called, or the master refuses. */
  #connect(): void {
    const retry = new AbortController();
    this.#retry = retry;
    pRetry(() => this.#tryConnect(), {
      retries: Infinity,
      minTimeout: this.#backoffMinMs,
      maxTimeout: this.#backoffMaxMs,
      factor: 2,
      randomize: true,
      signal: retry.signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (this.#state === 'STOPPED') return;
        this.#log.info({ attempt: attemptNumber, err: error.message }, 'connection to master failed; retrying');
        this.#report(error);
      },
    }).then(
      () => {
        if (this.#retry === retry) this.#retry = undefined;
      },
      (error: unknown) => {
        if (this.#retry === retry) this.#retry = undefined;
        // Aborted by stop(), or refused by the master (#fail has already stopped the driver).
        if (this.#state !== 'STOPPED') void this.#fail(error as Error);
      },
    );
  }

  /** One connection attempt: resolves once SUBSCRIBED arrives. */
  #tryConnect(): Promise<void> {
    if (this.#state === 'STOPPED') return Promise.reject(new AbortError(new DriverStoppedError('connect')));
    this.#transition('CONNECTING', 'connect to the master');
    return new Promise<void>((resolve, reject) => {
      this.#attempt = { resolve, reject };
      this.#attemptTimer = setTimeout(() => {
        this.#attemptTimer = undefined;
        this.#ws?.terminate();
        this.#endAttempt(new ConnectionError(`master at ${this.#master} did not complete the subscription within ${this.#connectTimeoutMs} ms`));
      }, this.#connectTimeoutMs);
      const ws = new WebSocket(this.#url, {
        maxPayload: this.#maxFrameBytes,
        handshakeTimeout: this.#connectTimeoutMs,
        perMessageDeflate: false,
      });
      this.#ws = ws;
      let lastError: Error | undefined;
      let opened = false;
      ws.on('error', (error) => {
        lastError = error;
      });
      ws.on('open', () => {
        opened = true;
        if (this.#ws !== ws || this.#state !== 'CONNECTING') return;
        this.#transition('SUBSCRIBING', 'subscribe');
        const frameworkInfo: SchedulerFrameworkInfo = { ...this.#frameworkInfo };
        if (this.#frameworkId !== undefined) frameworkInfo.id = this.#frameworkId;
        ws.send(encode({ type: 'SUBSCRIBE', frameworkInfo }));
      });
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        if (this.#ws === ws) this.#onFrame(ws, toBuffer(data));
      });
      ws.on('close', (code: number, reason: Buffer) => {
        if (this.#ws !== ws) return;
        this.#ws = undefined;
        const why = lastError ? lastError.message : `closed with code ${code}${reason.length ? ` (${reason.toString()})` : ''}`;
        const what = opened ? `connection to master at ${this.#master} lost` : `cannot connect to master at ${this.#master}`;
        this.#onClose(new ConnectionError(`${what}: ${why}`, { cause: lastError }));
      });
    });
  }

  /** Settles the current attempt (success: undefined). */
  #endAttempt(error?: Error): void {
    clearTimeout(this.#attemptTimer);
    this.#attemptTimer = undefined;
    const attempt = this.#attempt;
    this.#attempt = undefined;
    if (!attempt) return;
    if (error) {
      if (this.#state === 'CONNECTING' || this.#state === 'SUBSCRIBING') this.#transition('DISCONNECTED', 'give up a connection attempt');
      attempt.reject(error);
    } else {
      attempt.resolve();
    }
  }

  #onClose(error: ConnectionError): void {
    if (this.#state === 'STOPPED') return;
    if (this.#attempt) {
      this.#endAttempt(error);
      return;
    }
    if (this.#state !== 'SUBSCRIBED') return;
    this.#transition('DISCONNECTED', 'lose the connection');
    clearTimeout(this.#livenessTimer);
    this.#livenessTimer = undefined;
    this.#log.warn({ err: error.message }, 'connection to master lost; reconnecting');
    this.#report(error);
    try {
      this.#options.onDisconnected?.();
    } catch (callbackError) {
      this.#report(callbackError as Error);
    }
    this.#connect();
  }

  /** Any frame proves the master alive; none for MISSED_HEARTBEATS intervals: the link is dead. */
  #armLiveness(ws: WebSocket): void {
    clearTimeout(this.#livenessTimer);
    if (this.#heartbeatIntervalMs <= 0) return;
    this.#livenessTimer = setTimeout(() => {
      this.#livenessTimer = undefined;
      if (this.#ws !== ws) return;
      this.#log.warn({ missed: MISSED_HEARTBEATS }, 'no heartbeat from master; reconnecting');
      ws.terminate();
    }, this.#heartbeatIntervalMs * MISSED_HEARTBEATS);
  }

  #onFrame(ws: WebSocket, bytes: Buffer): void {
    if (this.#state === 'STOPPED') return;
    let event: SchedulerEvent;
    try {
      event = decodeFrame(SchedulerEvent, bytes);
    } catch (error) {
      const err = error as LifelineError;
      this.#log.warn({ err: err.message }, 'malformed frame from master');
      this.#report(err);
      // ERROR is not a scheduler call: the master would only answer it with its own ERROR.
      ws.close(1008, 'malformed frame');
      return;
    }
    if (this.#state === 'SUBSCRIBED') this.#armLiveness(ws);
    switch (event.type) {
      case 'SUBSCRIBED':
        this.#onSubscribed(ws, event.frameworkId, event.heartbeatIntervalMs);
        return;
      case 'ERROR':
        void this.#fail(new MasterError(this.#master, event.code, event.message));
        return;
      case 'HEARTBEAT':
        return;
      default:
        this.#enqueueCallback(event);
    }
  }

  #onSubscribed(ws: WebSocket, frameworkId: string, heartbeatIntervalMs: number): void {
    if (this.#state !== 'SUBSCRIBING') {
      this.#log.warn({ state: this.#state }, 'unexpected SUBSCRIBED from master; ignored');
      return;
    }
    this.#transition('SUBSCRIBED', 'complete the subscription');
    this.#frameworkId = frameworkId;
    this.#heartbeatIntervalMs = heartbeatIntervalMs;
    this.#armLiveness(ws);
    this.#endAttempt();
    this.#log.info({ frameworkId }, 'subscribed to master');
    const queued = this.#queue;
    this.#queue = [];
    for (const call of queued) ws.send(encode(call));
    this.#wakeWaiters();
    this.#enqueueCallback({ type: 'SUBSCRIBED', frameworkId, heartbeatIntervalMs });
  }

  // --- calls and callbacks ------------------------------------------------------------------

  #call(call: SchedulerCall, what: string): void {
    if (this.#state === 'STOPPED') throw new DriverStoppedError(what);
    if (this.#state === 'IDLE') throw new LifelineError('ERR_NOT_SUBSCRIBED', `cannot ${what}: call start() first`);
    const checked = validate(SchedulerCall, call, 'call');
    const ws = this.#ws;
    if (this.#state === 'SUBSCRIBED' && ws && ws.readyState === WebSocket.OPEN) ws.send(encode(checked));
    else this.#queue.push(checked);
  }

  #enqueueCallback(event: SchedulerEvent): void {
    this.#dispatch = this.#dispatch.then(() => this.#runCallback(event)).catch((error: unknown) => this.#report(error as Error));
  }

  async #runCallback(event: SchedulerEvent): Promise<void> {
    if (this.#state === 'STOPPED') return;
    const o = this.#options;
    switch (event.type) {
      case 'SUBSCRIBED':
        try {
          await o.onSubscribed?.(event.frameworkId);
        } finally {
          this.#start?.resolve(event.frameworkId);
        }
        return;
      case 'OFFERS':
        await o.onOffers?.(event.offers);
        return;
      case 'RESCIND':
        await o.onRescind?.(event.offerId);
        return;
      case 'UPDATE': {
        // A callback that throws leaves the update unacknowledged: the agent sends it again.
        await o.onUpdate?.(event.status);
        const { status } = event;
        if (this.#autoAcknowledge && status.uuid !== undefined && status.agentId !== undefined && this.state !== 'STOPPED') {
          this.#call({ type: 'ACKNOWLEDGE', agentId: status.agentId, taskId: status.taskId, uuid: status.uuid }, 'acknowledge an update');
        }
        return;
      }
      case 'MESSAGE':
        await o.onMessage?.(event.agentId, event.executorId, event.data);
        return;
      case 'FAILURE':
        await o.onFailure?.(event);
        return;
      default:
        return;
    }
  }

  #report(error: Error): void {
    if (!this.#options.onError) {
      this.#log.warn({ err: error.message }, 'scheduler driver error');
      return;
    }
    try {
      this.#options.onError(error);
    } catch (callbackError) {
      this.#log.error({ err: (callbackError as Error).message }, 'onError threw');
    }
  }

  /** An error the driver cannot get past: stop, then tell the user. */
  async #fail(error: Error): Promise<void> {
    if (this.#stopped) return;
    this.#log.error({ err: error.message }, 'scheduler driver stopped by an error');
    this.#stopped = this.#shutdown(error);
    this.#report(error);
    await this.#stopped;
  }

  async #shutdown(reason: Error): Promise<void> {
    if (this.#state !== 'STOPPED') this.#transition('STOPPED', 'stop');
    this.#retry?.abort(new DriverStoppedError('reconnect'));
    this.#retry = undefined;
    clearTimeout(this.#livenessTimer);
    this.#livenessTimer = undefined;
    clearTimeout(this.#attemptTimer);
    this.#attemptTimer = undefined;
    const attempt = this.#attempt;
    this.#attempt = undefined;
    attempt?.reject(new AbortError(reason));
    this.#queue = [];
    this.#wakeWaiters();
    // start() has not resolved yet: it rejects (resolve after reject is a no-op, and vice versa).
    this.#start?.reject(reason);
    this.#start?.promise.catch(() => {});
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws) return;
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000, 'scheduler driver stopped');
    });
  }
}

function checkOptions(options: SchedulerDriverOptions): void {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object');
  if (!parseAddress(options.master)) throw new InvalidOptionError('master', options.master, 'a HOST:PORT string such as "127.0.0.1:5050"');
  const info = options.frameworkInfo;
  if (info === null || typeof info !== 'object') throw new InvalidOptionError('frameworkInfo', info, 'an object with a name');
  if (typeof info.name !== 'string' || info.name.length > 1024) throw new InvalidOptionError('frameworkInfo.name', info.name, 'a string of at most 1024 characters');
  if (info.id !== undefined && typeof info.id !== 'string') throw new InvalidOptionError('frameworkInfo.id', info.id, 'a framework ID string');
  if (info.id !== undefined) assertId('frameworkInfo.id', info.id);
  if (info.checkpoint !== undefined && typeof info.checkpoint !== 'boolean') throw new InvalidOptionError('frameworkInfo.checkpoint', info.checkpoint, 'a boolean');
  if (info.failoverTimeoutMs !== undefined && !(Number.isSafeInteger(info.failoverTimeoutMs) && info.failoverTimeoutMs >= 0)) {
    throw new InvalidOptionError('frameworkInfo.failoverTimeoutMs', info.failoverTimeoutMs, 'a non-negative integer number of milliseconds');
  }
  if (options.autoAcknowledge !== undefined && typeof options.autoAcknowledge !== 'boolean') {
    throw new InvalidOptionError('autoAcknowledge', options.autoAcknowledge, 'a boolean');
  }
  for (const name of ['onSubscribed', 'onOffers', 'onRescind', 'onUpdate', 'onMessage', 'onFailure', 'onError', 'onDisconnected'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(name, value, 'a function');
  }
  for (const name of ['backoffMinMs', 'backoffMaxMs', 'connectTimeoutMs', 'maxFrameBytes'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new InvalidOptionError(name, value, 'a positive number');
    }
  }
  if ((options.backoffMinMs ?? 250) > (options.backoffMaxMs ?? Math.max(10_000, options.backoffMinMs ?? 0))) {
    throw new InvalidOptionError('backoffMaxMs', options.backoffMaxMs, `at least backoffMinMs (${show(options.backoffMinMs)})`);
  }
}
