// The agent's one connection to its master (DESIGN §8): connect, REGISTER (or REREGISTER once the
// agent has an ID), answer PINGs, hand every validated event to the agent; when the connection
// breaks or cannot be made, try again with a doubling backoff (--registration_backoff_factor,
// capped), as a Mesos agent does. Nothing is sent before the master has registered the agent.
import WebSocket from 'ws';
import { AgentEvent, ProtocolError, REREGISTER_PART_BYTES, decodeFrame, encode, toBuffer, type AgentCall } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { reregisterFrames } from './reregistration.js';
import { StateMachine } from '../lifecycle/state-machine.js';

export type MasterLinkState = 'IDLE' | 'CONNECTING' | 'REGISTERING' | 'REGISTERED' | 'WAITING' | 'CLOSED';

const TRANSITIONS: Record<MasterLinkState, readonly MasterLinkState[]> = {
  IDLE: ['CONNECTING', 'CLOSED'],
  CONNECTING: ['REGISTERING', 'WAITING', 'CLOSED'],
  REGISTERING: ['REGISTERED', 'WAITING', 'CLOSED'],
  REGISTERED: ['WAITING', 'CLOSED'],
  WAITING: ['CONNECTING', 'CLOSED'],
  CLOSED: [],
};

export type RegisteredEvent = Extract<AgentEvent, { type: 'REGISTERED' | 'REREGISTERED' }>;

export interface MasterLinkOptions {
  /** `HOST:PORT` of the master. */
  master: string;
  /** First retry delay; each failure in a row doubles it, up to `maxBackoffMs`. */
  backoffFactorMs: number;
  /** Type: number. Default: 60000. */
  maxBackoffMs?: number;
  /** How long a connection may stay unregistered before it is dropped and tried again. Default: 10000. */
  registrationTimeoutMs?: number;
  /** The REGISTER or REREGISTER call, built at the moment a connection opens (a large REREGISTER is sent in parts). */
  registration(): AgentCall;
  /** Largest part of a split REREGISTER, in bytes. Default: REREGISTER_PART_BYTES (512 KiB). */
  reregisterPartBytes?: number;
  onRegistered(event: RegisteredEvent): void;
  /** Every other event from the master (PING is answered here and not passed on). */
  onEvent(event: AgentEvent): void;
  /** The registered connection broke (not called for failed attempts before registration). */
  onDisconnected(reason: string): void;
  logger?: Logger;
}

/** Missed pings in a row (plus one) after which the master counts as gone. */
const PING_TIMEOUTS = 6;
const MAX_MASTER_FRAME = 64 * 1024 * 1024;

export class MasterLink {
  /** The registration call sent on the current connection (its largest frame, for a refusal as too large). */
  #registrationFrame: { type: string; bytes: number; parts: number } | undefined;
  readonly #options: MasterLinkOptions;
  readonly #url: string;
  readonly #logger: Logger;
  readonly #machine: StateMachine<MasterLinkState>;
  #ws: WebSocket | undefined;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #registrationTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #pingIntervalMs = 0;

  constructor(options: MasterLinkOptions) {
    this.#options = options;
    this.#url = `ws://${options.master}/api/v1/agent`;
    this.#logger = options.logger ?? silentLogger;
    this.#machine = new StateMachine('master link', 'IDLE', TRANSITIONS);
  }

  get state(): MasterLinkState {
    return this.#machine.state;
  }

  get registered(): boolean {
    return this.#machine.is('REGISTERED');
  }

  start(): void {
    this.#connect();
  }

  /** Sends a call to the master; false (nothing sent) unless the agent is registered. */
  send(call: AgentCall): boolean {
    const ws = this.#ws;
    if (!this.registered || !ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encode(call));
    return true;
  }

