// The agent's executor endpoint (DESIGN §2): WebSockets over a Unix socket in a 0700 directory.
// This module is the transport: it makes the socket safe to listen on, insists on SUBSCRIBE as the
// first frame, validates every frame (ERROR + close 1008 on a bad one, while every other executor
// goes on being served), keeps heartbeats both ways, and hands calls to the agent in arrival order.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { ExecutorCall, LifelineError, type ErrorCode, type ExecutorEvent, type ExecutorSubscribe, type TaskStatus } from '../protocol/index.js';
import { Endpoint, type EndpointSession } from '../session/endpoint.js';
import { silentLogger, type Logger } from '../log.js';
import { checkSocketPath, prepareSocketDir, removeStaleSocket } from './socket-path.js';

export const EXECUTOR_API_PATH = '/api/v1/executor';

/** The bytes of a MESSAGE call, as the schema types them. */
export type MessageData = Extract<ExecutorCall, { type: 'MESSAGE' }>['data'];

/** What the agent does with the calls of an executor connection. Called in arrival order. */
export interface ExecutorHandler {
  subscribe(connection: ExecutorConnection, call: ExecutorSubscribe): void;
  update(connection: ExecutorConnection, status: TaskStatus): void;
  message(connection: ExecutorConnection, data: MessageData): void;
  closed(connection: ExecutorConnection): void;
}

export interface ExecutorEndpointOptions {
  socketPath: string;
  /** Largest frame accepted (--max_frame_bytes); a larger one closes the connection with 1009. */
  maxFrameBytes: number;
  /** HEARTBEAT period both ways; three periods of silence from the executor count as a broken connection. */
  heartbeatIntervalMs: number;
  /** How long a new connection has to send SUBSCRIBE. Default: 5000. */
  subscribeTimeoutMs?: number;
  handler: ExecutorHandler;
  /** Called with the error code of every rejected frame (for metrics). */
  onRejected?(code: string): void;
  /** Counts a call of a type this release does not know (a newer executor's), ignored. */
  onUnknown?(type: string): void;
  logger?: Logger;
  /** The flag named in socket path errors. Default: --runtime_dir. */
  flag?: string;
}

export type ConnectionState = 'AWAITING_SUBSCRIBE' | 'SUBSCRIBED' | 'CLOSED';

type Identity = { frameworkId: string; executorId: string; containerId: string };

/** One executor's WebSocket (an endpoint session). Its identity is known once its SUBSCRIBE has been accepted. */
export class ExecutorConnection {
  readonly #session: EndpointSession<ExecutorEvent>;
  readonly #heartbeatIntervalMs: number;
  #identity: Identity | undefined;
  #resolveClosed!: () => void;
  /** Settles when the connection is closed (by either side). */
  readonly closed: Promise<void>;

  constructor(session: EndpointSession<ExecutorEvent>, heartbeatIntervalMs: number) {
    this.#session = session;
    this.#heartbeatIntervalMs = heartbeatIntervalMs;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** The session's state as the agent sees it: closing counts as closed (nothing more is read from it). */
  get state(): ConnectionState {
    switch (this.#session.state) {
      case 'CONNECTED':
        return 'AWAITING_SUBSCRIBE';
      case 'REGISTERED':
        return 'SUBSCRIBED';
      default:
        return 'CLOSED';
    }
  }

  get frameworkId(): string | undefined {
    return this.#identity?.frameworkId;
  }

  get executorId(): string | undefined {
    return this.#identity?.executorId;
  }

  get containerId(): string | undefined {
    return this.#identity?.containerId;
  }

  get isSubscribed(): boolean {
    return this.#session.state === 'REGISTERED';
  }

  get isOpen(): boolean {
    return this.#session.isOpen;
  }

  /** The agent accepted the SUBSCRIBE: the connection now speaks for this executor run, and heartbeats start. */
  accept(identity: Identity): void {
    this.#session.registered(identity.executorId);
    this.#identity = identity;
    this.#session.heartbeat(this.#heartbeatIntervalMs, () => this.#session.send({ type: 'HEARTBEAT' }));
  }

  send(event: ExecutorEvent): boolean {
    return this.#session.send(event);
  }

  /** ERROR {code, message}, then close 1008 (policy violation). */
  fail(code: string, message: string): void {
    if (this.isOpen) this.#session.log.warn({ code, message, executorId: this.executorId }, 'executor connection rejected');
    this.#session.reject(new LifelineError(code as ErrorCode, message));
  }

  /** SHUTDOWN {gracePeriodMs}, then close: for an executor the agent does not (or no longer) run. */
  shutdownAndClose(gracePeriodMs: number, reason: string): void {
    if (this.isOpen) {
      this.#session.log.info({ reason }, 'telling an executor to shut down');
      this.#session.send({ type: 'SHUTDOWN', gracePeriodMs });
    }
    this.#session.close(1000, 'shutdown');
  }

  close(code = 1000, reason = ''): void {
    this.#session.close(code, reason);
  }

  terminate(): void {
    this.#session.terminate();
  }

  /** @internal the socket itself is closed */
  socketClosed(): void {
    this.#resolveClosed();
  }
}

export class ExecutorEndpoint {
  readonly #options: ExecutorEndpointOptions;
  readonly #logger: Logger;
  readonly #server: http.Server;
  readonly #endpoint: Endpoint<typeof ExecutorCall, ExecutorEvent>;
  readonly #connections = new Map<EndpointSession<ExecutorEvent>, ExecutorConnection>();
  #listening = false;

