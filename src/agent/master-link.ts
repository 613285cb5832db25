// The agent's one connection to its master (DESIGN §8), a client session (src/session/): connect,
// REGISTER (or REREGISTER once the agent has an ID) as the handshake, answer PINGs, hand every
// validated event to the agent; when the connection breaks or cannot be made, try again with a
// doubling backoff (--registration_backoff_factor, capped), as a Mesos agent does. Nothing is
// sent before the master has registered the agent.
import { AgentEvent, ConnectionError, REREGISTER_PART_BYTES, UnknownTypeError, UnknownTypes, decodeFrame, encode, parseMasterSpec, type AgentCall } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { reregisterFrames } from './reregistration.js';
import { ClientSession, type ClientSessionState, type ConnectionEnd } from '../session/client.js';
import { HandshakeTimeoutError, PeerSilentError } from '../session/connection.js';
import type { HandshakeLink } from '../session/handshake.js';
import { authenticated, type ImmediateHandshakeStep } from '../session/authenticated-step.js';
import type { Credential } from '../session/authentication.js';
import { connectWs } from '../session/ws-transport.js';
import { MasterTargets } from '../session/master-targets.js';
import { splitScheme, type ClientCertificate } from '../session/tls.js';

export type MasterLinkState = 'IDLE' | 'CONNECTING' | 'REGISTERING' | 'REGISTERED' | 'WAITING' | 'CLOSED';

/** The session's states under the link's names. */
const STATES: Record<ClientSessionState, MasterLinkState> = {
  IDLE: 'IDLE',
  CONNECTING: 'CONNECTING',
  HANDSHAKING: 'REGISTERING',
  OPEN: 'REGISTERED',
  WAITING: 'WAITING',
  CLOSED: 'CLOSED',
};

export type RegisteredEvent = Extract<AgentEvent, { type: 'REGISTERED' | 'REREGISTERED' }>;

export interface MasterLinkOptions {
  /** `HOST:PORT` of the master (`https://HOST:PORT`: over TLS). */
  master: string;
  /** TLS: the CA certificates (PEM) the master's must chain to. Default: the system's. */
  ca?: string | Buffer;
  /** TLS: the certificate (and its key) presented to a master that asks for one (--ssl_require_cert). */
  clientCertificate?: ClientCertificate;
  /** Issue 14: the principal and secret to authenticate with (--credential). Default: none. */
  credential?: Credential;
  /** First retry delay; each failure in a row doubles it, up to `maxBackoffMs`. */
  backoffFactorMs: number;
  /** Type: number. Default: 60000. */
  maxBackoffMs?: number;
  /** How long a connection may stay unregistered before it is dropped and tried again. Default: 10000. */
  registrationTimeoutMs?: number;
  /** The REGISTER or REREGISTER call, built at the moment a connection opens (a large REREGISTER is sent in parts). */
  registration(): AgentCall;
  /** Largest part of a split REREGISTER, in bytes. Default: REREGISTER_PART_BYTES (512 KiB). */
  reregisterPartBytes?: number;
  onRegistered(event: RegisteredEvent): void;
  /** Every other event from the master (PING is answered here and not passed on). */
  onEvent(event: AgentEvent): void;
  /** The registered connection broke (not called for failed attempts before registration). */
  onDisconnected(reason: string): void;
  /** An event of a type this release does not know (a newer master's): ignored; counted here. */
  onUnknown?(type: string): void;
  logger?: Logger;
}

/** Missed pings in a row after which the master counts as gone. */
const PING_TIMEOUTS = 6;
const MAX_MASTER_FRAME = 64 * 1024 * 1024;
/** How long the TCP connect plus HTTP upgrade may take. */
const CONNECT_TIMEOUT_MS = 10_000;

export class MasterLink {
  /** The registration call sent on the current connection (its largest frame, for a refusal as too large). */
  #registrationFrame: { type: string; bytes: number; parts: number } | undefined;
  readonly #options: MasterLinkOptions;
  readonly #unknown = new UnknownTypes();
  readonly #logger: Logger;
  readonly #session: ClientSession<AgentEvent, RegisteredEvent>;
  /** Which master to try next (a list, or the leader in etcd; issue 12). */
  readonly #targets: MasterTargets;
  /** The highest leader epoch a master registered this agent with: an older one is not obeyed. */
  #epoch = 0;
  /** The master has been unreachable since the last registration, and a warning said so (once per episode). */
  #warnedUnreachable = false;

