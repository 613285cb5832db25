// A framework's client of the master (DESIGN §8): typed callbacks, automatic acknowledgement, and
// reconnection that re-subscribes with the framework ID, so a dropped connection loses neither the
// framework nor its calls (queued while disconnected). Callbacks run one at a time, in event order.
// The connection, its SUBSCRIBE handshake, the heartbeat watch and the backoff are a client
// session (src/session/client.ts).
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import {
  ConnectionError,
  IllegalStateError,
  LifelineError,
  assertId,
  decode,
  decodeFrame,
  encode,
  ProtocolError,
  SCHEDULER_EVENT_TYPES,
  validate,
  type ErrorCode,
  type NewTaskInfo,
  type RoutedTaskStatus,
  SchedulerCall,
  SchedulerEvent,
} from '../protocol/index.js';
import { firstFrameVersion, isVersionRefusal } from '../protocol/version.js';
import { UnknownTypeError, UnknownTypes } from '../protocol/tolerant.js';
import { parseMasterSpec } from '../protocol/address.js';
import { MasterTargets } from '../session/master-targets.js';
import { splitScheme } from '../session/tls.js';
import { checkOptions, type SchedulerDriverOptions, type SchedulerFrameworkInfo } from './options.js';
export type { SchedulerDriverOptions, SchedulerFrameworkInfo } from './options.js';
import { ClientSession, type ClientSessionState, type ConnectionEnd } from '../session/client.js';
import { PeerSilentError } from '../session/connection.js';
import { authenticated, type ImmediateHandshakeStep } from '../session/authenticated-step.js';
import { Secret } from '../session/authentication.js';
import { connectWs } from '../session/ws-transport.js';
import { MISSED_HEARTBEATS } from '../session/watchdog.js';

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
const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_INVALID_ID', 'ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE', 'ERR_UNAUTHORIZED', 'ERR_ILLEGAL_STATE', 'ERR_NOT_SUBSCRIBED',
  'ERR_PROTOCOL_VERSION',
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

/** A well-formed frame whose type this driver does not know (sent by a newer master): dropped. */
class UnknownEventError extends ProtocolError {
  constructor(readonly eventType: string) {
    super(`event of unknown type ${JSON.stringify(eventType)}`);
  }
}

function decodeEvent(bytes: Uint8Array): SchedulerEvent {
  try {
    return decodeFrame(SchedulerEvent, bytes);
  } catch (error) {
    let raw: unknown;
    try {
      raw = decode(bytes);
    } catch {
      throw error;
    }
    const type = raw !== null && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
    if (typeof type === 'string' && !SCHEDULER_EVENT_TYPES.has(type)) throw new UnknownEventError(type);
    throw error;
  }
}

export class SchedulerDriver {
  readonly #master: string;
  readonly #frameworkInfo: SchedulerFrameworkInfo;
  readonly #options: SchedulerDriverOptions;
  readonly #autoAcknowledge: boolean;
  readonly #connectTimeoutMs: number;
  readonly #log: Logger;
  /** The connection; calls made while not subscribed wait in its queue, in order. */
  readonly #session: ClientSession<SchedulerEvent, Extract<SchedulerEvent, { type: 'SUBSCRIBED' }>>;
  readonly #unknown = new UnknownTypes();
  /** Which master to try next (issue 12). */
  readonly #targets: MasterTargets;
  /** The highest leader epoch subscribed with: an older master is not followed. */
  #epoch = 0;

