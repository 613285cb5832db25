// Fake peers for the agent's unit tests (allowed in a unit test of one module): a master that is a
// real ws server speaking the agent protocol, and executors that are raw ws clients on the agent's
// real Unix socket, so that every byte the agent sends or refuses can be checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { AgentCall, decode, decodeFrame, encode, toBuffer, type AgentEvent } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';

export class FakeMaster {
  readonly calls: AgentCall[] = [];
  /** Acknowledge every STATUS_UPDATE at once, as a framework with automatic acks would. */
  autoAck = true;
  agentId = 'agent-1';
  /** How REREGISTER is answered: a master that has removed the agent tells it to shut down. */
  reregisterAnswer: 'REREGISTERED' | 'SHUTDOWN' = 'REREGISTERED';
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  #socket: WebSocket | undefined;
  connections = 0;

  private constructor(server: http.Server, wss: WebSocketServer) {
    this.#server = server;
    this.#wss = wss;
  }

  /** Starts a fake master on `port` (0: any free port). */
  static async start(port = 0): Promise<FakeMaster> {
    const server = http.createServer((_, response) => response.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true });
    wss.on('error', () => {});
    const master = new FakeMaster(server, wss);
    server.on('upgrade', (request, socket, head) => {
      socket.on('error', () => {});
      if (request.url !== '/api/v1/agent') return socket.destroy();
      wss.handleUpgrade(request, socket, head, (ws) => master.#connected(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return master;
  }

  get address(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get connected(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  send(event: AgentEvent): void {
    if (!this.#socket) throw new Error('the fake master has no agent connection');
    this.#socket.send(encode(event));
  }

  callsOf<T extends AgentCall['type']>(type: T): Array<Extract<AgentCall, { type: T }>> {
    return this.calls.filter((call): call is Extract<AgentCall, { type: T }> => call.type === type);
  }

  statusUpdates(): Array<Extract<AgentCall, { type: 'STATUS_UPDATE' }>['status']> {
    return this.callsOf('STATUS_UPDATE').map((call) => call.status);
  }

  async waitForCall<T extends AgentCall['type']>(
    type: T,
    predicate: (call: Extract<AgentCall, { type: T }>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Extract<AgentCall, { type: T }>> {
    return waitFor(() => this.callsOf(type).find(predicate), { timeoutMs, message: `${type} at the fake master; calls: ${this.calls.map((c) => c.type).join(',')}` });
  }

  async waitForStatus(taskId: string, state: string, timeoutMs = 10_000) {
    return waitFor(() => this.statusUpdates().find((s) => s.taskId === taskId && s.state === state), {
      timeoutMs,
      message: `${state} of ${taskId} at the fake master; got ${JSON.stringify(this.statusUpdates().map((s) => [s.taskId, s.state]))}`,
    });
  }

  acknowledge(frameworkId: string, taskId: string, uuid: string): void {
    this.send({ type: 'ACKNOWLEDGE', frameworkId, taskId, uuid });
  }

  /** Breaks the agent's connection (as a network failure would). */
  dropAgent(): void {
    this.#socket?.terminate();
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #connected(ws: WebSocket): void {
    this.connections++;
    this.#socket = ws;
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      const call = decodeFrame(AgentCall, toBuffer(data));
      this.calls.push(call);
      if (call.type === 'REGISTER') ws.send(encode({ type: 'REGISTERED', agentId: this.agentId, pingIntervalMs: 60_000 }));
      if (call.type === 'REREGISTER') {
        ws.send(encode(this.reregisterAnswer === 'SHUTDOWN' ? { type: 'SHUTDOWN', message: 'agent removed', epoch: 0 } : { type: 'REREGISTERED', agentId: call.agentInfo.id, pingIntervalMs: 60_000 }));
      }
      if (call.type === 'STATUS_UPDATE' && this.autoAck) {
        ws.send(encode({ type: 'ACKNOWLEDGE', frameworkId: call.frameworkId, taskId: call.status.taskId, uuid: call.status.uuid }));
      }
    });
  }
}

/** An executor event as received, decoded but not validated (the tests check what arrived). */
export type ReceivedEvent = { type: string; [field: string]: unknown };

export class FakeExecutor {
  readonly events: ReceivedEvent[] = [];
  /** Called synchronously as each event arrives (before it is added to `events`). */
  onEvent: ((event: ReceivedEvent) => void) | undefined;
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  close: { code: number; reason: string } | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      const event = decode(toBuffer(data)) as ReceivedEvent;
      this.onEvent?.(event);
      this.events.push(event);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.close = { code, reason: reason.toString() };
        resolve(this.close);
      });
    });
  }

  static async connect(socketPath: string): Promise<FakeExecutor> {
    const ws = new WebSocket(`ws+unix://${socketPath}:/api/v1/executor`);
    const executor = new FakeExecutor(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return executor;
  }

  /** Connects as soon as an agent listens on `socketPath` (a restarting agent listens only after recovery). */
  static async connectWhenListening(socketPath: string, timeoutMs = 10_000): Promise<FakeExecutor> {
    return waitFor(() => FakeExecutor.connect(socketPath).catch(() => undefined), { timeoutMs, message: `an agent listening on ${socketPath}` });
  }

  send(call: object): void {
    this.ws.send(encode(call));
  }

  sendRaw(bytes: Uint8Array | string, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  eventsOf(type: string): ReceivedEvent[] {
    return this.events.filter((event) => event.type === type);
  }

  async waitForEvent(type: string, predicate: (event: ReceivedEvent) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedEvent> {
    return waitFor(() => this.events.find((event) => event.type === type && predicate(event)), {
      timeoutMs,
      message: `${type} at the fake executor; got ${this.events.map((e) => e.type).join(',')}`,
    });
  }

  async waitForClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.close, { timeoutMs, message: 'the agent to close the executor connection' });
  }

  terminate(): void {
    this.ws.terminate();
  }
}
