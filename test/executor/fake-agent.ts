// A fake agent for the unit tests of the executor side: a real ws server on a real Unix socket in
// a temp dir, speaking the executor protocol (DESIGN §2) just enough to drive one ExecutorDriver
// (or one `lifeline shim`) through its paces. Every call it receives is checked against the schema.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import {
  ExecutorCall,
  decodeFrame,
  encode,
  toBuffer,
  type ExecutorEvent,
  type TaskInfo,
  type TaskStatus,
} from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';

export interface FakeAgentOptions {
  /** Answer SUBSCRIBE with SUBSCRIBED. Default true. */
  subscribe?: boolean;
  /** Acknowledge every update (UPDATE, and those carried in SUBSCRIBE) at once. Default true. */
  acknowledge?: boolean;
  /** Sent in SUBSCRIBED. Default 5000. */
  heartbeatIntervalMs?: number;
  /** Answer the executor's HEARTBEAT with one. Default true. */
  heartbeat?: boolean;
  /** A task to LAUNCH right after SUBSCRIBED. */
  launch?: TaskInfo;
  /** Called synchronously with each valid call as it arrives, before the fake answers it. */
  onCall?: (call: ExecutorCall, agent: FakeAgent) => void;
}

export const IDS = {
  agentId: 'agent-1',
  frameworkId: 'framework-1',
  executorId: 'executor-1',
  containerId: 'container-1',
  token: 'secret-token-1',
};

export class FakeAgent {
  readonly socketPath: string;
  readonly options: FakeAgentOptions;
  /** Every valid call received, in order, over all connections. */
  readonly calls: ExecutorCall[] = [];
  /** Frames that failed the ExecutorCall schema (should stay empty). */
  readonly invalid: string[] = [];
  /** Close codes of the connections that have closed. */
  readonly closeCodes: number[] = [];
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<WebSocket>();
  #latest: WebSocket | undefined;

