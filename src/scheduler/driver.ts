// A framework's client of the master (DESIGN §8): typed callbacks, automatic acknowledgement, and
// reconnection that re-subscribes with the framework ID, so a dropped connection loses neither the
// framework nor its calls (queued while disconnected). Callbacks run one at a time, in event order.
// The connection, its SUBSCRIBE handshake, the heartbeat watch and the backoff are a client
// session (src/session/client.ts); the handshake step is subscription.ts, the callback chain
// callbacks.ts, the errors errors.ts and the reading of frames decode-event.ts.
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import {
  ConnectionError,
  IllegalStateError,
  LifelineError,
  assertId,
  encode,
  validate,
  type NewTaskInfo,
  type RoutedTaskStatus,
  SchedulerCall,
  type SchedulerEvent,
} from '../protocol/index.js';
import { UnknownTypeError, UnknownTypes } from '../protocol/tolerant.js';
import { parseMasterSpec } from '../protocol/address.js';
import { MasterTargets } from '../session/master-targets.js';
import { splitScheme } from '../session/tls.js';
import { checkOptions, type SchedulerDriverOptions } from './options.js';
export type { SchedulerDriverOptions, SchedulerFrameworkInfo } from './options.js';
import { ClientSession, type ClientSessionState, type ConnectionEnd } from '../session/client.js';
import { PeerSilentError } from '../session/connection.js';
import { authenticated } from '../session/authenticated-step.js';
import { Secret } from '../session/authentication.js';
import { connectWs } from '../session/ws-transport.js';
import { MISSED_HEARTBEATS } from '../session/watchdog.js';
import { DriverStoppedError, MasterError } from './errors.js';
import { decodeEvent, UnknownEventError } from './decode-event.js';
import { Subscription, type SubscribedEvent } from './subscription.js';
import { Callbacks } from './callbacks.js';

export { MasterError, DriverStoppedError } from './errors.js';
export type { FailureEvent } from './options.js';

/**
 * IDLE → CONNECTING → SUBSCRIBING → SUBSCRIBED, falling back to DISCONNECTED (backoff, then
 * CONNECTING again) when a connection breaks or an attempt fails; STOPPED from anywhere, for good.
 */
export type ConnectionState = 'IDLE' | 'CONNECTING' | 'SUBSCRIBING' | 'SUBSCRIBED' | 'DISCONNECTED' | 'STOPPED';

/** The session's states under the driver's names (the session's table of moves is the lifecycle). */
const STATES: Record<ClientSessionState, ConnectionState> = {
  IDLE: 'IDLE',
  CONNECTING: 'CONNECTING',
  HANDSHAKING: 'SUBSCRIBING',
  OPEN: 'SUBSCRIBED',
  WAITING: 'DISCONNECTED',
  CLOSED: 'STOPPED',
};

const ENDPOINT = '/api/v1/scheduler';
/** How long stop() waits for the master to answer the close handshake before cutting the socket. */
const CLOSE_GRACE_MS = 1_000;

export class SchedulerDriver {
  readonly #master: string;
  readonly #options: SchedulerDriverOptions;
  readonly #connectTimeoutMs: number;
  readonly #log: Logger;
  /** The connection; calls made while not subscribed wait in its queue, in order. */
  readonly #session: ClientSession<SchedulerEvent, SubscribedEvent>;
  readonly #unknown = new UnknownTypes();
  /** Which master to try next (issue 12). */
  readonly #targets: MasterTargets;
  /** The SUBSCRIBE step of each connection (and the leader epoch it keeps). */
  readonly #subscription: Subscription;
  /** The framework's callbacks, run one at a time in event order. */
  readonly #callbacks: Callbacks;

  #frameworkId: string | undefined;
  #start: { promise: Promise<string>; resolve(id: string): void; reject(error: Error): void } | undefined;
  /** Woken when the driver is next subscribed, or stopped. */
  #subscribedWaiters: Array<() => void> = [];
  #stopped: Promise<void> | undefined;

