// A raw WebSocket peer of the master for its unit tests: a fake agent or a fake scheduler that
// sends frames with encode() and checks every frame it receives against the protocol schema.
import { WebSocket } from 'ws';
import * as v from 'valibot';
import { AgentEvent, decodeFrame, encode, SchedulerEvent } from '../../src/protocol/index.js';
import { waitFor, withTimeout } from '../helpers.js';

type EventSchema = typeof AgentEvent | typeof SchedulerEvent;

export class Peer<S extends EventSchema> {
  readonly ws: WebSocket;
  /** Every frame received, decoded and validated. */
  readonly frames: Array<v.InferOutput<S>> = [];
  /** Frames that failed validation (the master sent something off-protocol). */
  readonly invalid: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #consumed = 0;
  #schema: S;

  constructor(url: string, schema: S) {
    this.#schema = schema;
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => {
      try {
        this.frames.push(decodeFrame(this.#schema, data));
      } catch (error) {
        this.invalid.push((error as Error).message);
      }
    });
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static agent(port: number): Peer<typeof AgentEvent> {
    return new Peer(`ws://127.0.0.1:${port}/api/v1/agent`, AgentEvent);
  }

  static scheduler(port: number): Peer<typeof SchedulerEvent> {
    return new Peer(`ws://127.0.0.1:${port}/api/v1/scheduler`, SchedulerEvent);
  }

  async open(): Promise<this> {
    if (this.ws.readyState === WebSocket.OPEN) return this;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        this.ws.once('open', () => resolve());
        this.ws.once('error', reject);
      }),
      5_000,
      'websocket open',
    );
    return this;
  }

  send(message: object): void {
    this.ws.send(encode(message));
  }

  sendRaw(bytes: Buffer | string): void {
    this.ws.send(bytes);
  }

  /** Waits for the next frame of this type not yet taken by next(), and takes it. */
  async next<T extends v.InferOutput<S>['type']>(type: T, timeoutMs = 5_000): Promise<Extract<v.InferOutput<S>, { type: T }>> {
    return waitFor(
      () => {
        for (let i = this.#consumed; i < this.frames.length; i++) {
          const frame = this.frames[i]!;
          if (frame.type === type) {
            this.frames.splice(i, 1);
            return frame as Extract<v.InferOutput<S>, { type: T }>;
          }
        }
        return undefined;
      },
      { timeoutMs, message: `a ${type} frame (got ${this.frames.map((frame) => frame.type).join(', ') || 'nothing'}${this.invalid.length ? `; invalid: ${this.invalid.join('; ')}` : ''})` },
    );
  }

  /** Frames of this type received and not taken. */
  pending(type: string): Array<v.InferOutput<S>> {
    return this.frames.filter((frame) => frame.type === type);
  }

  async waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, timeoutMs, 'the master closing the connection');
  }

  close(): void {
    this.ws.terminate();
  }
}
