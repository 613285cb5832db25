// A minimal WebSocket client (RFC 6455) over a Unix socket, for the executor side only. `ws` pulls
// in http, https, tls, zlib and its own server code: about 8 MB of RSS and most of the start-up
// time of every executor (DESIGN §10). An executor needs none of that: one connection to a known
// local path, binary frames, no extensions, no subprotocol, no TLS. This speaks exactly that —
// the HTTP/1.1 upgrade (status, Upgrade, Connection and Sec-WebSocket-Accept checked), masked
// client frames, fragmented messages, ping/pong and the close handshake with its own timeout —
// with node built-ins only, and fails every peer violation with the code RFC 6455 gives it.
// Invariants: it ends CLOSED with close(code, reason) called exactly once, 1005/1006/1015 never go
// on the wire, and nothing is written after our close frame or the socket's end.
import { isUtf8 } from 'node:buffer';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import net from 'node:net';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { InvalidOptionError, ProtocolError } from '../protocol/errors.js';
import { turnCorker } from './turn-cork.js';

/** The GUID of RFC 6455 §1.3, appended to the key to compute Sec-WebSocket-Accept. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest HTTP response head accepted before the upgrade. */
const MAX_HEAD_BYTES = 16 * 1024;
/** How long the peer gets, once we have sent our close frame or ended, to close its side. */
const DEFAULT_CLOSE_TIMEOUT_MS = 1_000;
/** The largest close reason: a control frame carries at most 125 bytes, 2 of them the code. */
const MAX_REASON_BYTES = 123;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** The reason we send when we fail a connection with a code (RFC 6455 §7.4.1). */
const FAILURE_REASONS: Readonly<Record<number, string>> = {
  1002: 'protocol error',
  1003: 'unsupported data',
  1007: 'invalid payload data',
  1009: 'message too big',
};

/**
 * CONNECTING (upgrade under way) → OPEN → CLOSING (nothing more is written: our close frame is
 * out, or the socket is ending) → CLOSED (the socket is gone; close() has been reported).
 */
export type WebSocketState = 'CONNECTING' | 'OPEN' | 'CLOSING' | 'CLOSED';

const MOVES: Transitions<WebSocketState> = {
  CONNECTING: ['OPEN', 'CLOSING', 'CLOSED'],
  OPEN: ['CLOSING', 'CLOSED'],
  CLOSING: ['CLOSED'],
  CLOSED: [],
};

export interface WebSocketHandlers {
  /** The upgrade succeeded: frames may be sent. */
  open(): void;
  /** One complete binary message. */
  message(data: Buffer): void;
  /** Something went wrong (connect, upgrade, framing, payload size); `close` follows. */
  error(error: Error): void;
  /**
   * The connection is gone (called exactly once): the peer's close code (1005 when its close frame
   * had none), the code we failed the connection with, or 1006 when no close frame was exchanged.
   */
  close(code: number, reason: string): void;
}

export interface UnixWebSocketOptions {
  /** Largest message accepted; a larger one closes the connection with 1009. */
  maxPayload: number;
  /** How long the peer gets to answer our close frame (or to close its side) before the socket is dropped. */
  closeTimeoutMs?: number;
}

/** A violation by the peer: the connection is failed with `closeCode`. */
class WebSocketError extends ProtocolError {
  constructor(
    message: string,
    readonly closeCode: number,
  ) {
    super(message);
  }
}

