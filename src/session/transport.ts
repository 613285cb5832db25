// What a session needs from a connection, and nothing more: binary messages in and out, a close
// with a code, and exactly one report that it is gone. Two implementations sit under it: `ws`
// (master, agent and scheduler, client and server ends alike: ws-transport.ts) and the light
// Unix-socket client of the executor side, so the session code above them is written once.

export interface TransportEvents {
  /** The connection is established (client transports; a server-side transport is open from the start). */
  open(): void;
  /** One complete message; `binary` is false for a text frame, which lifeline's protocols refuse. */
  message(data: Buffer, binary: boolean): void;
  /** Something failed (connect, upgrade, framing, size, socket); `close` follows. */
  error(error: Error & { code?: string }): void;
  /** The connection is gone, called exactly once: the close code (1006 when there was none) and reason. */
  close(code: number, reason: string): void;
}

export interface Transport {
  /** Messages may be sent. */
  readonly isOpen: boolean;
  /** Bytes accepted by send() and not yet written to the socket. */
  readonly bufferedAmount: number;
  /** Sends one binary message; false (and nothing sent) when not open. `onWritten` runs once it is written or has failed. */
  send(data: Uint8Array, onWritten?: (error?: Error) => void): boolean;
  /** Starts the close handshake; `close` follows (at the latest when the transport's close timeout drops the socket). */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once; `close` follows. */
  terminate(): void;
}

/** Makes a client connection; the events start with `open` (or `error` + `close`). */
export type Connector = (events: TransportEvents) => Transport;

/** WebSocket close reasons are limited to 123 bytes: cut a longer one on a character boundary. */
export function closeReason(text: string): string {
  const buffer = Buffer.from(text);
  if (buffer.length <= 123) return text;
  return buffer.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '');
}
