// The one reconnecting client session (agent → master, scheduler → master): connections made one
// after another through a Connector, each with the handshake step and heartbeats of
// connection.ts; attempts spaced by p-retry's capped backoff until one is accepted, again after
// every break, until close() or a refusal. Calls may wait in a queue while disconnected.
import pRetry from 'p-retry';
import { StateMachine } from '../lifecycle/state-machine.js';
import { ConnectionError, type LifelineError, type ProtocolError } from '../protocol/errors.js';
import { checkBackoff, firstDelayMs, pause, pRetryBackoff, type BackoffOptions } from './backoff.js';
import { SessionConnection } from './connection.js';
import { HandshakeRefused, type HandshakeStep } from './handshake.js';
import type { Connector } from './transport.js';

export type ClientSessionState = 'IDLE' | 'CONNECTING' | 'HANDSHAKING' | 'OPEN' | 'WAITING' | 'CLOSED';

const TRANSITIONS: Readonly<Record<ClientSessionState, readonly ClientSessionState[]>> = {
  IDLE: ['CONNECTING', 'CLOSED'],
  CONNECTING: ['HANDSHAKING', 'WAITING', 'CLOSED'],
  HANDSHAKING: ['OPEN', 'WAITING', 'CLOSED'],
  OPEN: ['WAITING', 'CLOSED'],
  WAITING: ['CONNECTING', 'CLOSED'],
  CLOSED: [],
};

/** How one connection ended. */
export interface ConnectionEnd {
  error: LifelineError;
  code: number;
  reason: string;
  /** The handshake had been accepted on it. */
  accepted: boolean;
  /** The state the session was in (CONNECTING, HANDSHAKING or OPEN). */
  state: ClientSessionState;
}

export interface ClientSessionOptions<F, A> {
  /** For error messages ("master link", "scheduler driver"). */
  name: string;
  connect: Connector;
  /** Who the peer is, for messages. */
  peer: string;
  decode(data: Buffer): F;
  /** Built anew for every connection. */
  handshake(): HandshakeStep<F, A>;
  handshakeTimeoutMs: number;
  handshakeName?: string;
  deadlineFrom?: 'connect' | 'open';
  backoff: BackoffOptions;
  /** Keep send() calls made while not OPEN, and send them, in order, once accepted. Default: false. */
  queue?: boolean;
  onInvalid?(error: ProtocolError): 'close' | 'drop';
  /** The handshake accepted on a new connection (queued calls go out right after). */
  onAccepted(value: A): void;
  onFrame(frame: F): void;
  /** A connection ended (failed attempts and broken sessions alike). */
  onConnectionEnd?(end: ConnectionEnd): void;
  /** An attempt failed and another follows after the backoff. */
  onAttemptFailed?(error: Error, attempt: number): void;
  /** The peer refused the handshake: the session is CLOSED. */
  onRefused?(refusal: HandshakeRefused): void;
  onTransportError?(error: Error): void;
}

export class ClientSession<F, A> {
  readonly #options: ClientSessionOptions<F, A>;
  readonly #machine: StateMachine<ClientSessionState>;
  readonly #stop = new AbortController();
  #round: AbortController | undefined;
  #connection: SessionConnection<F, A> | undefined;
  #queue: Uint8Array[] = [];
  #running: Promise<void> | undefined;

  constructor(options: ClientSessionOptions<F, A>) {
    checkBackoff(options.backoff);
    this.#options = options;
    this.#machine = new StateMachine(options.name, 'IDLE', TRANSITIONS);
  }

  get state(): ClientSessionState {
    return this.#machine.state;
  }

  get isOpen(): boolean {
    return this.#machine.is('OPEN');
  }

  /** Frames waiting for the next accepted connection. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Starts connecting; attempts go on until one is accepted, and again after every break. */
  start(): void {
    this.#machine.assert(['IDLE'], 'start a session');
    this.#running = this.#run();
  }