  /** Sends a call and resolves once it has been written to the socket (false if it could not be). */
  sendAndFlush(call: AgentCall): Promise<boolean> {
    const ws = this.#ws;
    if (!this.registered || !ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return new Promise((resolve) => ws.send(encode(call), (error) => resolve(!error)));
  }

  /** Closes the connection (waiting a moment for a clean close) and stops retrying. */
  async close(timeoutMs = 1_000): Promise<void> {
    if (this.#machine.is('CLOSED')) return;
    this.#machine.transition('CLOSED');
    this.#clearTimers();
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, timeoutMs);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'agent stopping');
    });
  }

  #connect(): void {
    this.#machine.transition('CONNECTING');
    this.#logger.debug({ url: this.#url }, 'connecting to the master');
    const ws = new WebSocket(this.#url, { handshakeTimeout: 10_000, maxPayload: MAX_MASTER_FRAME });
    this.#ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('error', (error) => {
      if (this.#ws === ws) this.#logger.debug({ err: error.message }, 'master connection error');
    });
    ws.on('open', () => {
      if (this.#ws !== ws) return;
      this.#machine.transition('REGISTERING');
      const call = this.#options.registration();
      let frames: Uint8Array[];
      try {
        frames = call.type === 'REREGISTER' ? reregisterFrames(call, this.#options.reregisterPartBytes ?? REREGISTER_PART_BYTES) : [encode(call)];
      } catch (error) {
        this.#logger.error({ master: this.#options.master, err: (error as Error).message }, 'cannot register');
        ws.terminate();
        return;
      }
      const bytes = Math.max(...frames.map((frame) => frame.length));
      this.#registrationFrame = { type: call.type, bytes, parts: frames.length };
      this.#logger.info({ master: this.#options.master, type: call.type, bytes, parts: frames.length }, 'connected to the master, registering');
      for (const frame of frames) ws.send(frame);
      this.#registrationTimer = setTimeout(() => {
        this.#logger.warn({ master: this.#options.master }, 'no answer to registration: trying again');
        ws.terminate();
      }, this.#options.registrationTimeoutMs ?? 10_000);
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (this.#ws === ws) this.#onMessage(ws, toBuffer(data));
    });
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      if (code === 1009 && this.#machine.is('REGISTERING') && this.#registrationFrame) {
        // Retrying cannot help: the call only grows with the agent's tasks. Say what to change.
        const { type, bytes, parts } = this.#registrationFrame;
        const what = parts > 1 ? `${type} (in ${parts} parts, the largest of ${bytes} bytes)` : `${type} frame of ${bytes} bytes`;
        this.#logger.error(
          { master: this.#options.master, type, bytes, parts },
          `the master refused this agent's ${what} as too large (close 1009): start the master with --max_frame_bytes above ${bytes}`,
        );
      }
      this.#onClose(`closed with ${code}${reason.length ? ` (${reason.toString()})` : ''}`);
    });
  }

  #onMessage(ws: WebSocket, bytes: Buffer): void {
    this.#armWatchdog(ws);
    let event: AgentEvent;
    try {
      event = decodeFrame(AgentEvent, bytes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // The agent protocol has no ERROR call to answer with: log it and drop the frame.
      this.#logger.error({ err: error.message }, 'invalid frame from the master: dropped');
      return;
    }
    switch (event.type) {
      case 'PING':
        ws.send(encode({ type: 'PONG' }));
        return;
      case 'REGISTERED':
      case 'REREGISTERED':
        if (!this.#machine.is('REGISTERING')) {
          this.#logger.warn({ type: event.type }, 'unexpected registration answer: ignored');
          return;
        }
        clearTimeout(this.#registrationTimer);
        this.#machine.transition('REGISTERED');
        this.#failures = 0;
        this.#pingIntervalMs = event.pingIntervalMs;
        this.#armWatchdog(ws);
        this.#options.onRegistered(event);
        return;
      case 'ERROR':
        this.#logger.error({ code: event.code, message: event.message }, 'error from the master');
        this.#options.onEvent(event);
        return;
      case 'SHUTDOWN':
        // A master that has removed this agent answers its re-registration with SHUTDOWN alone.
        this.#options.onEvent(event);
        return;
      default:
        if (!this.registered) {
          this.#logger.warn({ type: event.type }, 'event from the master before registration: ignored');
          return;
        }
        this.#options.onEvent(event);
    }
  }

  /** A registered connection that hears nothing (not even a PING) for several ping intervals is dead. */
  #armWatchdog(ws: WebSocket): void {
    if (this.#pingIntervalMs <= 0 || !this.registered) return;
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => {
      this.#logger.warn({ pingIntervalMs: this.#pingIntervalMs }, 'no ping from the master: reconnecting');
      ws.terminate();
    }, this.#pingIntervalMs * PING_TIMEOUTS);
  }

  #onClose(reason: string): void {
    if (this.#machine.is('CLOSED')) return;
    const wasRegistered = this.registered;
    this.#clearTimers();
    this.#ws = undefined;
    this.#machine.transition('WAITING');
    const base = Math.min(this.#options.backoffFactorMs * 2 ** Math.min(this.#failures, 30), this.#options.maxBackoffMs ?? 60_000);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.#failures++;
    if (wasRegistered) {
      this.#logger.warn({ reason }, 'lost the connection to the master');
      this.#options.onDisconnected(reason);
    }
    this.#logger.debug({ reason, delayMs: delay, attempt: this.#failures }, 'retrying the master');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#machine.is('WAITING')) this.#connect();
    }, delay);
  }

  #clearTimers(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#registrationTimer);
    clearTimeout(this.#watchdog);
    this.#retryTimer = this.#registrationTimer = this.#watchdog = undefined;
  }
}