  private constructor(socketPath: string, options: FakeAgentOptions) {
    this.socketPath = socketPath;
    this.options = options;
    this.#server = http.createServer((_, response) => response.writeHead(404).end());
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
    this.#wss.on('error', () => {});
    this.#server.on('upgrade', (request, socket, head) => {
      socket.on('error', () => {});
      if (request.url !== '/api/v1/executor') {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws));
    });
  }

  /** Listens at `<dir>/agent.sock` (again, after a close(): the restarted agent of a recovery test). */
  static async start(dir: string, options: FakeAgentOptions = {}): Promise<FakeAgent> {
    const agent = new FakeAgent(path.join(dir, 'agent.sock'), options);
    await new Promise<void>((resolve, reject) => {
      agent.#server.once('error', reject);
      agent.#server.listen(agent.socketPath, () => resolve());
    });
    return agent;
  }

  /** The environment the agent would give the executor. */
  env(directory: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      LIFELINE_AGENT_ENDPOINT: this.socketPath,
      LIFELINE_AGENT_ID: IDS.agentId,
      LIFELINE_FRAMEWORK_ID: IDS.frameworkId,
      LIFELINE_EXECUTOR_ID: IDS.executorId,
      LIFELINE_CONTAINER_ID: IDS.containerId,
      LIFELINE_DIRECTORY: directory,
      LIFELINE_CHECKPOINT: '0',
      LIFELINE_SHUTDOWN_GRACE_PERIOD: '2secs',
      LIFELINE_EXECUTOR_TOKEN: IDS.token,
      ...extra,
    };
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /** Sends an event on the latest connection. */
  send(event: ExecutorEvent): void {
    this.sendRaw(encode(event));
  }

  sendRaw(bytes: Uint8Array): void {
    if (!this.#latest) throw new Error('no executor is connected to the fake agent');
    this.#latest.send(bytes);
  }

  acknowledge(status: TaskStatus): void {
    this.send({ type: 'ACKNOWLEDGED', taskId: status.taskId, uuid: status.uuid });
  }

  /** Every status received, from UPDATE calls and from SUBSCRIBE backlogs, in order. */
  statuses(): TaskStatus[] {
    return this.calls.flatMap((call) => (call.type === 'UPDATE' ? [call.status] : call.type === 'SUBSCRIBE' ? call.unacknowledgedUpdates : []));
  }

  /** The states reported for a task, in order. */
  states(taskId: string): string[] {
    return this.statuses().filter((status) => status.taskId === taskId).map((status) => status.state);
  }

  async waitForCall<T extends ExecutorCall['type']>(type: T, message: string = type, timeoutMs = 10_000): Promise<Extract<ExecutorCall, { type: T }>> {
    return waitFor(() => this.calls.find((call) => call.type === type) as Extract<ExecutorCall, { type: T }> | undefined, { message, timeoutMs });
  }

  async waitForStatus(taskId: string, state: string, timeoutMs = 10_000): Promise<TaskStatus> {
    return waitFor(() => this.statuses().find((status) => status.taskId === taskId && status.state === state), {
      message: `${state} for task ${taskId} (got ${JSON.stringify(this.states(taskId))})`,
      timeoutMs,
    });
  }

  async waitForClose(timeoutMs = 10_000): Promise<number> {
    return waitFor(() => this.closeCodes[0], { message: 'the executor connection to close', timeoutMs });
  }

  /** Drops every connection at once (an agent that died). */
  dropConnections(): void {
    for (const ws of this.#sockets) ws.terminate();
  }

  async close(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    this.#sockets.add(ws);
    this.#latest = ws;
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.#sockets.delete(ws);
      this.closeCodes.push(code);
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      let call: ExecutorCall;
      try {
        call = decodeFrame(ExecutorCall, toBuffer(data));
      } catch (error) {
        this.invalid.push((error as Error).message);
        return;
      }
      this.calls.push(call);
      this.options.onCall?.(call, this);
      this.#answer(ws, call);
    });
  }

  #answer(ws: WebSocket, call: ExecutorCall): void {
    const send = (event: ExecutorEvent) => ws.send(encode(event));
    const acknowledge = this.options.acknowledge ?? true;
    switch (call.type) {
      case 'SUBSCRIBE':
        if (!(this.options.subscribe ?? true)) return;
        send({
          type: 'SUBSCRIBED',
          agentId: IDS.agentId,
          containerId: call.containerId,
          executorInfo: { executorId: call.executorId, frameworkId: call.frameworkId, command: { value: 'lifeline shim' } },
          frameworkInfo: { id: call.frameworkId, name: 'test', checkpoint: false },
          heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 5_000,
        });
        if (acknowledge) for (const status of call.unacknowledgedUpdates) send({ type: 'ACKNOWLEDGED', taskId: status.taskId, uuid: status.uuid });
        if (this.options.launch) send({ type: 'LAUNCH', task: this.options.launch });
        return;
      case 'UPDATE':
        if (acknowledge) send({ type: 'ACKNOWLEDGED', taskId: call.status.taskId, uuid: call.status.uuid });
        return;
      case 'HEARTBEAT':
        if (this.options.heartbeat ?? true) send({ type: 'HEARTBEAT' });
        return;
      case 'MESSAGE':
        return;
    }
  }
}

/** A command task as the agent would launch it. */
export function commandTask(taskId: string, command: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return { taskId, name: taskId, agentId: IDS.agentId, resources: { cpus: 0.1, mem: 32 }, command: { value: command }, ...extra };
}

/**
 * A server on the agent's socket that accepts connections and never answers: what a SIGSTOPped
 * agent looks like from the executor (the kernel accepts into its backlog). Counts connections.
 */
export class SilentServer {
  connections = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.#server = server;
    server.on('connection', (socket) => {
      this.connections += 1;
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(socketPath: string): Promise<SilentServer> {
    const server = net.createServer();
    const silent = new SilentServer(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return silent;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