  /**
   * Sends one frame on the accepted connection. Not OPEN: queued (true) when the session queues,
   * else false and nothing sent. `onWritten` runs once it is written (only for a frame sent now).
   */
  send(frame: Uint8Array, onWritten?: (error?: Error) => void): boolean {
    if (this.#machine.is('OPEN') && this.#connection?.send(frame, onWritten)) return true;
    if (this.#options.queue && !this.#machine.is('CLOSED')) {
      this.#queue.push(frame);
      return true;
    }
    return false;
  }

  /** Resolves true once the frame is written on the accepted connection, false if it cannot be sent now. */
  sendAndFlush(frame: Uint8Array): Promise<boolean> {
    const connection = this.#connection;
    if (!this.#machine.is('OPEN') || !connection) return Promise.resolve(false);
    return new Promise((resolve) => {
      if (!connection.send(frame, (error) => resolve(!error))) resolve(false);
    });
  }

  /** Cuts the backoff wait short: the next attempt starts now (no effect while one is under way). */
  wake(): void {
    if (this.#machine.is('WAITING')) this.#round?.abort();
  }

  /** Drops the current connection at once; the session reconnects as after any break. */
  drop(error: LifelineError): void {
    this.#connection?.fail(error);
  }

  /** Closes the session: no more attempts; the connection gets a close handshake of at most `timeoutMs`. */
  async close(code = 1000, reason = '', timeoutMs = 1_000): Promise<void> {
    if (!this.#machine.ensure('CLOSED')) return;
    this.#queue = [];
    this.#stop.abort(new ConnectionError(`the ${this.#options.name} is closed`));
    const connection = this.#connection;
    if (connection) {
      const timer = setTimeout(() => connection.fail(new ConnectionError(`the ${this.#options.name} is closed`)), timeoutMs);
      await connection.close(code, reason);
      clearTimeout(timer);
    }
    await this.#running;
  }

  async #run(): Promise<void> {
    const { backoff } = this.#options;
    let broken = false;
    while (!this.#stop.signal.aborted) {
      const round = new AbortController();
      this.#round = round;
      if (broken && backoff.afterBreak === 'backoff') await pause(firstDelayMs(backoff), AbortSignal.any([this.#stop.signal, round.signal]));
      if (this.#stop.signal.aborted) return;
      let connection: SessionConnection<F, A>;
      try {
        connection = await pRetry(() => this.#attempt(), {
          ...pRetryBackoff(backoff),
          signal: AbortSignal.any([this.#stop.signal, round.signal]),
          shouldRetry: ({ error }) => !(error instanceof HandshakeRefused),
          onFailedAttempt: ({ error, attemptNumber }) => {
            if (!this.#stop.signal.aborted && !(error instanceof HandshakeRefused)) this.#options.onAttemptFailed?.(error, attemptNumber);
          },
        });
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        if (error instanceof HandshakeRefused) {
          this.#machine.ensure('CLOSED');
          this.#stop.abort(error);
          this.#options.onRefused?.(error);
          return;
        }
        // Woken during the wait: a new round, starting with an immediate attempt.
        broken = false;
        continue;
      }
      await connection.closed;
      broken = true;
    }
  }

  /** One connection: resolves with it once accepted; rejects with why it failed. */
  async #attempt(): Promise<SessionConnection<F, A>> {
    if (this.#stop.signal.aborted) throw this.#stop.signal.reason;
    this.#machine.transition('CONNECTING');
    const options = this.#options;
    const step = options.handshake();
    let accepted = false;
    const connection: SessionConnection<F, A> = new SessionConnection<F, A>({
      connect: options.connect,
      peer: options.peer,
      decode: options.decode,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      handshakeName: options.handshakeName,
      deadlineFrom: options.deadlineFrom,
      onInvalid: options.onInvalid,
      onTransportError: options.onTransportError,
      handshake: {
        open: (link) => {
          if (this.#connection === connection) this.#machine.transition('HANDSHAKING');
          return step.open(link);
        },
        answer: (frame) => step.answer(frame),
      },
      onAccepted: (value) => {
        if (this.#connection !== connection) return;
        accepted = true;
        this.#machine.transition('OPEN');
        options.onAccepted(value);
        const queued = this.#queue;
        this.#queue = [];
        for (const frame of queued) connection.send(frame);
      },
      onFrame: (frame) => {
        if (this.#connection === connection) options.onFrame(frame);
      },
      onClosed: (error, code, reason) => {
        if (this.#connection !== connection) return;
        this.#connection = undefined;
        const state = this.#machine.state;
        if (!this.#machine.is('CLOSED')) this.#machine.transition('WAITING');
        options.onConnectionEnd?.({ error, code, reason, accepted, state });
      },
    });
    this.#connection = connection;
    try {
      await connection.ready;
    } catch (error) {
      // The next attempt starts once this connection is gone (its close handshake included).
      await connection.closed;
      throw error;
    }
    return connection;
  }
}
