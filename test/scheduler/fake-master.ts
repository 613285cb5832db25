// A fake master for unit tests of the framework side (SchedulerDriver, `lifeline run`): a real
// WebSocket server on /api/v1/scheduler that records every call and sends whatever the test says.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeFrame, encode, SchedulerCall, toBuffer } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';

export interface ReceivedCall {
  call: SchedulerCall;
  /** Which connection (0, 1, …) it came on. */
  connection: number;
}

export class FakeMaster {
  readonly address: string;
  readonly calls: ReceivedCall[] = [];
  readonly connections: WebSocket[] = [];
  /** Frames that failed to decode (should stay empty). */
  readonly badFrames: string[] = [];
  frameworkId = 'fw-1';
  heartbeatIntervalMs = 15_000;
  /** When true, SUBSCRIBE gets no answer until answerSubscribe() is called. */
  holdSubscribe = false;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;

  private constructor(server: http.Server, wss: WebSocketServer) {
    this.#server = server;
    this.#wss = wss;
    const { port } = server.address() as AddressInfo;
    this.address = `127.0.0.1:${port}`;
  }

  static async start(): Promise<FakeMaster> {
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
    wss.on('error', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const master = new FakeMaster(server, wss);
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      if (req.url !== '/api/v1/scheduler') {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => master.#accept(ws));
    });
    return master;
  }

  #accept(ws: WebSocket): void {
    const connection = this.connections.length;
    this.connections.push(ws);
    ws.on('error', () => {});
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      let call: SchedulerCall;
      try {
        call = decodeFrame(SchedulerCall, toBuffer(data));
      } catch (error) {
        this.badFrames.push((error as Error).message);
        return;
      }
      this.calls.push({ call, connection });
      if (call.type === 'SUBSCRIBE' && !this.holdSubscribe) this.answerSubscribe(connection);
    });
  }

  /** Sends SUBSCRIBED on a connection (the latest by default). */
  answerSubscribe(connection = this.connections.length - 1): void {
    this.send({ type: 'SUBSCRIBED', frameworkId: this.frameworkId, heartbeatIntervalMs: this.heartbeatIntervalMs }, connection);
  }

  /** Sends an event (or raw bytes) on a connection (the latest by default). */
  send(event: object | Buffer, connection = this.connections.length - 1): void {
    const ws = this.connections[connection];
    if (!ws) throw new Error(`no connection ${connection}`);
    ws.send(Buffer.isBuffer(event) ? event : encode(event));
  }

  /** Cuts every open connection without a close handshake. */
  dropAll(): void {
    for (const ws of this.connections) ws.terminate();
  }

  callsOf<T extends SchedulerCall['type']>(type: T): Array<Extract<SchedulerCall, { type: T }>> {
    return this.calls.filter((c) => c.call.type === type).map((c) => c.call as Extract<SchedulerCall, { type: T }>);
  }

  /** Waits until at least `count` calls of this type have arrived; returns them all. */
  async waitForCalls<T extends SchedulerCall['type']>(type: T, count = 1, timeoutMs = 10_000): Promise<Array<Extract<SchedulerCall, { type: T }>>> {
    return waitFor(() => {
      const found = this.callsOf(type);
      return found.length >= count ? found : undefined;
    }, { timeoutMs, message: `${count} ${type} call(s) at the fake master (got ${JSON.stringify(this.calls.map((c) => c.call.type))})` });
  }

  async close(): Promise<void> {
    for (const ws of this.connections) ws.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