  constructor(options: ExecutorEndpointOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    checkSocketPath(options.socketPath, options.flag);
    this.#server = http.createServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`use a WebSocket on ${EXECUTOR_API_PATH}\n`);
    });
    this.#server.on('error', (error) => this.#logger.error({ err: error.message }, 'executor endpoint error'));
    this.#endpoint = new Endpoint({
      path: EXECUTOR_API_PATH,
      schema: ExecutorCall,
      maxFrameBytes: options.maxFrameBytes,
      registrationCalls: ['SUBSCRIBE'],
      registeredWord: 'subscribed',
      registrationTimeoutMs: options.subscribeTimeoutMs ?? 5_000,
      registrationTimeoutCode: 'ERR_PROTOCOL',
      logger: this.#logger,
      onConnect: (session) => this.#connections.set(session, new ExecutorConnection(session, options.heartbeatIntervalMs)),
      onCall: (session, call) => this.#onCall(this.#connections.get(session)!, call),
      onClose: (session, wasRegistered) => {
        const connection = this.#connections.get(session);
        this.#connections.delete(session);
        if (!connection) return;
        connection.socketClosed();
        if (wasRegistered) options.handler.closed(connection);
      },
      onRejected: (error) => options.onRejected?.(error.code),
      onUnknown: (type) => options.onUnknown?.(type),
    });
    this.#server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(request, socket, head));
  }

  get socketPath(): string {
    return this.#options.socketPath;
  }

  /** The open connections (subscribed or not). */
  get connections(): ExecutorConnection[] {
    return [...this.#connections.values()];
  }

  /**
   * Prepares the directory (0700), removes a stale socket file (after probing that no live agent
   * answers on it), listens, and makes the socket 0600.
   */
  async listen(): Promise<void> {
    const { socketPath, flag } = this.#options;
    await prepareSocketDir(socketPath);
    await removeStaleSocket(socketPath, { flag });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once('error', onError);
      this.#server.listen(socketPath, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#listening = true;
    await fs.chmod(socketPath, 0o600);
    this.#logger.info({ socketPath }, 'executor endpoint listening');
  }

  /** Stops listening (Node removes the socket file) and terminates every connection. */
  async close(): Promise<void> {
    await this.#endpoint.close();
    if (this.#listening) {
      this.#listening = false;
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    }
  }

  #upgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const path = (request.url ?? '').split('?')[0];
    if (path !== EXECUTOR_API_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.#endpoint.handleUpgrade(request, socket, head);
  }

  /** A validated call, in arrival order; the first is SUBSCRIBE (the endpoint made sure of it). */
  #onCall(connection: ExecutorConnection, call: ExecutorCall): void {
    const { handler } = this.#options;
    switch (call.type) {
      case 'SUBSCRIBE':
        handler.subscribe(connection, call);
        return;
      case 'UPDATE':
        handler.update(connection, call.status);
        return;
      case 'MESSAGE':
        handler.message(connection, call.data);
        return;
      case 'HEARTBEAT':
        return;
    }
  }
}
