// The agent's HTTP endpoint for operators: /health, /state (DESIGN §9 JSON; 503 while the agent is
// still recovering, since its picture of the node is not complete yet) and /metrics.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConnectionError } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
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
      case '/health':
        json(response, 200, { status: 'ok' });
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
      default:
        json(response, 404, { error: `no such endpoint ${path}` });
    }
  }
}

function json(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
