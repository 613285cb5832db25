// The master's one HTTP server: /health, /state and /metrics, the web view at / (issue 15), the
// operator's POST /api/v1/tasks/<id>/kill, and the WebSocket upgrades of
// /api/v1/agent and /api/v1/scheduler routed by path. Every socket is tracked so that stop()
// can close them all (closing a server leaves its open connections alone).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { versionDocument } from '../checkpoint/format.js';
import type { ServerTls } from '../session/tls.js';

export interface HttpRoutes {
  state(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** A file of the web view by path ('/', '/web/app.js', …), or undefined. */
  asset?(path: string): { contentType: string; body: string } | undefined;
  /** An operator's kill of a task (POST /api/v1/tasks/<taskId>/kill[?framework_id=]). */
  kill?(taskId: string, frameworkId: string | undefined): { status: number; body: unknown };
  /** Issue 14: judges the Authorization header of /state, /metrics and kills (absent: open). */
  operators?(authorization: string | undefined): { principal: string } | { status: 401 | 403; error: string; principal?: string };
  /** Upgrade handlers by path. */
  upgrades: Record<string, (request: IncomingMessage, socket: Duplex, head: Buffer) => void>;
}

export class MasterHttpServer {
  readonly server: http.Server;
  #sockets = new Set<Socket>();
  #routes: HttpRoutes;
  #logger: Logger;

  /** With `tls`: HTTPS and WSS only (issue 14). */
  constructor(routes: HttpRoutes, logger: Logger, tls?: ServerTls) {
    this.#routes = routes;
    this.#logger = logger;
    const handler = (request: IncomingMessage, response: ServerResponse) => {
      this.#handle(request, response).catch((error: unknown) => {
        logger.error({ err: error, url: request.url }, 'http handler failed');
        if (!response.headersSent) send(response, 500, { error: 'internal error' });
        else response.destroy();
      });
    };
    // Mutual TLS: ask every client for a certificate and judge it here rather than with
    // rejectUnauthorized, which drops a certificate from another CA without a word; a refused client
    // is destroyed before its first request is read, and logged with its address and reason.
    this.server = tls
      ? https.createServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa !== undefined && { requestCert: true, rejectUnauthorized: false, ca: tls.clientCa }) }, handler)
      : http.createServer(handler);
    if (tls?.clientCa !== undefined) {
      this.server.on('secureConnection', (socket: TLSSocket) => {
        if (socket.authorized) return;
        const presented = Object.keys(socket.getPeerCertificate()).length > 0;
        const code = presented ? String(socket.authorizationError) : 'NO_CLIENT_CERTIFICATE';
        const reason = presented ? `client certificate not signed by --ssl_ca_file (${code})` : 'no client certificate (--ssl_require_cert)';
        logger.warn({ remote: remoteOf(socket), code, reason }, 'TLS client refused');
        socket.destroy();
      });
    }
    // A client that fails the TLS handshake itself (a plain ws:// client) is logged and dropped.
    this.server.on('tlsClientError', (error: Error & { code?: string; reason?: string }, socket) => {
      logger.warn({ remote: remoteOf(socket), code: error.code, reason: error.reason ?? error.message }, 'TLS handshake failed');
    });
    this.server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.server.on('clientError', (error, socket) => {
      logger.debug({ err: error }, 'bad http request');
      socket.destroy();
    });
    this.server.on('error', (error) => logger.error({ err: error }, 'http server error'));
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(request, socket, head));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Closes the server and destroys every socket it ever accepted (HTTP and upgraded alike). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      for (const socket of this.#sockets) socket.destroy();
      this.#sockets.clear();
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = pathOf(request);
    const kill = KILL_PATH.exec(path);
    if ((kill || path === '/state' || path === '/metrics') && !this.#operator(request, response, path)) return;
    if (kill && this.#routes.kill) return this.#kill(request, response, safeDecode(kill[1]!));
    const asset = request.method === 'GET' || request.method === 'HEAD' ? this.#routes.asset?.(path) : undefined;
    if (asset) {
      response.writeHead(200, {
        'Content-Type': asset.contentType,
        'Content-Length': Buffer.byteLength(asset.body),
        'Cache-Control': 'no-cache',
        // Everything the page uses comes from the master itself.
        'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        'X-Content-Type-Options': 'nosniff',
      });
      response.end(request.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    const known = path === '/health' || path === '/state' || path === '/metrics' || path === '/version';
    if (!known) return send(response, 404, { error: `no such endpoint: ${path}` });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return send(response, 405, { error: `${request.method} is not allowed on ${path}` });
    }
    if (path === '/health') return send(response, 200, { status: 'ok' });
    if (path === '/version') return send(response, 200, versionDocument());
    if (path === '/state') return send(response, 200, this.#routes.state());
    const { contentType, body } = await this.#routes.metrics();
    response.writeHead(200, { 'Content-Type': contentType });
    response.end(body);
  }

  /** Whether an operator call may go on; if not, the refusal is answered (401 asks for Basic) and logged. */
  #operator(request: IncomingMessage, response: ServerResponse, path: string): boolean {
    if (!this.#routes.operators) return true;
    const verdict = this.#routes.operators(request.headers.authorization);
    if (!('status' in verdict)) return true;
    const refusal = verdict;
    this.#logger.warn({ code: refusal.status === 401 ? 'ERR_UNAUTHENTICATED' : 'ERR_UNAUTHORIZED', path, principal: refusal.principal, remote: remoteOf(request.socket) }, 'operator request refused');
    if (refusal.status === 401) response.setHeader('WWW-Authenticate', 'Basic realm="lifeline", charset="UTF-8"');
    send(response, refusal.status, { error: refusal.error });
    return false;
  }

  /**
   * POST only, with a JSON content type: a browser sends that cross-origin only after a CORS
   * preflight, which the master never grants, so another site's page cannot kill tasks.
   */
  async #kill(request: IncomingMessage, response: ServerResponse, taskId: string): Promise<void> {
    if (request.method !== 'POST') {
      response.setHeader('Allow', 'POST');
      return send(response, 405, { error: `${request.method} is not allowed on ${pathOf(request)} (POST it)` });
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return send(response, 415, { error: 'send Content-Type: application/json (the body may be {})' });
    await drain(request, MAX_KILL_BODY);
    const frameworkId = new URL(request.url ?? '/', 'http://master').searchParams.get('framework_id') ?? undefined;
    const { status, body } = this.#routes.kill!(taskId, frameworkId);
    send(response, status, body);
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.#logger.debug({ err: error }, 'upgrade socket error'));
    const handler = this.#routes.upgrades[pathOf(request)];
    if (!handler) {
      socket.once('finish', () => socket.destroy());
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    handler(request, socket, head);
  }
}

const KILL_PATH = /^\/api\/v1\/tasks\/([^/]+)\/kill$/;
/** A kill's body is not needed; at most this much of it is read. */
const MAX_KILL_BODY = 4096;

/** Reads and discards up to `limit` bytes of the request body; more than that ends the request. */
function drain(request: IncomingMessage, limit: number): Promise<void> {
  return new Promise((resolve) => {
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.destroy();
        resolve();
      }
    });
    request.on('end', () => resolve());
    request.on('error', () => resolve());
    request.on('close', () => resolve());
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // refused as an invalid ID
  }
}

function pathOf(request: IncomingMessage): string {
  try {
    return new URL(request.url ?? '/', 'http://master').pathname;
  } catch {
    return request.url ?? '/';
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** `HOST:PORT` of a socket's peer (`unknown` once it is gone). */
function remoteOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  if (socket.remoteAddress === undefined) return 'unknown';
  return socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`;
}
