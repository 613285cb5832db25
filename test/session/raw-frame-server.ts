// A hostile or buggy WebSocket server for UnixWebSocket's tests: a node:net server on a Unix
// socket that performs the HTTP upgrade itself (correctly or wrongly, on demand) and then writes
// whatever bytes a test hands it, recording every byte the client sends back to be parsed.
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a client's key. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A correct 101 answer, with `omit` headers left out and `extra` lines added. */
export function upgradeAnswer(key: string, { omit = [], extra = [], status = '101 Switching Protocols' }: { omit?: string[]; extra?: string[]; status?: string } = {}): string {
  const headers = [`Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept: ${acceptFor(key)}`]
    .filter((line) => !omit.some((name) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`)))
    .concat(extra);
  return `HTTP/1.1 ${status}\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`;
}

export interface FrameOptions {
  /** FIN (default true). */
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3). */
  rsv?: number;
  /** Mask the frame, as a server must not. */
  masked?: boolean;
  /** Declare this length instead of the payload's, in the 64-bit form (the bytes that follow are `payload`). */
  declared64?: bigint;
}

/** One server frame, as raw bytes; anything RFC 6455 forbids can be asked for. */
export function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: FrameOptions = {}): Buffer {
  const { fin = true, rsv = 0, masked = false, declared64 } = options;
  const data = Buffer.from(payload);
  let header: Buffer;
  if (declared64 !== undefined || data.length > 0xffff) {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(declared64 ?? BigInt(data.length), 2);
  } else if (data.length >= 126) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(2);
    header[1] = data.length;
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!masked) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const mask = Buffer.from([0x11, 0x22, 0x33, 0x44]);
  return Buffer.concat([header, mask, Buffer.from(data.map((byte, i) => byte ^ mask[i & 3]!))]);
}

/** A close frame's payload: the code (any 16-bit number) and reason bytes. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(code, 0);
  return Buffer.concat([out, Buffer.from(reason)]);
}

export interface ClientFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  /** The masking key (empty when unmasked). */
  mask: Buffer;
  /** Unmasked. */
  payload: Buffer;
}

/** The frames in what a client sent, and the bytes after the last whole frame. */
export function parseClientFrames(bytes: Buffer): { frames: ClientFrame[]; rest: Buffer } {
  const frames: ClientFrame[] = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < 2) break;
    const masked = (bytes[at + 1]! & 0x80) !== 0;
    let length = bytes[at + 1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (bytes.length - at < 4) break;
      length = bytes.readUInt16BE(at + 2);
      offset = 4;
    } else if (length === 127) {
      if (bytes.length - at < 10) break;
      length = Number(bytes.readBigUInt64BE(at + 2));
      offset = 10;
    }
    const maskAt = at + offset;
    if (masked) offset += 4;
    if (bytes.length - at < offset + length) break;
    const payload = Buffer.from(bytes.subarray(at + offset, at + offset + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ bytes[maskAt + (i & 3)]!;
    const mask = masked ? Buffer.from(bytes.subarray(maskAt, maskAt + 4)) : Buffer.alloc(0);
    frames.push({ fin: (bytes[at]! & 0x80) !== 0, opcode: bytes[at]! & 0x0f, masked, mask, payload });
    at += offset + length;
  }
  return { frames, rest: bytes.subarray(at) };
}

/** One client connection, seen from the server. */
export class RawPeer {
  readonly socket: net.Socket;
  /** The client's request head, once complete. */
  request = '';
  key = '';
  /** The client sent its FIN; the socket is closed. */
  ended = false;
  closed = false;
  #head = Buffer.alloc(0);
  #received: Buffer[] = [];

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** How many reads the bytes after the request head came in (one write of the client's, one read here: on a Unix socket). */
  get reads(): number {
    return this.#received.length;
  }

  /** Every byte the client sent after its request head. */
  get received(): Buffer {
    return Buffer.concat(this.#received);
  }

  /** The frames the client sent after its request head, and any bytes after the last whole frame. */
  get frames(): { frames: ClientFrame[]; rest: Buffer } {
    return parseClientFrames(this.received);
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** @returns true once the request head is complete. */
  receive(chunk: Buffer): boolean {
    if (this.request) {
      this.#received.push(chunk);
      return false;
    }
    this.#head = Buffer.concat([this.#head, chunk]);
    const end = this.#head.indexOf('\r\n\r\n');
    if (end === -1) return false;
    this.request = this.#head.subarray(0, end).toString('latin1');
    this.key = /^Sec-WebSocket-Key: *(\S+)/im.exec(this.request)?.[1] ?? '';
    const rest = this.#head.subarray(end + 4);
    if (rest.length > 0) this.#received.push(rest);
    return true;
  }
}

export interface RawServerOptions {
  /** The answer to the upgrade request (default: a correct 101). */
  answer?: (key: string) => string;
  /** Bytes written right after the answer, in the same write. */
  after?: Buffer;
  /** Keep our side open after the client's FIN: a peer that never closes (default false). */
  halfOpen?: boolean;
}

export class RawFrameServer {
  readonly socketPath: string;
  readonly peers: RawPeer[] = [];
  readonly #server: net.Server;

  private constructor(socketPath: string, server: net.Server) {
    this.socketPath = socketPath;
    this.#server = server;
  }

  /** Listens on `<dir>/raw.sock`. */
  static async start(dir: string, { answer = (key) => upgradeAnswer(key), after, halfOpen = false }: RawServerOptions = {}): Promise<RawFrameServer> {
    const socketPath = path.join(dir, 'raw.sock');
    const server = net.createServer({ allowHalfOpen: halfOpen });
    const raw = new RawFrameServer(socketPath, server);
    server.on('connection', (socket) => {
      const peer = new RawPeer(socket);
      raw.peers.push(peer);
      socket.on('error', () => {});
      socket.on('end', () => (peer.ended = true));
      socket.on('close', () => (peer.closed = true));
      socket.on('data', (chunk: Buffer) => {
        if (peer.receive(chunk)) socket.write(after ? Buffer.concat([Buffer.from(answer(peer.key), 'latin1'), after]) : answer(peer.key));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
    return raw;
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const peer of this.peers) peer.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