  constructor(options: MasterLinkOptions) {
    this.#options = options;
    const ca = options.ca;
    const client = options.clientCertificate;
    this.#logger = options.logger ?? silentLogger;
    const target = splitScheme(options.master);
    const onLeaderChange = (leader: string | undefined): void => {
      this.#logger.info({ leader }, 'etcd names a new leading master');
      this.#session.wake();
    };
    this.#targets = new MasterTargets(parseMasterSpec(target.address, 'option master'), onLeaderChange, target.secure);
    const connector = this.#targets.connector('/api/v1/agent', (url, events) => {
      this.#logger.debug({ url }, 'connecting to the master');
      return connectWs(url, { maxPayload: MAX_MASTER_FRAME, handshakeTimeoutMs: CONNECT_TIMEOUT_MS, ...(ca !== undefined && { ca }), ...(client && { cert: client.cert, key: client.key }) }, events);
    });
    const maxMs = options.maxBackoffMs ?? 60_000;
    this.#session = new ClientSession<AgentEvent, RegisteredEvent>({
      name: 'master link',
      peer: `the master at ${options.master}`,
      connect: connector,
      decode: (bytes) => decodeFrame(AgentEvent, bytes),
      handshake: () => authenticated(this.#registration(), options.credential, 'agent'),
      handshakeName: 'registration',
      handshakeTimeoutMs: options.registrationTimeoutMs ?? 10_000,
      deadlineFrom: 'open',
      // Randomized ×[1, 2) by p-retry: each delay lies in [base/2, base) of the doubling base.
      backoff: { minMs: Math.min(options.backoffFactorMs / 2, maxMs), maxMs, factor: 2, afterBreak: 'backoff' },
      // The agent protocol has no ERROR call to answer with: log it and drop the frame.
      onInvalid: (error) => {
        if (error instanceof UnknownTypeError) {
          this.#options.onUnknown?.(error.type);
          if (this.#unknown.firstTime('master', error.type)) this.#logger.warn({ type: error.type }, `an event of type ${error.type}, unknown to this release, was ignored (logged once)`);
          return 'drop';
        }
        this.#logger.error({ code: error.code, err: error.message }, 'invalid frame from the master: dropped');
        return 'drop';
      },
      onTransportError: (error) => this.#logger.debug({ err: error.message }, 'master connection error'),
      onAccepted: (event) => {
        this.#warnedUnreachable = false;
        this.#options.onRegistered(event);
      },
      onFrame: (event) => this.#onEvent(event),
      onConnectionEnd: (end) => this.#onConnectionEnd(end),
      onAttemptFailed: (error, attempt) => {
        this.#targets.failed(this.#targets.last);
        this.#attemptFailed(error, attempt);
      },
    });
  }

  get state(): MasterLinkState {
    return STATES[this.#session.state];
  }

  get registered(): boolean {
    return this.#session.isOpen;
  }

  start(): void {
    this.#session.start();
  }

  /** Sends a call to the master; false (nothing sent) unless the agent is registered. */
  send(call: AgentCall): boolean {
    if (!this.registered) return false;
    return this.#session.send(encode(call));
  }

  /** Sends a call and resolves once it has been written to the socket (false if it could not be). */
  sendAndFlush(call: AgentCall): Promise<boolean> {
    if (!this.registered) return Promise.resolve(false);
    return this.#session.sendAndFlush(encode(call));
  }

  /** Closes the connection (waiting a moment for a clean close) and stops retrying. */
  close(timeoutMs = 1_000): Promise<void> {
    return this.#session.close(1000, 'agent stopping', timeoutMs).finally(() => this.#targets.close());
  }

  /** The leader epoch of the master this agent is registered with (0: a master without a registry). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The handshake: REGISTER or REREGISTER (in parts), answered by REGISTERED or REREGISTERED. */
  #registration(): ImmediateHandshakeStep<AgentEvent, RegisteredEvent> {
    let opened: HandshakeLink | undefined;
    return {
      open: (link, authentication) => {
        opened = link;
        const call: AgentCall = { ...this.#options.registration(), ...(authentication && { authentication }) };
        let frames: Uint8Array[];
        try {
          frames = call.type === 'REREGISTER' ? reregisterFrames(call, this.#options.reregisterPartBytes ?? REREGISTER_PART_BYTES) : [encode(call)];
        } catch (error) {
          this.#logger.error({ master: this.#options.master, err: (error as Error).message }, 'cannot register');
          return { kind: 'fail', error: new ConnectionError(`cannot register: ${(error as Error).message}`, { cause: error }) };
        }
        const bytes = Math.max(...frames.map((frame) => frame.length));
        this.#registrationFrame = { type: call.type, bytes, parts: frames.length };
        this.#logger.info({ master: this.#targets.last, type: call.type, bytes, parts: frames.length }, 'connected to the master, registering');
        for (const frame of frames) link.send(frame);
        return undefined;
      },
      answer: (event) => {
        switch (event.type) {
          case 'PING':
            opened?.send(encode({ type: 'PONG' }));
            return undefined;
          case 'REGISTERED':
          case 'REREGISTERED': {
            const epoch = event.epoch ?? 0;
            if (epoch > 0 && epoch < this.#epoch) {
              // A deposed leader that has not noticed yet: not this agent's master any more.
              this.#logger.warn({ master: this.#targets.last, epoch, known: this.#epoch }, 'registration answer from an older leader epoch: ignored');
              return { kind: 'fail', error: new ConnectionError(`the master at ${this.#targets.last} answered with leader epoch ${epoch}, older than ${this.#epoch}`) };
            }
            if (epoch > this.#epoch) this.#epoch = epoch;
            // A registered connection that hears nothing (not even a PING) for several ping intervals is dead.
            return {
              kind: 'accept',
              value: event,
              heartbeat: event.pingIntervalMs > 0 ? { intervalMs: event.pingIntervalMs, missed: PING_TIMEOUTS } : undefined,
            };
          }
          case 'ERROR':
            if (event.code === 'ERR_NOT_LEADER') {
              // A standby: go to the leader it names (or, naming none, the next master).
              this.#logger.info({ master: this.#targets.last, leader: event.leader }, 'not the leader: following');
              this.#targets.failed(this.#targets.last);
              this.#targets.follow(event.leader);
              return { kind: 'fail', error: new ConnectionError(`the master at ${this.#targets.last} is not the leader: ${event.message}`) };
            }
            this.#logger.error({ code: event.code, message: event.message }, 'error from the master');
            this.#options.onEvent(event);
            return undefined;
          case 'SHUTDOWN':
            // A master that has removed this agent answers its re-registration with SHUTDOWN alone;
            // obeyed only from a master that names a leader epoch no older than this agent has seen.
            if (event.epoch !== undefined && event.epoch >= this.#epoch) {
              this.#options.onEvent(event);
            } else {
              this.#logger.warn({ master: this.#targets.last, epoch: event.epoch, known: this.#epoch }, 'SHUTDOWN before registration without a current leader epoch: ignored');
            }
            return undefined;
          default:
            // Only the master that registers this agent is obeyed (issue 12).
            this.#logger.warn({ type: event.type, master: this.#targets.last }, 'event from the master before registration: ignored');
            return undefined;
        }
      },
    };
  }

  #onEvent(event: AgentEvent): void {
    const epoch = 'epoch' in event ? event.epoch : undefined;
    if (epoch !== undefined && epoch > 0 && epoch < this.#epoch) {
      // A deposed leader still talking on a connection of its term: not this agent's master any more.
      this.#logger.warn({ type: event.type, epoch, known: this.#epoch, master: this.#targets.last }, 'event from an older leader epoch: ignored');
      return;
    }
    switch (event.type) {
      case 'PING':
        this.#session.send(encode({ type: 'PONG' }));
        return;
      case 'REGISTERED':
      case 'REREGISTERED':
        this.#logger.warn({ type: event.type }, 'unexpected registration answer: ignored');
        return;
      case 'ERROR':
        this.#logger.error({ code: event.code, message: event.message }, 'error from the master');
        this.#options.onEvent(event);
        return;
      default:
        this.#options.onEvent(event);
    }
  }

  /** At warn once per episode (until the next registration), then at debug: the agent keeps trying. */
  #attemptFailed(error: Error, attempt: number): void {
    if (this.#warnedUnreachable) {
      this.#logger.debug({ reason: error.message, attempt }, 'retrying the master');
      return;
    }
    this.#warnedUnreachable = true;
    this.#logger.warn({ master: this.#options.master, reason: error.message, attempt }, `the master at ${this.#options.master} is unreachable: retrying (said once until it answers)`);
  }

  #onConnectionEnd({ error, code, reason, accepted, state }: ConnectionEnd): void {
    if (error instanceof HandshakeTimeoutError) this.#logger.warn({ master: this.#options.master }, 'no answer to registration: trying again');
    if (error instanceof PeerSilentError) this.#logger.warn({ err: error.message }, 'no ping from the master: reconnecting');
    if (code === 1009 && state === 'HANDSHAKING' && this.#registrationFrame) {
      // Retrying cannot help: the call only grows with the agent's tasks. Say what to change.
      const { type, bytes, parts } = this.#registrationFrame;
      const what = parts > 1 ? `${type} (in ${parts} parts, the largest of ${bytes} bytes)` : `${type} frame of ${bytes} bytes`;
      this.#logger.error(
        { master: this.#options.master, type, bytes, parts },
        `the master refused this agent's ${what} as too large (close 1009): start the master with --max_frame_bytes above ${bytes}`,
      );
    }
    if (accepted && this.state !== 'CLOSED') {
      const why = `closed with ${code}${reason.length ? ` (${reason})` : ''}`;
      this.#logger.warn({ reason: why }, 'lost the connection to the master');
      this.#warnedUnreachable = true; // that warning opens the episode: failed attempts after it are debug
      this.#options.onDisconnected(why);
    }
  }
}
