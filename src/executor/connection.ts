// The executor side's link to the agent's endpoint: its constants, and AgentConnection, the one
// connection of a client session (src/session/connection.ts) over the Unix transport with the
// executor's schema (events.ts), for code that drives SUBSCRIBE itself (the Mesos-style executor of
// the reconnect benchmark). The ExecutorDriver uses the session connection directly.
import type { LifelineError, ProtocolError } from '../protocol/errors.js';
import type { ExecutorCall, ExecutorEvent } from '../protocol/executor.js';
import { encode } from '../protocol/msgpack.js';
import { SessionConnection } from '../session/connection.js';
import { trustedUnixConnector, type unixConnector } from '../session/unix-transport.js';
import { MISSED_HEARTBEATS } from '../session/watchdog.js';
import { decodeEvent } from './events.js';

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
export { MISSED_HEARTBEATS };

/** The agent's executor endpoint, on its Unix socket (DESIGN §2). */
export const EXECUTOR_ENDPOINT_PATH = '/api/v1/executor';

/** The session connection to the agent at `socketPath`, with the executor's schema. */
export function agentPeer(socketPath: string): { connect: ReturnType<typeof unixConnector>; peer: string; decode: typeof decodeEvent } {
  return {
    connect: trustedUnixConnector(socketPath, EXECUTOR_ENDPOINT_PATH, { maxPayload: MAX_EVENT_BYTES }),
    peer: `the agent at ${socketPath}`,
    decode: decodeEvent,
  };
}

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

/** A session connection whose handshake its user drives: it ends when startHeartbeats() is called. */
export class AgentConnection {
  readonly #connection: SessionConnection<ExecutorEvent, void>;
  #heartbeatMs: number | undefined;

  constructor(socketPath: string, handlers: ConnectionHandlers, { handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS } = {}) {
    this.#connection = new SessionConnection<ExecutorEvent, void>({
      ...agentPeer(socketPath),
      handshakeTimeoutMs,
      handshakeName: 'subscription',
      handshake: {
        open: () => {
          handlers.open();
        },
        answer: (event) => {
          handlers.event(event);
          const intervalMs = this.#heartbeatMs;
          if (intervalMs === undefined) return undefined;
          return { kind: 'accept', value: undefined, heartbeat: { intervalMs, beat: () => encode({ type: 'HEARTBEAT' } satisfies ExecutorCall) } };
        },
      },
      onInvalid: (error) => {
        handlers.malformed(error);
        return 'close';
      },
      onFrame: (event) => handlers.event(event),
      onClosed: (error) => handlers.closed(error),
    });
  }

  /** Sends one call; returns false (and sends nothing) when the socket is not open. */
  send(call: ExecutorCall): boolean {
    return this.#connection.send(encode(call));
  }

  /** Subscribed (call it from the SUBSCRIBED event): the handshake deadline ends; heartbeats both ways start. */
  startHeartbeats(intervalMs: number): void {
    this.#heartbeatMs = intervalMs;
  }

  /** Closes the connection (close handshake, then drops the socket if the peer does not answer). */
  close(code = 1000, reason = ''): Promise<void> {
    return this.#connection.close(code, reason);
  }
}
