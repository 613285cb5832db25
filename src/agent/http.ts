// The agent's HTTP endpoint for operators: /health (a readiness probe: 200 only once the agent is
// RUNNING), /state (DESIGN §9 JSON; 503 while the agent is still recovering, since its picture of
// the node is not complete yet) and /metrics.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConnectionError } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { versionDocument } from '../checkpoint/format.js';
import type { SandboxFiles } from './files.js';
import { NODE_VIEW_HTML } from './node-view.js';
import type { ServerTls } from '../session/tls.js';

export interface AgentHttpOptions {
  ip: string;
  port: number;
  registry: Registry;
  /** The /state body, or undefined while it cannot be answered yet (503). */
  state(): { status: string; body?: unknown };
  logger?: Logger;
  /** Serve HTTPS only, with this certificate and key (issue 14). */
  tls?: ServerTls;
  /** The checkpoint disk's health (disk-status.ts): `degraded` while it fails, which makes /health 503. */
  diskHealth?(): { status: string };
  /** /files/browse and /files/read over the sandboxes (issue 15). */
  files?: SandboxFiles;
  /** /health's answer (default: from state()'s status; see healthOf). */
  health?(): Health;
}

/** /health's body; `ready` makes it 200, anything else 503. */
export interface Health {
  status: 'ok' | 'recovering' | 'disconnected' | 'terminating' | 'degraded';
  ready: boolean;
}

/**
 * Readiness from the agent's lifecycle: ready (200 `ok`) only when RUNNING (recovered and
 * registered); 503 `recovering` while it reads its checkpoint and waits for executors, 503
 * `disconnected` while its master is away, 503 `terminating` while it stops. A disk that stops
 * taking the checkpoint is to say `degraded` here: the place for it is this function.
 */
export function healthOf(status: string): Health {
  switch (status) {
    case 'RUNNING':
      return { status: 'ok', ready: true };
    case 'RECOVERING':
      return { status: 'recovering', ready: false };
    case 'DISCONNECTED':
      return { status: 'disconnected', ready: false };
    default:
      return { status: 'terminating', ready: false };
  }
}

export class AgentHttpServer {
  readonly #options: AgentHttpOptions;
  readonly #server: http.Server;
  readonly #logger: Logger;

  constructor(options: AgentHttpOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#logger.error({ err: (error as Error).message }, 'HTTP request failed');
        if (!response.headersSent) json(response, 500, { error: 'internal error' });
        else response.end();
      });
    };
    this.#server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
    this.#server.on('error', (error) => this.#logger.error({ err: error.message }, 'HTTP server error'));
  }

  /** Listens; throws a ConnectionError naming --ip/--port when it cannot. */
  async listen(): Promise<AddressInfo> {
    const { ip, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) =>
        reject(new ConnectionError(`cannot listen on ${ip}:${port} (${error.code ?? error.message}); choose another --port or --ip`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(port, ip, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  get address(): AddressInfo | undefined {
    const address = this.#server.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      json(response, 405, { error: `method ${request.method} not allowed` });
      return;
    }
    switch (path) {
      case '/health': {
        const health = this.#options.health?.() ?? healthOf(this.#options.state().status);
        const disk = health.ready ? this.#options.diskHealth?.() : undefined;
        if (disk && disk.status !== 'ok') json(response, 503, disk);
        else json(response, health.ready ? 200 : 503, { status: health.status });
        return;
      }
      case '/version':
        json(response, 200, versionDocument());
        return;
      case '/state': {
        const { status, body } = this.#options.state();
        if (body === undefined) json(response, 503, { status, error: `the agent is ${status}` });
        else json(response, 200, body);
        return;
      }
      case '/metrics': {
        const registry = this.#options.registry;
        const text = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType }).end(text);
        return;
      }
      case '/':
        response.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-cache',
          'content-security-policy': "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        }).end(NODE_VIEW_HTML);
        return;
      case '/files/browse':
      case '/files/read': {
        const files = this.#options.files;
        if (!files) return json(response, 404, { error: 'this agent serves no files' });
        const query = new URL(request.url ?? '/', 'http://agent').searchParams;
        const answer = path === '/files/browse' ? await files.browse(query) : await files.read(query);
        json(response, answer.status, answer.body);
        return;
      }
      default:
        json(response, 404, { error: `no such endpoint ${path}` });
    }
  }
}

function json(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
