// The one validating server side of every link (the master's agent and scheduler endpoints, the
// agent's executor endpoint): the first frame within a deadline and it must be a registration
// call (and only the first), binary frames only, a frame budget (ws closes an oversize frame with
// 1009), every frame checked against the link's schema, a bad frame answered with ERROR and close
// 1008, and a throwing handler contained — while every other peer goes on being served.
// Registration is where the upgrade issue negotiates versions and the trust issue authenticates:
// `onCall` sees the first call while the connection is still CONNECTED and may refuse it by
// throwing a LifelineError, or accept it with `registered()`.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type * as v from 'valibot';
import { decodeFrame } from '../protocol/codec.js';
import { LifelineError, ProtocolError, UnauthenticatedError } from '../protocol/errors.js';
import type { Authentication } from '../protocol/authentication.js';
import { UnknownTypeError, UnknownTypes } from '../protocol/tolerant.js';
import type { Logger } from '../log.js';
import { EndpointSession, type Outgoing } from './endpoint-session.js';
import { newChallenge, type AuthenticatedLink, type Authenticator } from './authentication.js';
import { originRefusal } from './origin.js';
import type { ConnectionLimit } from './connection-limit.js';
import { wsTransport } from './ws-transport.js';

export { EndpointSession, type Outgoing, type SessionState } from './endpoint-session.js';

type CallSchema = v.GenericSchema<unknown, { type: string }>;

export interface EndpointOptions<S extends CallSchema, Event extends object> {
  /** `/api/v1/agent`, `/api/v1/scheduler` or `/api/v1/executor`, for logs. */
  path: string;
  /** Where the link is, as messages name it (" on /api/v1/scheduler"); default: "" (not named). */
  label?: string;
  schema: S;
  maxFrameBytes: number;
  /** The calls that register a connection; the first frame must be one of them, and only the first. */
  registrationCalls: readonly string[];
  /** A connection that has not registered after this long is refused. */
  registrationTimeoutMs: number;
  /** How a registered connection is described ("registered", "subscribed"). Default: registered. */
  registeredWord?: string;
  /** The code of that refusal. Default: ERR_TIMEOUT. */
  registrationTimeoutCode?: 'ERR_TIMEOUT' | 'ERR_PROTOCOL';
  logger: Logger;
  /** A new connection, before any frame. */
  onConnect?(session: EndpointSession<Event>): void;
  /** A validated call; `bytes` is the size of its frame. */
  onCall(session: EndpointSession<Event>, call: v.InferOutput<S>, bytes: number): void;
  /** A connection closed; `wasRegistered` says whether it had registered. */
  onClose(session: EndpointSession<Event>, wasRegistered: boolean): void;
  /** Counts a rejected frame (metrics). */
  onRejected(error: LifelineError): void;
  /** Counts a frame of a type this release does not know, ignored (a newer peer's; issue 11). */
  onUnknown?(type: string): void;
  /** Checks every event before it is sent (the receiver's schema and frame limit). Default: none. */
  outgoing?: Outgoing<Event>;
  /** Issue 13: open connections, shared with the server's other endpoints; past it an upgrade gets 503. Default: no cap. */
  connections?: ConnectionLimit;
  /** Issue 14: challenge-response authentication of the registration call. Default: none (AUTHENTICATE refused). */
  authentication?: EndpointAuthentication;
}

export interface EndpointAuthentication {
  /** The principals the master knows (--credentials); undefined when it has none. */
  authenticator: Authenticator | undefined;
  /** Refuse a registration call that does not authenticate. */
  required: boolean;
  link: AuthenticatedLink;
  /** The flag that requires it, for the refusal ("--authenticate_agents"). */
  flag: string;
}

/** A WebSocket server (noServer: the HTTP server is the caller's), routing validated calls. */
export class Endpoint<S extends CallSchema, Event extends object> {
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<EndpointSession<Event>>();
  readonly #options: EndpointOptions<S, Event>;
  readonly #unknown = new UnknownTypes();
  /** When the connection limit was last logged (at most once per 10 s). */
  #limitLoggedAt = 0;