/** The codes a close frame may carry (RFC 6455 §7.4, IANA registry): never 1004-1006 or 1015. */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export class UnixWebSocket {
  readonly #socket: net.Socket;
  readonly #handlers: WebSocketHandlers;
  readonly #maxPayload: number;
  readonly #closeTimeoutMs: number;
  readonly #key = randomBytes(16).toString('base64');
  readonly #lifecycle = new StateMachine<WebSocketState>('WebSocket client', 'CONNECTING', MOVES);
  /** Bytes received and not parsed yet (the response head, then frames). */
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  /** The message being received in fragments. */
  #fragmenting = false;
  #fragments: Buffer[] = [];
  #fragmentsBytes = 0;
  #closeCode = 1006;
  #closeReason = '';
  /** False once nothing more may be written: our close frame is out, or the socket ends. */
  #writable = true;
  /** False once nothing more is parsed: the peer's close frame arrived, or the connection failed. */
  #reading = true;
  #closeTimer: NodeJS.Timeout | undefined;
  /** Corks the socket for the rest of the turn: a turn's frames leave in one write. */
  readonly #cork: () => void;

  /** Connects to the Unix socket at `socketPath` and asks to upgrade `requestPath` (`/api/v1/executor`). */
  constructor(
    socketPath: string,
    requestPath: string,
    handlers: WebSocketHandlers,
    { maxPayload, closeTimeoutMs = DEFAULT_CLOSE_TIMEOUT_MS }: UnixWebSocketOptions,
  ) {
    if (!Number.isSafeInteger(maxPayload) || maxPayload < 0) throw new InvalidOptionError('maxPayload', maxPayload, 'a non-negative integer');
    if (!Number.isFinite(closeTimeoutMs) || closeTimeoutMs < 0) throw new InvalidOptionError('closeTimeoutMs', closeTimeoutMs, 'a non-negative number');
    this.#handlers = handlers;
    this.#maxPayload = maxPayload;
    this.#closeTimeoutMs = closeTimeoutMs;
    this.#socket = net.connect({ path: socketPath });
    this.#socket.setNoDelay(true);
    this.#cork = turnCorker(this.#socket);
    this.#socket.on('connect', () => {
      if (!this.#lifecycle.is('CONNECTING')) return;
      this.#write(
        `GET ${requestPath} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${this.#key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    // The peer's FIN: node ends our side too, so nothing more may be written.
    this.#socket.on('end', () => this.#stopWriting());
    this.#socket.on('error', (error) => {
      if (!this.#lifecycle.is('CLOSED')) this.#handlers.error(error);
    });
    this.#socket.on('close', () => this.#finish());
  }

  get state(): WebSocketState {
    return this.#lifecycle.state;
  }

  /** Sends one binary message; returns false (and sends nothing) when the connection is not open. */
  send(data: Uint8Array): boolean {
    if (!this.#lifecycle.is('OPEN')) return false;
    return this.#write(frame(OP_BINARY, data));
  }

  /**
   * Starts the close handshake; the socket ends when the peer answers, or is dropped after the
   * close timeout. Throws InvalidOptionError for a code a close frame may not carry (1005, 1006…).
   */
  close(code = 1000, reason = ''): void {
    if (!isValidCloseCode(code)) throw new InvalidOptionError('close code', code, '1000-1003, 1007-1014 or 3000-4999');
    const text = Buffer.from(reason);
    if (text.length > MAX_REASON_BYTES) throw new InvalidOptionError('close reason', reason, `at most ${MAX_REASON_BYTES} bytes of UTF-8`);
    if (this.#lifecycle.is('CONNECTING')) this.terminate();
    else if (this.#lifecycle.is('OPEN')) this.#sendClose(code, text);
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    if (this.#lifecycle.is('CLOSED')) return;
    this.#reading = false;
    this.#stopWriting();
    this.#socket.destroy();
  }

  /** Every byte goes out through here: nothing once the connection is closing. */
  #write(data: string | Buffer): boolean {
    if (!this.#writable || !this.#socket.writable) return false;
    this.#cork();
    this.#socket.write(data);
    return true;
  }

  /** No more writes: OPEN or CONNECTING become CLOSING. */
  #stopWriting(): void {
    this.#writable = false;
    if (this.#lifecycle.is('CONNECTING', 'OPEN')) this.#lifecycle.transition('CLOSING');
  }

  /** Our close frame (`code` undefined: an empty one, answering an empty one), the last thing written. */
  #sendClose(code: number | undefined, reason: Buffer): void {
    let payload = Buffer.alloc(0);
    if (code !== undefined) {
      payload = Buffer.allocUnsafe(2 + reason.length);
      payload.writeUInt16BE(code, 0);
      reason.copy(payload, 2);
    }
    this.#write(frame(OP_CLOSE, payload));
    this.#stopWriting();
    this.#armCloseTimer();
  }

  /** A peer that never answers our close frame, or never closes its side, does not hold the socket. */
  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined) return;
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#closeTimeoutMs);
    this.#closeTimer.unref();
  }

  #receive(chunk: Buffer): void {
    if (!this.#reading) return;
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
    try {
      if (this.#lifecycle.is('CONNECTING') && !this.#readHead()) return;
      while (this.#reading && this.#readFrame());
    } catch (error) {
      // Only the peer's violations fail the connection; a throwing handler is not ours to hide.
      if (!(error instanceof WebSocketError)) throw error;
      this.#fail(error);
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
    const connection = headers.get('connection')?.split(',') ?? [];
    if (!connection.some((token) => token.trim().toLowerCase() === 'upgrade')) {
      throw new WebSocketError('invalid Connection header in the upgrade response', 1002);
    }
    const accept = createHash('sha1').update(this.#key + GUID).digest('base64');
    if (headers.get('sec-websocket-accept') !== accept) throw new WebSocketError('invalid Sec-WebSocket-Accept header in the upgrade response', 1002);
    if (headers.has('sec-websocket-extensions')) throw new WebSocketError('the server negotiated an extension that was not offered', 1002);
    if (headers.has('sec-websocket-protocol')) throw new WebSocketError('the server chose a subprotocol that was not offered', 1002);
    this.#unshift(data.subarray(end + 4));
    this.#lifecycle.transition('OPEN');
    this.#handlers.open();
    return this.#reading;
  }

  /**
   * Parses one frame if it has fully arrived; returns false when more bytes are needed. The head is
   * checked before the payload is waited for: a declared length over maxPayload fails at once.
   */
  #readFrame(): boolean {
    if (this.#bufferedBytes < 2) return false;
    const head = this.#peek(Math.min(this.#bufferedBytes, 10));
    const fin = (head[0]! & 0x80) !== 0;
    const opcode = head[0]! & 0x0f;
    const control = opcode >= 0x8;
    if ((head[0]! & 0x70) !== 0) throw new WebSocketError('a frame has RSV bits set (no extension was negotiated)', 1002);
    if ((head[1]! & 0x80) !== 0) throw new WebSocketError('a frame from the server is masked', 1002);
    if (opcode > OP_PONG || (!control && opcode > OP_BINARY)) throw new WebSocketError(`a frame has the unknown opcode ${opcode}`, 1002);
    if (control && (!fin || (head[1]! & 0x7f) > 125)) throw new WebSocketError('a control frame is fragmented or longer than 125 bytes', 1002);
    if (opcode === OP_CONTINUATION && !this.#fragmenting) throw new WebSocketError('a continuation frame without a message to continue', 1002);
    if (!control && opcode !== OP_CONTINUATION && this.#fragmenting) {
      throw new WebSocketError('a new message started before the previous one ended', 1002);
    }
    if (opcode === OP_TEXT) throw new WebSocketError('a text frame (lifeline speaks binary frames only)', 1003);
    let length = head[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (head.length < 4) return false;
      length = head.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (head.length < 10) return false;
      // Past 2^53 (or with the top bit set, which RFC 6455 forbids) the sum is inexact but huge.
      length = head.readUInt32BE(2) * 2 ** 32 + head.readUInt32BE(6);
      offset = 10;
    }
    if (!control && this.#fragmentsBytes + length > this.#maxPayload) {
      throw new WebSocketError(`a message exceeds the maximum of ${this.#maxPayload} bytes`, 1009);
    }
    if (this.#bufferedBytes < offset + length) return false;
    this.#take(offset);
    const payload = this.#take(length);
    if (opcode === OP_PING) this.#write(frame(OP_PONG, payload));
    else if (opcode === OP_CLOSE) this.#onClose(payload);
    else if (!control) this.#fragment(payload, fin);
    return true;
  }

  #fragment(payload: Buffer, fin: boolean): void {
    this.#fragments.push(payload);
    this.#fragmentsBytes += payload.length;
    this.#fragmenting = !fin;
    if (!fin) return;
    const data = this.#fragments.length === 1 ? this.#fragments[0]! : Buffer.concat(this.#fragments, this.#fragmentsBytes);
    this.#fragments = [];
    this.#fragmentsBytes = 0;
    if (this.#lifecycle.is('OPEN')) this.#handlers.message(data);
  }

  /** The peer's close frame: nothing after it is parsed; answered with its code when it started. */
  #onClose(payload: Buffer): void {
    this.#reading = false;
    let code: number | undefined;
    if (payload.length === 1) throw new WebSocketError('a close frame with a 1-byte payload', 1002);
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) throw new WebSocketError(`a close frame with the invalid code ${code}`, 1002);
      const reason = payload.subarray(2);
      if (!isUtf8(reason)) throw new WebSocketError('a close reason that is not valid UTF-8', 1007);
      this.#closeCode = code;
      this.#closeReason = reason.toString('utf8');
    } else {
      this.#closeCode = 1005;
    }
    if (this.#lifecycle.is('OPEN')) this.#sendClose(code, Buffer.alloc(0));
    // Both sides have sent a close frame: the socket-level close follows.
    this.#socket.end();
    this.#armCloseTimer();
  }

  /** A peer violation: tell the peer why if we still may, stop reading and writing, report it. */
  #fail(error: WebSocketError): void {
    this.#reading = false;
    this.#buffered = [];
    this.#bufferedBytes = 0;
    if (this.#lifecycle.is('OPEN')) {
      this.#closeCode = error.closeCode;
      this.#closeReason = FAILURE_REASONS[error.closeCode] ?? '';
      this.#sendClose(this.#closeCode, Buffer.from(this.#closeReason));
      this.#socket.end();
    } else {
      // A bad upgrade (reported as 1006: no WebSocket connection existed) or a violation after our
      // close frame: nothing more can be said, drop the socket.
      if (this.#lifecycle.is('CLOSING')) this.#closeCode = error.closeCode;
      this.terminate();
    }
    this.#handlers.error(error);
  }

  #finish(): void {
    clearTimeout(this.#closeTimer);
    this.#reading = false;
    this.#writable = false;
    this.#buffered = [];
    this.#bufferedBytes = 0;
    this.#fragments = [];
    if (!this.#lifecycle.ensure('CLOSED')) return;
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
  nextMask(mask);
  const start = headerLength + 4;
  for (let i = 0; i < length; i++) out[start + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Random bytes drawn a block at a time: one `randomFillSync` per frame cost more than the frame's masking. */
const MASK_POOL_BYTES = 4096;
const maskPool = Buffer.allocUnsafe(MASK_POOL_BYTES);
let maskPoolOffset = MASK_POOL_BYTES;

/** Fills `mask` (4 bytes) with the next fresh random bytes; none is used twice (RFC 6455 §5.3). */
function nextMask(mask: Buffer): void {
  if (maskPoolOffset + 4 > MASK_POOL_BYTES) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  maskPool.copy(mask, 0, maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
}
