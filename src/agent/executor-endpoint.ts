// The agent's executor endpoint (DESIGN §2): WebSockets over a Unix socket in a 0700 directory.
// This module is the transport: it makes the socket safe to listen on, insists on SUBSCRIBE as the
// first frame, validates every frame (ERROR + close 1008 on a bad one, while every other executor
// goes on being served), keeps heartbeats both ways, and hands calls to the agent in arrival order.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ExecutorCall,
  ProtocolError,
  decodeFrame,
  encode,
  toBuffer,
  type ExecutorEvent,
  type ExecutorSubscribe,
  type TaskStatus,
} from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { checkSocketPath, prepareSocketDir, removeStaleSocket } from './socket-path.js';
import { StateMachine } from '../lifecycle/state-machine.js';

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
  logger?: Logger;
  /** The flag named in socket path errors. Default: --runtime_dir. */
  flag?: string;
}

export type ConnectionState = 'AWAITING_SUBSCRIBE' | 'SUBSCRIBED' | 'CLOSED';

const CONNECTION_TRANSITIONS: Record<ConnectionState, readonly ConnectionState[]> = {
  AWAITING_SUBSCRIBE: ['SUBSCRIBED', 'CLOSED'],
  SUBSCRIBED: ['CLOSED'],
  CLOSED: [],
};

const MISSED_HEARTBEATS = 3;

/** One executor's WebSocket. Its identity is known once its SUBSCRIBE has been accepted. */
export class ExecutorConnection {
  readonly #ws: WebSocket;
  readonly #machine: StateMachine<ConnectionState>;
  readonly #logger: Logger;
  #identity: { frameworkId: string; executorId: string; containerId: string } | undefined;
  #resolveClosed!: () => void;
  /** Settles when the connection is closed (by either side). */
  readonly closed: Promise<void>;

  constructor(ws: WebSocket, id: number, logger: Logger) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#machine = new StateMachine(`executor connection ${id}`, 'AWAITING_SUBSCRIBE', CONNECTION_TRANSITIONS);
    this.#logger = logger;
  }

  get state(): ConnectionState {
    return this.#machine.state;
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
    return this.#machine.is('SUBSCRIBED');
  }

  get isOpen(): boolean {
    return !this.#machine.is('CLOSED') && this.#ws.readyState === this.#ws.OPEN;
  }

  /** The agent accepted the SUBSCRIBE: the connection now speaks for this executor run. */
  accept(identity: { frameworkId: string; executorId: string; containerId: string }): void {
    this.#machine.transition('SUBSCRIBED');
    this.#identity = identity;
  }

  send(event: ExecutorEvent): boolean {
    if (!this.isOpen) return false;
    this.#ws.send(encode(event));
    return true;
  }

  /** ERROR {code, message}, then close 1008 (policy violation). */
  fail(code: string, message: string): void {
    if (this.isOpen) {
      this.#logger.warn({ code, message, executorId: this.executorId }, 'executor connection rejected');
      this.#ws.send(encode({ type: 'ERROR', code, message }));
      this.#ws.close(1008, code);
    }
    this.markClosed();
  }

  /** SHUTDOWN {gracePeriodMs}, then close: for an executor the agent does not (or no longer) run. */
  shutdownAndClose(gracePeriodMs: number, reason: string): void {
    if (this.isOpen) {
      this.#logger.info({ reason }, 'telling an executor to shut down');
      this.#ws.send(encode({ type: 'SHUTDOWN', gracePeriodMs }));
      this.#ws.close(1000, 'shutdown');
    }
    this.markClosed();
  }

  close(code = 1000, reason = ''): void {
    if (this.isOpen) this.#ws.close(code, reason);
    this.markClosed();
  }

  terminate(): void {
    this.#ws.terminate();
    this.markClosed();
  }

  /** @internal */
  markClosed(): void {
    if (!this.#machine.is('CLOSED')) this.#machine.transition('CLOSED');
  }

  /** @internal the socket itself is closed */
  socketClosed(): void {
    this.markClosed();
    this.#resolveClosed();
  }
}

export class ExecutorEndpoint {
  readonly #options: ExecutorEndpointOptions;
  readonly #logger: Logger;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #connections = new Map<WebSocket, ExecutorConnection>();
  #nextId = 1;
  #listening = false;

  constructor(options: ExecutorEndpointOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    checkSocketPath(options.socketPath, options.flag);
    this.#server = http.createServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`use a WebSocket on ${EXECUTOR_API_PATH}\n`);
    });
    this.#server.on('error', (error) => this.#logger.error({ err: error.message }, 'executor endpoint error'));
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
    this.#wss.on('error', (error) => this.#logger.error({ err: error.message }, 'executor WebSocket server error'));
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
    for (const ws of this.#connections.keys()) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
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
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#connected(ws));
  }

  #connected(ws: WebSocket): void {
    const id = this.#nextId++;
    const logger = this.#logger.child({ connection: id });
    const connection = new ExecutorConnection(ws, id, logger);
    this.#connections.set(ws, connection);
    const { heartbeatIntervalMs, handler } = this.#options;
    let lastFrameAt = Date.now();
    let heartbeat: NodeJS.Timeout | undefined;
    const subscribeTimer = setTimeout(() => {
      this.#reject(connection, 'ERR_PROTOCOL', `no SUBSCRIBE within ${this.#options.subscribeTimeoutMs ?? 5_000} ms of connecting`);
    }, this.#options.subscribeTimeoutMs ?? 5_000);

    ws.on('error', (error) => {
      // Oversize frames land here too: ws has already closed the connection with 1009.
      logger.warn({ err: error.message, executorId: connection.executorId }, 'executor connection error');
      if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#options.onRejected?.('ERR_FRAME_TOO_LARGE');
    });
    ws.on('close', () => {
      clearTimeout(subscribeTimer);
      clearInterval(heartbeat);
      this.#connections.delete(ws);
      const wasSubscribed = connection.executorId !== undefined;
      connection.socketClosed();
      if (wasSubscribed) handler.closed(connection);
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      lastFrameAt = Date.now();
      if (connection.state === 'CLOSED') return;
      let call: ExecutorCall;
      try {
        if (!isBinary) throw new ProtocolError('frames must be binary (msgpack), got a text frame');
        call = decodeFrame(ExecutorCall, toBuffer(data));
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#reject(connection, error.code, error.message);
        return;
      }
      if (connection.state === 'AWAITING_SUBSCRIBE') {
        if (call.type !== 'SUBSCRIBE') {
          this.#reject(connection, 'ERR_PROTOCOL', `the first frame must be SUBSCRIBE, got ${call.type}`);
          return;
        }
        clearTimeout(subscribeTimer);
        handler.subscribe(connection, call);
        if (connection.isSubscribed) {
          heartbeat = setInterval(() => {
            if (Date.now() - lastFrameAt > heartbeatIntervalMs * MISSED_HEARTBEATS) {
              logger.warn({ executorId: connection.executorId }, `no frame from the executor for ${MISSED_HEARTBEATS} heartbeat intervals: closing`);
              connection.terminate();
              return;
            }
            connection.send({ type: 'HEARTBEAT' });
          }, heartbeatIntervalMs);
        }
        return;
      }
      switch (call.type) {
        case 'SUBSCRIBE':
          this.#reject(connection, 'ERR_PROTOCOL', 'SUBSCRIBE on a connection that is already subscribed');
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
    });
  }

  #reject(connection: ExecutorConnection, code: string, message: string): void {
    this.#options.onRejected?.(code);
    connection.fail(code, message);
  }
}
