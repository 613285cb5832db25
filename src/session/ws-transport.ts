// The `ws` implementation of Transport, for both ends: a client connection to the master
// (agent, scheduler) and a server-side connection the master or agent accepted. `ws` emits
// 'error' for a failed connect (which crashes a process without a listener) and for bad framing
// (after it has closed the connection itself): both become the transport's `error` event.
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { turnCorker, type Corkable } from './turn-cork.js';
import { closeReason, type Transport, type TransportEvents } from './transport.js';

export interface WsClientOptions {
  /** Largest message accepted; a larger one closes the connection with 1009. */
  maxPayload: number;
  /** How long the TCP connect plus HTTP upgrade may take. */
  handshakeTimeoutMs: number;
  /** Extra headers of the upgrade request. */
  headers?: Record<string, string>;
  /** wss://: the CA certificates (PEM) the server's must chain to; default: the system's. */
  ca?: string | Buffer;
  /** wss:// to a server that asks for one (mutual TLS): the client certificate chain and its key (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/**
 * Wraps an open or opening `ws` WebSocket (binaryType is set to nodebuffer). `socket`: the one it
 * runs on, for a server-side connection (a client's is taken from its upgrade response); messages
 * sent in one turn are written to it together (turn-cork.ts).
 */
export function wsTransport(ws: WebSocket, events: TransportEvents, socket?: Corkable): Transport {
  ws.binaryType = 'nodebuffer';
  let closed = false;
  let cork = socket ? turnCorker(socket) : undefined;
  ws.on('upgrade', (response: IncomingMessage) => {
    cork = turnCorker(response.socket);
  });
  ws.on('error', (error: Error & { code?: string }) => events.error(error));
  ws.on('open', () => events.open());
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => events.message(toBuffer(data), isBinary));
  ws.on('close', (code: number, reason: Buffer) => {
    if (closed) return;
    closed = true;
    events.close(code, reason.toString());
  });
  return {
    get isOpen() {
      return ws.readyState === WebSocket.OPEN;
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(data, onWritten) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      cork?.();
      ws.send(data, { binary: true }, onWritten && ((error) => onWritten(error ?? undefined)));
      return true;
    },
    close(code = 1000, reason = '') {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close(code, closeReason(reason));
    },
    terminate() {
      ws.terminate();
    },
  };
}

/** Connects to `url` (ws:// or wss://) with `ws`. */
export function connectWs(url: string, options: WsClientOptions, events: TransportEvents): Transport {
  const ws = new WebSocket(url, {
    maxPayload: options.maxPayload,
    handshakeTimeout: options.handshakeTimeoutMs,
    perMessageDeflate: false,
    headers: options.headers,
    ...(options.ca !== undefined && { ca: options.ca }),
    ...(options.cert !== undefined && { cert: options.cert }),
    ...(options.key !== undefined && { key: options.key }),
  });
  return wsTransport(ws, events);
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