  constructor(options: SchedulerDriverOptions) {
    checkOptions(options);
    // The plain secret is not kept: only the Secret below.
    this.#options = { ...options, credential: undefined };
    const target = splitScheme(options.master);
    this.#master = options.master;
    this.#targets = new MasterTargets(parseMasterSpec(target.address, 'option master'), (leader) => {
      this.#log.info({ leader }, 'etcd names a new leading master');
      this.#session.wake();
    }, target.secure);
    this.#frameworkId = options.frameworkInfo.id;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#log = options.logger ?? silentLogger;
    this.#callbacks = new Callbacks({
      handlers: this.#options,
      autoAcknowledge: options.autoAcknowledge ?? true,
      stopped: () => this.state === 'STOPPED',
      subscribed: (frameworkId) => this.#start?.resolve(frameworkId),
      acknowledge: (ack) => this.#call({ type: 'ACKNOWLEDGE', ...ack }, 'acknowledge an update'),
      report: (error) => this.#report(error),
    });
    this.#subscription = new Subscription({
      master: this.#master,
      frameworkInfo: options.frameworkInfo,
      frameworkId: () => this.#frameworkId,
      targets: this.#targets,
      log: this.#log,
      onEvent: (event) => this.#callbacks.enqueue(event),
    });
    const ca = options.ca;
    const client = options.cert !== undefined && options.key !== undefined ? { cert: options.cert, key: options.key } : undefined;
    const maxPayload = options.maxFrameBytes ?? 16 * 1024 * 1024;
    // Held as a Secret, which never prints (not in a log line, not in util.inspect of the driver).
    const credential = options.credential && { principal: options.credential.principal, secret: new Secret(options.credential.secret) };
    this.#session = new ClientSession({
      name: 'scheduler driver',
      peer: `master at ${this.#master}`,
      connect: this.#targets.connector(ENDPOINT, (url, events) => connectWs(url, { maxPayload, handshakeTimeoutMs: this.#connectTimeoutMs, ...(ca !== undefined && { ca }), ...client }, events)),
      decode: (bytes) => decodeEvent(bytes),
      handshake: () => authenticated(this.#subscription.step(), credential, 'scheduler'),
      handshakeName: 'subscription',
      handshakeTimeoutMs: this.#connectTimeoutMs,
      backoff: { minMs: options.backoffMinMs ?? 250, maxMs: options.backoffMaxMs ?? 10_000, factor: 2, randomize: true },
      queue: true,
      // An event the driver cannot validate is reported and dropped: closing would cost the
      // framework itself (removed at once with the default failover timeout of 0).
      onInvalid: (error) => {
        if (error instanceof UnknownTypeError || error instanceof UnknownEventError) {
          // A newer master's event: skipped, so that drivers and masters can be upgraded one at a time.
          const type = error instanceof UnknownTypeError ? error.type : error.eventType;
          if (this.#unknown.firstTime('master', type)) this.#log.warn({ type }, `an event of type ${type}, unknown to this release, was ignored (logged once)`);
          return 'drop';
        }
        this.#log.warn({ code: error.code, err: error.message }, 'invalid frame from master: dropped');
        this.#report(error);
        return 'drop';
      },
      onAccepted: (event) => this.#onSubscribed(event.frameworkId, event.heartbeatIntervalMs),
      onFrame: (event) => this.#onFrame(event),
      onConnectionEnd: (end) => this.#onConnectionEnd(end),
      onAttemptFailed: (error, attempt) => {
        this.#targets.failed(this.#targets.last);
        this.#log.info({ attempt, err: error.message }, 'connection to master failed; retrying');
        this.#report(error);
      },
      onRefused: (refusal) => void this.#fail(refusal.error),
    });
  }

  get state(): ConnectionState {
    return STATES[this.#session.state];
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
    if (this.state !== 'IDLE' || this.#start) throw new IllegalStateError(`cannot start a scheduler driver in ${this.state} state`);
    let resolve!: (id: string) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#start = { promise, resolve, reject };
    this.#session.start();
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
    if (this.state === 'STOPPED') throw new DriverStoppedError('tear down the framework');
    if (this.state === 'IDLE') throw new IllegalStateError('cannot tear down a framework in IDLE state (call start() first)');
    if (this.state !== 'SUBSCRIBED') await this.#whenSubscribed(this.#connectTimeoutMs);
    if ((this.state as ConnectionState) === 'STOPPED') throw new DriverStoppedError('tear down the framework');
    if (this.state !== 'SUBSCRIBED') {
      await this.stop();
      throw new LifelineError('ERR_TIMEOUT', `could not send TEARDOWN: not subscribed to master at ${this.#master} within ${this.#connectTimeoutMs} ms`);
    }
    // stop() closes with a close frame, which ws sends after TEARDOWN: the master sees both, in order.
    this.#session.send(encode({ type: 'TEARDOWN' }));
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

  #onFrame(event: SchedulerEvent): void {
    if (this.state === 'STOPPED') return;
    switch (event.type) {
      case 'SUBSCRIBED':
        this.#log.warn({ state: this.state }, 'unexpected SUBSCRIBED from master; ignored');
        return;
      case 'ERROR':
        void this.#fail(new MasterError(this.#master, event.code, event.message));
        return;
      case 'HEARTBEAT':
        return;
      default:
        this.#callbacks.enqueue(event);
    }
  }

  /** Subscribed: the session sends the queued calls right after this. */
  #onSubscribed(frameworkId: string, heartbeatIntervalMs: number): void {
    this.#frameworkId = frameworkId;
    this.#log.info({ frameworkId }, 'subscribed to master');
    queueMicrotask(() => this.#wakeWaiters());
    this.#callbacks.enqueue({ type: 'SUBSCRIBED', frameworkId, heartbeatIntervalMs });
  }

  #onConnectionEnd({ error, accepted }: ConnectionEnd): void {
    if (!accepted || this.state === 'STOPPED') return;
    if (error instanceof PeerSilentError) this.#log.warn({ missed: MISSED_HEARTBEATS }, 'no heartbeat from master; reconnecting');
    const lost = new ConnectionError(`connection to master at ${this.#master} lost: ${error.message}`, { cause: error });
    this.#log.warn({ err: lost.message }, 'connection to master lost; reconnecting');
    this.#report(lost);
    try {
      this.#options.onDisconnected?.();
    } catch (callbackError) {
      this.#report(callbackError as Error);
    }
  }

  // --- calls and errors ---------------------------------------------------------------------

  #call(call: SchedulerCall, what: string): void {
    if (this.state === 'STOPPED') throw new DriverStoppedError(what);
    if (this.state === 'IDLE') throw new LifelineError('ERR_NOT_SUBSCRIBED', `cannot ${what}: call start() first`);
    const checked = validate(SchedulerCall, call, 'call');
    // Sent now when subscribed, else queued for the next subscription.
    this.#session.send(encode(checked));
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
    const closing = this.#session.close(1000, 'scheduler driver stopped', CLOSE_GRACE_MS).finally(() => this.#targets.close());
    this.#wakeWaiters();
    // start() has not resolved yet: it rejects (resolve after reject is a no-op, and vice versa).
    this.#start?.reject(reason);
    this.#start?.promise.catch(() => {});
    await closing;
  }
}
