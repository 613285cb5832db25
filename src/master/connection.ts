// One WebSocket endpoint of the master and its connections (sessions). Every frame is binary
// msgpack, validated against the endpoint's schema before anyone uses it; a bad frame is answered
// with ERROR and the connection closed with 1008, and the endpoint goes on serving its other peers.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import * as v from 'valibot';
import {
  decodeFrame,
  encode,
  IllegalStateError,
  LifelineError,
  ProtocolError,
  toBuffer,
} from '../protocol/index.js';
import type { Logger } from '../log.js';

export type SessionState = 'CONNECTED' | 'REGISTERED' | 'CLOSING' | 'CLOSED';

const SESSION_MOVES: Record<SessionState, readonly SessionState[]> = {
  CONNECTED: ['REGISTERED', 'CLOSING', 'CLOSED'],
  REGISTERED: ['CLOSING', 'CLOSED'],
  CLOSING: ['CLOSED'],
  CLOSED: [],
};

/** WebSocket close reasons are limited to 123 bytes. */
function closeReason(text: string): string {
  const buffer = Buffer.from(text);
  return buffer.length <= 120 ? text : buffer.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '');
}

/** One peer connection: an agent or a scheduler, before and after it registers. */
export class Session<Event extends object> {
  static #next = 1;
  readonly id = Session.#next++;
  readonly remote: string;
  #ws: WebSocket;
  #state: SessionState = 'CONNECTED';
  #peerId: string | undefined;
  #timers = new Set<NodeJS.Timeout>();