  constructor(options: EndpointOptions<S, Event>) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
    this.#wss.on('error', (error) => options.logger.warn({ err: error, endpoint: options.path }, 'websocket server error'));
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get sessions(): EndpointSession<Event>[] {
    return [...this.#sessions];
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refusal = originRefusal(request);
    if (refusal !== undefined) {
      this.#options.logger.warn({ code: 'ERR_UNAUTHORIZED', endpoint: this.#options.path, origin: request.headers.origin, remote: request.socket.remoteAddress }, 'refused a WebSocket upgrade from a foreign Origin');
      return this.#refuseUpgrade(socket, 403, 'Forbidden', new LifelineError('ERR_UNAUTHORIZED', refusal));
    }
    const limit = this.#options.connections;
    if (limit && !limit.tryTake()) {
      const error = new LifelineError('ERR_CONNECTION', `the master has ${limit.open} connections open, its limit (--max_connections): try again later`);
      if (Date.now() - this.#limitLoggedAt >= 10_000) {
        this.#limitLoggedAt = Date.now();
        this.#options.logger.warn({ endpoint: this.#options.path, open: limit.open, remote: request.socket.remoteAddress }, 'connection refused: --max_connections reached (logged once per 10 s)');
      }
      return this.#refuseUpgrade(socket, 503, 'Service Unavailable', error, 'Retry-After: 5\r\n');
    }
    let accepted = false;
    socket.once('close', () => {
      if (!accepted) limit?.release();
    });
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      accepted = true;
      this.#accept(ws, request, socket);
    });
  }

  /** An upgrade answered with an HTTP status instead (a foreign Origin, too many connections): nothing else touched. */
  #refuseUpgrade(socket: Duplex, status: number, text: string, error: LifelineError, headers = ''): void {
    this.#options.onRejected(error);
    const body = `${error.message}\n`;
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${headers}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  /** Drops every connection at once and closes the server (wss.close() alone leaves them open). */
  close(): Promise<void> {
    for (const session of this.#sessions) session.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  #accept(ws: WebSocket, request: IncomingMessage, socket: Duplex): void {
    const { logger, path, registrationTimeoutMs, registrationCalls, maxFrameBytes } = this.#options;
    const label = this.#options.label ?? '';
    const remote = request.socket.remoteAddress ? `${request.socket.remoteAddress}:${request.socket.remotePort}` : 'local';
    let session!: EndpointSession<Event>;
    const log = (): Logger => session.log;
    const transport = wsTransport(ws, {
      open: () => {},
      message: (data, binary) => this.#receive(session, data, binary),
      error: (error) => {
        // ws has already closed the connection (1009 for an oversize frame, 1002 for bad framing).
        if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          log().info({ peer: session.peerId, maxFrameBytes }, 'frame too large: connection closed with 1009');
          this.#options.onRejected(new LifelineError('ERR_FRAME_TOO_LARGE', `frame over ${maxFrameBytes} bytes`));
        } else if (error.code?.startsWith('WS_ERR_')) {
          log().info({ peer: session.peerId, err: { code: error.code, message: error.message } }, 'bad websocket framing: connection closed');
          this.#options.onRejected(new ProtocolError(error.message));
        } else {
          log().debug({ err: error }, 'connection error');
        }
      },
      close: (code, reason) => {
        if (this.#sessions.delete(session)) this.#options.connections?.release();
        const wasRegistered = session.peerId !== undefined;
        session.closed();
        log().debug({ code, reason, peer: session.peerId }, 'closed');
        this.#options.onClose(session, wasRegistered);
      },
    }, socket);
    session = new EndpointSession<Event>(transport, remote, (id) => logger.child({ endpoint: path, connection: id, remote }), this.#options.outgoing);
    session.onRefused = (error) => this.#options.onRejected(error);
    this.#sessions.add(session);
    log().debug('connected');
    this.#options.onConnect?.(session);
    session.after(registrationTimeoutMs, () => {
      if (session.state === 'CONNECTED') {
        const code = this.#options.registrationTimeoutCode ?? 'ERR_TIMEOUT';
        this.#refuse(session, new LifelineError(code, `no ${registrationCalls.join(' or ')} within ${registrationTimeoutMs} ms of connecting${label ? ` to${label.replace(/^ on/, '')}` : ''}`));
      }
    });
  }

  #receive(session: EndpointSession<Event>, bytes: Buffer, binary: boolean): void {
    if (session.state !== 'CONNECTED' && session.state !== 'REGISTERED') return;
    session.touch();
    const { schema, registrationCalls } = this.#options;
    const label = this.#options.label ?? '';
    let call: v.InferOutput<S>;
    try {
      if (!binary) throw new ProtocolError(`frames${label} must be binary msgpack, got a text frame`);
      call = decodeFrame(schema, bytes);
      if (call.type === 'AUTHENTICATE') return this.#challenge(session);
      const registering = registrationCalls.includes(call.type);
      if (session.state === 'CONNECTED' && !registering) {
        throw new ProtocolError(`the first frame${label} must be ${registrationCalls.join(' or ')}, got ${call.type}`);
      }
      if (session.state === 'REGISTERED' && registering) {
        throw new ProtocolError(`${call.type} on a connection already ${this.#options.registeredWord ?? 'registered'} as ${session.peerId}; open a new connection instead`);
      }
      if (registering && !session.authenticationJudged) this.#authenticate(session, call as { type: string; authentication?: Authentication });
    } catch (error) {
      if (error instanceof UnknownTypeError && session.state === 'REGISTERED') {
        // A newer peer's call this release cannot act on: ignored, counted, logged once per type.
        this.#options.onUnknown?.(error.type);
        if (this.#unknown.firstTime('', error.type)) session.log.warn({ peer: session.peerId, type: error.type }, `a call of type ${error.type}, unknown to this release, was ignored (logged once)`);
        return;
      }
      const refusal = error instanceof UnknownTypeError
        ? new ProtocolError(`the first frame${label} must be ${registrationCalls.join(' or ')}, got ${error.type}`)
        : error instanceof LifelineError ? error : new ProtocolError(`frame could not be decoded: ${(error as Error)?.message ?? error}`, { cause: error });
      if (refusal.code === 'ERR_UNAUTHENTICATED') session.log.warn({ err: { code: refusal.code, message: refusal.message }, principal: claimedPrincipal(bytes, schema) }, 'authentication refused');
      else session.log.info({ err: { code: refusal.code, message: refusal.message }, peer: session.peerId, principal: session.principal }, 'rejected frame');
      this.#refuse(session, refusal);
      return;
    }
    // A failing handler must not take the process down; the connection it served is closed.
    session.guarded(call.type, () => this.#options.onCall(session, call, bytes.length));
  }

  /** AUTHENTICATE: a fresh challenge for this connection (one per connection, before registering). */
  #challenge(session: EndpointSession<Event>): void {
    const auth = this.#options.authentication;
    if (session.state !== 'CONNECTED' || session.challenge !== undefined || session.authenticationJudged) {
      throw new ProtocolError('AUTHENTICATE must be the first frame of a connection, and comes once');
    }
    if (auth?.authenticator === undefined) {
      throw new UnauthenticatedError('this master has no --credentials, so it authenticates no one: connect without a credential');
    }
    session.challenge = newChallenge();
    session.send({ type: 'CHALLENGE', challenge: session.challenge } as unknown as Event);
  }

  /**
   * The registration call's authentication, judged once per connection: the answer to this
   * connection's challenge (which is then spent), or none where none is required.
   */
  #authenticate(session: EndpointSession<Event>, call: { type: string; authentication?: Authentication }): void {
    const auth = this.#options.authentication;
    session.authenticationJudged = true;
    const challenge = session.challenge;
    session.challenge = undefined;
    if (call.authentication !== undefined) {
      if (challenge === undefined || auth?.authenticator === undefined) {
        throw new UnauthenticatedError(`${call.type} carries an authentication but no challenge was asked for on this connection: send AUTHENTICATE first`);
      }
      session.principal = auth.authenticator.verify(auth.link, challenge, call.authentication);
      session.log.debug({ principal: session.principal }, 'authenticated');
      return;
    }
    if (challenge !== undefined) throw new UnauthenticatedError(`${call.type} after AUTHENTICATE must carry the answer to the challenge`);
    if (auth?.required) {
      throw new UnauthenticatedError(`this master requires authentication (${auth.flag}): ${call.type} carries no credential; give the ${auth.link === 'agent' ? 'agent --credential' : 'framework a credential (lifeline run --credential, SchedulerDriver credential)'}`);
    }
  }

  #refuse(session: EndpointSession<Event>, error: LifelineError): void {
    this.#options.onRejected(error);
    session.reject(error);
  }
}

/** The principal a refused registration frame claimed, for the log line (undefined if none could be read). */
function claimedPrincipal(bytes: Buffer, schema: CallSchema): string | undefined {
  try {
    const call = decodeFrame(schema, bytes) as { authentication?: Authentication };
    return call.authentication?.principal;
  } catch {
    return undefined;
  }
}
