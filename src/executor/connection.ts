// One WebSocket connection to the agent's executor endpoint over its Unix socket: binary msgpack
// frames out, every frame in validated as an ExecutorEvent (events.ts), heartbeats both ways,
// and a deadline on the handshake (an agent that accepts but never answers counts as gone).
// A connection is used once: reconnecting means a new AgentConnection.
import { ConnectionError, type LifelineError, ProtocolError } from '../protocol/errors.js';
import type { ExecutorCall, ExecutorEvent } from '../protocol/executor.js';
import { encode } from '../protocol/msgpack.js';
import { decodeEvent } from './events.js';
import { UnixWebSocket } from './websocket.js';

/** Largest event accepted from the agent (a LAUNCH carries a TaskInfo with its `data`). */
export const MAX_EVENT_BYTES = 8 * 1024 * 1024;
/** How long connecting plus SUBSCRIBE → SUBSCRIBED may take before the attempt counts as failed. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * The same for an attempt to reach a restarted agent: shorter, since a SIGSTOPped agent accepts
 * connections into its backlog and never answers, and the next attempt should not wait long.
 */
export const RECONNECT_HANDSHAKE_TIMEOUT_MS = 2_000;
/** The peer is gone after this many heartbeat intervals with no frame at all from it. */
export const MISSED_HEARTBEATS = 3;
/** How long close() waits for the close handshake before it drops the socket. */
const CLOSE_TIMEOUT_MS = 1_000;

export interface ConnectionHandlers {
  /** The WebSocket is open: send SUBSCRIBE. */
  open(): void;
  /** A valid event. */
  event(event: ExecutorEvent): void;
  /** A frame that failed validation; the connection is being closed with 1008. */
  malformed(error: ProtocolError): void;
  /** The connection is gone, for whatever reason (called exactly once, also after close()). */
  closed(error: LifelineError): void;
}

/** The agent's executor endpoint, on its Unix socket (DESIGN §2). */
export const EXECUTOR_ENDPOINT_PATH = '/api/v1/executor';

export class AgentConnection {
  readonly #ws: UnixWebSocket;
  readonly #handlers: ConnectionHandlers;
  readonly #socketPath: string;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;
  #timer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #lastFrameAt = performance.now();
  #failure: LifelineError | undefined;
  #done = false;
  #discarding = false;

  constructor(socketPath: string, handlers: ConnectionHandlers, { handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS } = {}) {
    this.#socketPath = socketPath;
    this.#handlers = handlers;
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.#ws = new UnixWebSocket(
      socketPath,
      EXECUTOR_ENDPOINT_PATH,
      {
        open: () => this.#handlers.open(),
        message: (data) => this.#receive(data),
        error: (error) => {
          this.#failure ??= new ConnectionError(`connection to the agent at ${socketPath} failed: ${error.message}`, { cause: error });
        },
        close: (code, reason) => this.#finish(code, reason),
      },
      { maxPayload: MAX_EVENT_BYTES },
    );
    this.#timer = setTimeout(
      () => this.#fail(new ConnectionError(`the agent at ${socketPath} did not complete the subscription within ${handshakeTimeoutMs} ms`)),
      handshakeTimeoutMs,
    );
    this.#timer.unref();
  }

  /** Sends one call; returns false (and sends nothing) when the socket is not open. */
  send(call: ExecutorCall): boolean {
    return this.#ws.send(encode(call));
  }

  /** Subscribed: the handshake deadline ends; send HEARTBEAT every interval and watch for silence. */
  startHeartbeats(intervalMs: number): void {
    clearTimeout(this.#timer);
    this.#lastFrameAt = performance.now();
    this.#timer = setInterval(() => {
      const silentMs = performance.now() - this.#lastFrameAt;
      if (silentMs > MISSED_HEARTBEATS * intervalMs) {
        this.#fail(new ConnectionError(`no frame from the agent for ${Math.round(silentMs)} ms (${MISSED_HEARTBEATS} heartbeat intervals of ${intervalMs} ms)`));
        return;
      }
      this.send({ type: 'HEARTBEAT' });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Closes the connection (close handshake, then drops the socket if the peer does not answer). */
  close(code = 1000, reason = ''): Promise<void> {
    if (!this.#done && this.#closeTimer === undefined) {
      clearInterval(this.#timer);
      this.#closeTimer = setTimeout(() => this.#ws.terminate(), CLOSE_TIMEOUT_MS);
      this.#closeTimer.unref();
      this.#ws.close(code, reason);
    }
    return this.#closed;
  }

  #receive(data: Buffer): void {
    if (this.#discarding) return;
    this.#lastFrameAt = performance.now();
    let event: ExecutorEvent;
    try {
      event = decodeEvent(data);
    } catch (error) {
      this.#discarding = true;
      const protocolError = error instanceof ProtocolError ? error : new ProtocolError(String(error), { cause: error });
      this.#failure ??= protocolError;
      this.#handlers.malformed(protocolError);
      void this.close(1008, 'invalid frame');
      return;
    }
    this.#handlers.event(event);
  }

  /** A broken connection (missed heartbeats, handshake deadline): drop it at once. */
  #fail(error: LifelineError): void {
    if (this.#done) return;
    this.#failure ??= error;
    clearInterval(this.#timer);
    this.#ws.terminate();
  }

  #finish(code: number, reason: string): void {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#timer);
    clearTimeout(this.#closeTimer);
    const error =
      this.#failure ??
      new ConnectionError(`the agent at ${this.#socketPath} closed the connection (code ${code}${reason ? `: ${reason}` : ''})`);
    this.#markClosed();
    this.#handlers.closed(error);
  }
}