  constructor(ws: WebSocket, remote: string) {
    this.#ws = ws;
    this.remote = remote;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The agent or framework ID this connection registered as. */
  get peerId(): string | undefined {
    return this.#peerId;
  }

  get isOpen(): boolean {
    return (this.#state === 'CONNECTED' || this.#state === 'REGISTERED') && this.#ws.readyState === WebSocket.OPEN;
  }

  transition(to: SessionState): void {
    if (!SESSION_MOVES[this.#state].includes(to)) {
      throw new IllegalStateError(`cannot move connection ${this.id} from ${this.remote}${this.#peerId ? ` (${this.#peerId})` : ''} to ${to} in ${this.#state} state`);
    }
    this.#state = to;
    if (to === 'CLOSING' || to === 'CLOSED') this.#clearTimers();
  }

  /** The peer registered (REGISTER, REREGISTER, SUBSCRIBE accepted) as `peerId`. */
  registered(peerId: string): void {
    this.transition('REGISTERED');
    this.#peerId = peerId;
  }

  /** Sends one event; false when the connection is no longer open. */
  send(event: Event): boolean {
    if (!this.isOpen) return false;
    this.#ws.send(encode(event));
    return true;
  }

  /** Answers a bad frame (or a refused call): ERROR {code, message}, then close. */
  reject(error: LifelineError, closeCode = 1008): void {
    if (!this.isOpen) return;
    this.#ws.send(encode({ type: 'ERROR', code: error.code, message: error.message.slice(0, 60_000) }));
    this.close(closeCode, error.message);
  }

  /** Closes with a handshake (frames already queued are sent first). */
  close(code = 1000, reason = ''): void {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return;
    this.transition('CLOSING');
    this.#ws.close(code, closeReason(reason));
  }

  /** Drops the connection at once (stop(), a peer that stopped answering). */
  terminate(): void {
    if (this.#state !== 'CLOSED' && this.#state !== 'CLOSING') this.transition('CLOSING');
    this.#ws.terminate();
  }

  /** Runs `fn` every `ms` while the connection is open. */
  every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    this.#timers.add(timer);
  }

  /** Runs `fn` once after `ms` unless the connection closes first; returns a canceller. */
  after(ms: number, fn: () => void): () => void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  /** Called by the endpoint when the socket has closed. */
  closed(): void {
    if (this.#state !== 'CLOSED') this.transition('CLOSED');
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

type CallSchema = v.GenericSchema<unknown, { type: string }>;

export interface EndpointOptions<S extends CallSchema, Event extends object> {
  /** `/api/v1/agent` or `/api/v1/scheduler`, for messages. */
  path: string;
  schema: S;
  maxFrameBytes: number;
  /** The calls that register a connection; the first frame must be one of them, and only the first. */
  registrationCalls: readonly string[];
  /** A connection that has not registered after this long is closed. */
  registrationTimeoutMs: number;
  logger: Logger;
  onCall(session: Session<Event>, call: v.InferOutput<S>): void;
  onClose(session: Session<Event>): void;
  /** Counts a rejected frame (metrics). */
  onRejected(error: LifelineError): void;
}

/** A WebSocket server on the master's HTTP server (noServer), routing frames to the master. */
export class Endpoint<S extends CallSchema, Event extends object> {
  #wss: WebSocketServer;
  #sessions = new Set<Session<Event>>();
  #options: EndpointOptions<S, Event>;

  constructor(options: EndpointOptions<S, Event>) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
    this.#wss.on('error', (error) => options.logger.warn({ err: error, endpoint: options.path }, 'websocket server error'));
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request));
  }

  /** Drops every connection at once and closes the server (the HTTP server is the master's). */
  close(): void {
    for (const session of this.#sessions) session.terminate();
    this.#wss.close();
  }

  #accept(ws: WebSocket, request: IncomingMessage): void {
    const { logger, path, registrationTimeoutMs, registrationCalls } = this.#options;
    const remote = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const session = new Session<Event>(ws, remote);
    const log = logger.child({ endpoint: path, connection: session.id, remote });
    this.#sessions.add(session);
    log.debug('connected');

    ws.on('error', (error: Error & { code?: string }) => {
      // ws has already closed the connection (1009 for an oversize frame, 1002 for bad framing).
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        log.info({ peer: session.peerId, maxFrameBytes: this.#options.maxFrameBytes }, 'frame too large: connection closed with 1009');
        this.#options.onRejected(new LifelineError('ERR_FRAME_TOO_LARGE', `frame over ${this.#options.maxFrameBytes} bytes`));
      } else if (error.code?.startsWith('WS_ERR_')) {
        log.info({ peer: session.peerId, err: { code: error.code, message: error.message } }, 'bad websocket framing: connection closed');
        this.#options.onRejected(new ProtocolError(error.message));
      } else {
        log.debug({ err: error }, 'connection error');
      }
    });
    ws.on('close', (code, reason) => {
      this.#sessions.delete(session);
      const wasRegistered = session.peerId !== undefined;
      session.closed();
      log.debug({ code, reason: reason.toString(), peer: session.peerId }, 'closed');
      if (wasRegistered) this.#options.onClose(session);
    });
    session.after(registrationTimeoutMs, () => {
      if (session.state === 'CONNECTED') {
        this.#refuse(session, new LifelineError('ERR_TIMEOUT', `no ${registrationCalls.join(' or ')} within ${registrationTimeoutMs} ms of connecting to ${path}`));
      }
    });
    ws.on('message', (data, isBinary) => this.#receive(session, toBuffer(data), isBinary, log));
  }

  #receive(session: Session<Event>, bytes: Buffer, isBinary: boolean, log: Logger): void {
    if (session.state !== 'CONNECTED' && session.state !== 'REGISTERED') return;
    const { path, schema, registrationCalls } = this.#options;
    let call: v.InferOutput<S>;
    try {
      if (!isBinary) throw new ProtocolError(`frames on ${path} must be binary msgpack, got a text frame`);
      call = decodeFrame(schema, bytes);
      const registering = registrationCalls.includes(call.type);
      if (session.state === 'CONNECTED' && !registering) {
        throw new ProtocolError(`the first frame on ${path} must be ${registrationCalls.join(' or ')}, got ${call.type}`);
      }
      if (session.state === 'REGISTERED' && registering) {
        throw new ProtocolError(`${call.type} on a connection already registered as ${session.peerId}; open a new connection instead`);
      }
    } catch (error) {
      const refusal = error instanceof LifelineError ? error : new ProtocolError(`frame could not be decoded: ${(error as Error)?.message ?? error}`, { cause: error });
      log.info({ err: { code: refusal.code, message: refusal.message }, peer: session.peerId }, 'rejected frame');
      this.#refuse(session, refusal);
      return;
    }
    try {
      this.#options.onCall(session, call);
    } catch (error) {
      // A failing handler must not take the master down; the connection it served is closed.
      if (error instanceof LifelineError) {
        log.info({ err: { code: error.code, message: error.message }, peer: session.peerId, call: call.type }, 'refused call');
        this.#refuse(session, error);
      } else {
        log.error({ err: error, peer: session.peerId, call: call.type }, 'handler failed');
        session.reject(new LifelineError('ERR_ILLEGAL_STATE', `the master failed to handle ${call.type}: ${(error as Error)?.message ?? error}`), 1011);
      }
    }
  }

  #refuse(session: Session<Event>, error: LifelineError): void {
    this.#options.onRejected(error);
    session.reject(error);
  }
}