  #frameworkId: string | undefined;
  /** Event callbacks run one after another on this chain. */
  #dispatch: Promise<void> = Promise.resolve();
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
    this.#frameworkInfo = { ...options.frameworkInfo };
    this.#frameworkId = options.frameworkInfo.id;
    this.#autoAcknowledge = options.autoAcknowledge ?? true;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#log = options.logger ?? silentLogger;
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
      handshake: () => authenticated(this.#subscription(), credential, 'scheduler'),
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

  /** The handshake: SUBSCRIBE (with the framework ID once known), answered by SUBSCRIBED or ERROR. */
  #subscription(): ImmediateHandshakeStep<SchedulerEvent, Extract<SchedulerEvent, { type: 'SUBSCRIBED' }>> {
    return {
      open: (link, authentication) => {
        const frameworkInfo: SchedulerFrameworkInfo = { ...this.#frameworkInfo };
        if (this.#frameworkId !== undefined) frameworkInfo.id = this.#frameworkId;
        link.send(encode({ type: 'SUBSCRIBE', frameworkInfo, ...firstFrameVersion(), ...(authentication && { authentication }) }));
      },
      answer: (event) => {
        switch (event.type) {
          case 'SUBSCRIBED': {
            const epoch = event.epoch ?? 0;
            if (epoch > 0 && epoch < this.#epoch) {
              this.#log.warn({ master: this.#targets.last, epoch, known: this.#epoch }, 'SUBSCRIBED from an older leader epoch: ignored');
              return { kind: 'fail', error: new ConnectionError(`the master at ${this.#targets.last} answered with leader epoch ${epoch}, older than ${this.#epoch}`) };
            }
            if (epoch > this.#epoch) this.#epoch = epoch;
            return {
              kind: 'accept',
              value: event,
              // Any frame proves the master alive; none for MISSED_HEARTBEATS intervals: the link is dead.
              heartbeat: event.heartbeatIntervalMs > 0 ? { intervalMs: event.heartbeatIntervalMs, missed: MISSED_HEARTBEATS } : undefined,
            };
          }
          case 'ERROR':
            // A master that does not serve our protocol version may be upgraded or rolled back: retry.
            if (isVersionRefusal(event.code, event.message)) {
              this.#log.error({ code: event.code, message: event.message }, 'the master refused this scheduler\'s protocol version: retrying');
              return { kind: 'fail', error: new MasterError(this.#master, event.code, event.message) };
            }
            if (event.code === 'ERR_NOT_LEADER') {
              // A standby: try the leader it names (or the next master) after the backoff.
              this.#log.info({ master: this.#targets.last, leader: event.leader }, 'not the leader: following');
              this.#targets.failed(this.#targets.last);
              this.#targets.follow(event.leader);
              return { kind: 'fail', error: new ConnectionError(`the master at ${this.#targets.last} is not the leader: ${event.message}`) };
            }
            return { kind: 'refuse', error: new MasterError(this.#master, event.code, event.message) };
          case 'HEARTBEAT':
            return undefined;
          default:
            this.#enqueueCallback(event);
            return undefined;
        }
      },
    };
  }

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
        this.#enqueueCallback(event);
    }
  }

  /** Subscribed: the session sends the queued calls right after this. */
  #onSubscribed(frameworkId: string, heartbeatIntervalMs: number): void {
    this.#frameworkId = frameworkId;
    this.#log.info({ frameworkId }, 'subscribed to master');
    queueMicrotask(() => this.#wakeWaiters());
    this.#enqueueCallback({ type: 'SUBSCRIBED', frameworkId, heartbeatIntervalMs });
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

  // --- calls and callbacks ------------------------------------------------------------------

  #call(call: SchedulerCall, what: string): void {
    if (this.state === 'STOPPED') throw new DriverStoppedError(what);
    if (this.state === 'IDLE') throw new LifelineError('ERR_NOT_SUBSCRIBED', `cannot ${what}: call start() first`);
    const checked = validate(SchedulerCall, call, 'call');
    // Sent now when subscribed, else queued for the next subscription.
    this.#session.send(encode(checked));
  }

  #enqueueCallback(event: SchedulerEvent): void {
    this.#dispatch = this.#dispatch.then(() => this.#runCallback(event)).catch((error: unknown) => this.#report(error as Error));
  }

  async #runCallback(event: SchedulerEvent): Promise<void> {
    if (this.state === 'STOPPED') return;
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
        if (this.#autoAcknowledge && status.uuid !== undefined && status.agentId !== undefined && (this.state as ConnectionState) !== 'STOPPED') {
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
      case 'AGENT_STATUS':
        await o.onAgentStatus?.(event);
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
    const closing = this.#session.close(1000, 'scheduler driver stopped', CLOSE_GRACE_MS).finally(() => this.#targets.close());
    this.#wakeWaiters();
    // start() has not resolved yet: it rejects (resolve after reject is a no-op, and vice versa).
    this.#start?.reject(reason);
    this.#start?.promise.catch(() => {});
    await closing;
  }
}
