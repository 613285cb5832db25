// The Transport of the executor side: the light RFC 6455 client over a Unix socket
// (unix-websocket.ts), so that an executor never loads `ws` (DESIGN §10). The client already keeps
// the contract (exactly one `close`, a close timeout for a peer that never answers our close
// frame), so this only adapts its surface.
// It imports no other session module that would pull in `ws`: keep it so.
import { UnixWebSocket } from './unix-websocket.js';
import { untrustedSocketProblem } from './socket-trust.js';
import { closeReason, type Transport, type TransportEvents } from './transport.js';

/** How long close() waits for the peer's close frame before it drops the socket. */
export const UNIX_CLOSE_TIMEOUT_MS = 1_000;

export interface UnixTransportOptions {
  /** Largest message accepted; a larger one closes the connection with 1009. */
  maxPayload: number;
  /** Default: UNIX_CLOSE_TIMEOUT_MS. */
  closeTimeoutMs?: number;
}

/** Connects to the Unix socket at `socketPath` and upgrades `requestPath` (`/api/v1/executor`). */
export function connectUnix(socketPath: string, requestPath: string, options: UnixTransportOptions, events: TransportEvents): Transport {
  const ws = new UnixWebSocket(
    socketPath,
    requestPath,
    {
      open: () => events.open(),
      // The light client hands over whole messages as bytes; it does not say which opcode carried them.
      message: (data) => events.message(data, true),
      error: (error) => events.error(error),
      close: (code, reason) => events.close(code, reason),
    },
    { maxPayload: options.maxPayload, closeTimeoutMs: options.closeTimeoutMs ?? UNIX_CLOSE_TIMEOUT_MS },
  );
  return {
    get isOpen() {
      return ws.state === 'OPEN';
    },
    // The light client writes straight to its socket and keeps no count of its own.
    get bufferedAmount() {
      return 0;
    },
    send(data, onWritten) {
      if (!ws.send(data)) return false;
      // Handed to the socket (the light client has no per-message write callback).
      if (onWritten) queueMicrotask(() => onWritten());
      return true;
    },
    close(code = 1000, reason = '') {
      ws.close(code, closeReason(reason));
    },
    terminate() {
      ws.terminate();
    },
  };
}

/** A Connector-shaped factory for one endpoint: every call makes a new connection. */
export function unixConnector(socketPath: string, requestPath: string, options: UnixTransportOptions): (events: TransportEvents) => Transport {
  return (events) => connectUnix(socketPath, requestPath, options, events);
}

/**
 * unixConnector that first checks the socket and every directory above it (socket-trust.ts): a
 * socket another local user could have planted gets no connection, so no token is sent to it. The
 * refused attempt ends like a failed connect (`error`, then `close` 1006), and is retried as one.
 */
export function trustedUnixConnector(socketPath: string, requestPath: string, options: UnixTransportOptions): (events: TransportEvents) => Transport {
  const connect = unixConnector(socketPath, requestPath, options);
  return (events) => {
    const problem = untrustedSocketProblem(socketPath);
    return problem === undefined ? connect(events) : refusedTransport(events, problem);
  };
}

function refusedTransport(events: TransportEvents, problem: string): Transport {
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    events.close(1006, '');
  };
  queueMicrotask(() => {
    if (closed) return;
    const error: Error & { code?: string } = new Error(`refusing to connect (the executor's token would go to whoever listens there): ${problem}`);
    error.code = 'ERR_UNTRUSTED_SOCKET';
    events.error(error);
    finish();
  });
  return {
    isOpen: false,
    bufferedAmount: 0,
    send: () => false,
    close: finish,
    terminate: finish,
  };
}
