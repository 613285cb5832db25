// A minimal WebSocket client (RFC 6455) over a Unix socket, for the executor side only. `ws` pulls
// in http, https, tls, zlib and its own server code: about 8 MB of RSS and most of the start-up
// time of every executor (DESIGN §10). An executor needs none of that: one connection to a known
// local path, binary frames, no extensions, no subprotocol, no TLS. This speaks exactly that —
// the HTTP/1.1 upgrade (its Sec-WebSocket-Accept checked), masked client frames, fragmented
// messages, ping/pong and the close handshake — with node:net and node:crypto only. The agent
// keeps its `ws` server; tests run this client against it.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import net from 'node:net';

/** The GUID of RFC 6455 §1.3, appended to the key to compute Sec-WebSocket-Accept. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest HTTP response head accepted before the upgrade. */
const MAX_HEAD_BYTES = 16 * 1024;
/** After failing a connection with a close frame, how long the peer gets to close its side. */
const FAIL_LINGER_MS = 1_000;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** CONNECTING (upgrade under way) → OPEN → CLOSING (a close frame sent) → CLOSED. */
export type WebSocketState = 'CONNECTING' | 'OPEN' | 'CLOSING' | 'CLOSED';

export interface WebSocketHandlers {
  /** The upgrade succeeded: frames may be sent. */
  open(): void;
  /** One complete message (binary or text, as bytes). */
  message(data: Buffer): void;
  /** Something went wrong (connect, upgrade, framing, payload size); `close` follows. */
  error(error: Error): void;
  /** The connection is gone (called exactly once): the peer's close code, or 1006 when there was none. */
  close(code: number, reason: string): void;
}

export interface UnixWebSocketOptions {
  /** Largest message accepted; a larger one closes the connection with 1009. */
  maxPayload: number;
}

/** A protocol violation by the peer: the connection is failed with `code`. */
class WebSocketError extends Error {
  constructor(
    message: string,
    readonly closeCode: number,
  ) {
    super(message);
  }
}

export class UnixWebSocket {
  readonly #socket: net.Socket;
  readonly #handlers: WebSocketHandlers;
  readonly #maxPayload: number;
  readonly #key = randomBytes(16).toString('base64');
  #state: WebSocketState = 'CONNECTING';
  /** Bytes received and not parsed yet (the response head, then frames). */
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  /** Fragments of the message being received. */
  #fragments: Buffer[] = [];
  #fragmentsBytes = 0;
  #closeCode = 1006;
  #closeReason = '';
  #closeReceived = false;
  #closed = false;

  /** Connects to the Unix socket at `socketPath` and asks to upgrade `requestPath` (`/api/v1/executor`). */
  constructor(socketPath: string, requestPath: string, handlers: WebSocketHandlers, { maxPayload }: UnixWebSocketOptions) {
    this.#handlers = handlers;
    this.#maxPayload = maxPayload;
    this.#socket = net.connect({ path: socketPath });
    this.#socket.setNoDelay(true);
    this.#socket.on('connect', () => {
      this.#socket.write(
        `GET ${requestPath} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${this.#key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#socket.on('error', (error) => this.#handlers.error(error));
    this.#socket.on('close', () => this.#finish());
  }

  get state(): WebSocketState {
    return this.#state;
  }

  /** Sends one binary message; returns false (and sends nothing) when the connection is not open. */
  send(data: Uint8Array): boolean {
    if (this.#state !== 'OPEN') return false;
    this.#socket.write(frame(OP_BINARY, data));
    return true;
  }

  /** Starts the close handshake; the socket ends when the peer answers (or when terminate() is called). */
  close(code = 1000, reason = ''): void {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return;
    if (this.#state === 'CONNECTING') {
      this.terminate();
      return;
    }
    this.#sendClose(code, reason);
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #sendClose(code: number, reason: string): void {
    this.#state = 'CLOSING';
    const text = Buffer.from(reason);
    const payload = Buffer.allocUnsafe(2 + text.length);
    payload.writeUInt16BE(code, 0);
    text.copy(payload, 2);
    this.#socket.write(frame(OP_CLOSE, payload));
    // Both sides have sent a close frame: the TCP-level close follows.
    if (this.#closeReceived) this.#socket.end();
  }

  #receive(chunk: Buffer): void {
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
    try {
      if (this.#state === 'CONNECTING' && !this.#readHead()) return;
      while (!this.#closed && this.#readFrame());
    } catch (error) {
      // Only the peer's violations fail the connection; a throwing handler is not ours to hide.
      if (!(error instanceof WebSocketError)) throw error;
      this.#failWith(error);
    }
  }

  /** Parses the HTTP response head once it is complete; returns true when the connection is open. */
  #readHead(): boolean {
    const data = this.#take(this.#bufferedBytes);
    const end = data.indexOf('\r\n\r\n');
    if (end === -1) {
      if (data.length > MAX_HEAD_BYTES) throw new WebSocketError(`the upgrade response head exceeds ${MAX_HEAD_BYTES} bytes`, 1002);
      this.#unshift(data);
      return false;
    }
    const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
    if (status !== '101') throw new WebSocketError(`unexpected server response: ${status ?? JSON.stringify(statusLine.slice(0, 80))}`, 1002);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    if (headers.get('upgrade')?.toLowerCase() !== 'websocket') throw new WebSocketError('invalid Upgrade header in the upgrade response', 1002);
    const accept = createHash('sha1').update(this.#key + GUID).digest('base64');
    if (headers.get('sec-websocket-accept') !== accept) throw new WebSocketError('invalid Sec-WebSocket-Accept header in the upgrade response', 1002);
    if (headers.has('sec-websocket-extensions')) throw new WebSocketError('the server negotiated an extension that was not offered', 1002);
    if (headers.has('sec-websocket-protocol')) throw new WebSocketError('the server chose a subprotocol that was not offered', 1002);
    this.#unshift(data.subarray(end + 4));
    this.#state = 'OPEN';
    this.#handlers.open();
    return this.#state === 'OPEN' || this.#state === 'CLOSING';
  }

  /** Parses one frame if it has fully arrived; returns false when more bytes are needed. */
  #readFrame(): boolean {
    if (this.#bufferedBytes < 2) return false;
    const head = this.#peek(Math.min(this.#bufferedBytes, 14));
    const fin = (head[0]! & 0x80) !== 0;
    const opcode = head[0]! & 0x0f;
    if ((head[0]! & 0x70) !== 0) throw new WebSocketError('a frame has RSV bits set (no extension was negotiated)', 1002);
    if ((head[1]! & 0x80) !== 0) throw new WebSocketError('a frame from the server is masked', 1002);
    let length = head[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (head.length < 4) return false;
      length = head.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (head.length < 10) return false;
      const high = head.readUInt32BE(2);
      if (high > 0x1fffff) throw new WebSocketError('a frame length exceeds 2^53 - 1', 1009);
      length = high * 2 ** 32 + head.readUInt32BE(6);
      offset = 10;
    }
    const control = opcode >= 0x8;
    if (control && (!fin || length > 125)) throw new WebSocketError('a control frame is fragmented or longer than 125 bytes', 1002);
    if (!control && this.#fragmentsBytes + length > this.#maxPayload) {
      throw new WebSocketError(`a message exceeds the maximum of ${this.#maxPayload} bytes`, 1009);
    }
    if (this.#bufferedBytes < offset + length) return false;
    this.#take(offset);
    const payload = this.#take(length);
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
        if (this.#fragments.length > 0) throw new WebSocketError('a new message started before the previous one ended', 1002);
        this.#message(payload, fin);
        return true;
      case OP_CONTINUATION:
        if (this.#fragments.length === 0) throw new WebSocketError('a continuation frame without a message to continue', 1002);
        this.#message(payload, fin);
        return true;
      case OP_PING:
        if (this.#state === 'OPEN') this.#socket.write(frame(OP_PONG, payload));
        return true;
      case OP_PONG:
        return true;
      case OP_CLOSE:
        this.#onClose(payload);
        return true;
      default:
        throw new WebSocketError(`a frame has the unknown opcode ${opcode}`, 1002);
    }
  }

  #message(payload: Buffer, fin: boolean): void {
    this.#fragments.push(payload);
    this.#fragmentsBytes += payload.length;
    if (!fin) return;
    const data = this.#fragments.length === 1 ? this.#fragments[0]! : Buffer.concat(this.#fragments, this.#fragmentsBytes);
    this.#fragments = [];
    this.#fragmentsBytes = 0;
    if (this.#state === 'OPEN') this.#handlers.message(data);
  }

  #onClose(payload: Buffer): void {
    this.#closeReceived = true;
    if (payload.length >= 2) {
      this.#closeCode = payload.readUInt16BE(0);
      this.#closeReason = payload.subarray(2).toString('utf8');
    } else {
      this.#closeCode = 1005;
    }
    // Answer with the same code (RFC 6455 §5.5.1), unless we started the handshake.
    if (this.#state === 'OPEN') this.#sendClose(payload.length >= 2 ? this.#closeCode : 1000, '');
    else this.#socket.end();
  }

  /** A protocol violation or an invalid upgrade: report it, tell the peer why if we can, drop the socket. */
  #failWith(error: WebSocketError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.error(error);
    if (this.#state !== 'CONNECTING') this.#closeCode = error.closeCode;
    if (this.#state !== 'OPEN') {
      this.#socket.destroy();
      return;
    }
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16BE(error.closeCode, 0);
    this.#socket.end(frame(OP_CLOSE, payload));
    setTimeout(() => this.#socket.destroy(), FAIL_LINGER_MS).unref();
  }

  #finish(): void {
    this.#closed = true;
    if (this.#state === 'CLOSED') return;
    this.#state = 'CLOSED';
    this.#buffered = [];
    this.#fragments = [];
    // The peer's close code; the code we failed the connection with; else 1006 (abnormal closure).
    this.#handlers.close(this.#closeCode, this.#closeReason);
  }

  /** The first `n` buffered bytes, without consuming them (n ≤ bufferedBytes). */
  #peek(n: number): Buffer {
    const first = this.#buffered[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.#buffered, this.#bufferedBytes);
    this.#buffered = [joined];
    return joined.subarray(0, n);
  }

  /** Consumes and returns the first `n` buffered bytes (n ≤ bufferedBytes). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#buffered[0]!;
    let taken: Buffer;
    if (first.length === n) {
      taken = first;
      this.#buffered.shift();
    } else if (first.length > n) {
      taken = first.subarray(0, n);
      this.#buffered[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.#buffered, this.#bufferedBytes);
      taken = joined.subarray(0, n);
      this.#buffered = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.#bufferedBytes -= n;
    return taken;
  }

  #unshift(data: Buffer): void {
    if (data.length === 0) return;
    this.#buffered.unshift(data);
    this.#bufferedBytes += data.length;
  }
}

/** One client frame: FIN set, masked with a fresh random key (RFC 6455 §5.3). */
function frame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + 4 + length);
  out[0] = 0x80 | opcode;
  if (length < 126) {
    out[1] = 0x80 | length;
  } else if (length < 0x10000) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  const mask = out.subarray(headerLength, headerLength + 4);
  randomFillSync(mask);
  const start = headerLength + 4;
  for (let i = 0; i < length; i++) out[start + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}
