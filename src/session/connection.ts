// One connection of a client session, used once: connect through a Connector, run the handshake
// step within its deadline, then validate every frame with the link's schema and watch the peer
// with the one Watchdog. Every way it can end (close, error, deadline, silence, an invalid frame)
// ends in exactly one `closed` with a LifelineError saying why. Reconnecting is client.ts's job.
// It imports no transport implementation (no `ws`): the executor side uses it too.
import { StateMachine } from '../lifecycle/state-machine.js';
import { ConnectionError, LifelineError, ProtocolError } from '../protocol/errors.js';
import { HandshakeRefused, type HandshakeStep, type HandshakeVerdict, type HeartbeatPlan } from './handshake.js';
import type { Connector, Transport } from './transport.js';
import { MISSED_HEARTBEATS, Watchdog } from './watchdog.js';

export type ConnectionState = 'CONNECTING' | 'HANDSHAKING' | 'OPEN' | 'CLOSING' | 'CLOSED';

const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  CONNECTING: ['HANDSHAKING', 'CLOSING', 'CLOSED'],
  HANDSHAKING: ['OPEN', 'CLOSING', 'CLOSED'],
  OPEN: ['CLOSING', 'CLOSED'],
  CLOSING: ['CLOSED'],
  CLOSED: [],
};

/** The handshake did not complete within its deadline. */
export class HandshakeTimeoutError extends ConnectionError {}

/** The peer sent nothing for the watchdog's missed heartbeat intervals. */
export class PeerSilentError extends ConnectionError {}

export interface SessionConnectionOptions<F, A> {
  connect: Connector;
  /** Who the peer is, for messages: "the agent at /x/agent.sock", "the master at h:p". */
  peer: string;
  /** Validates one frame (throws a ProtocolError when it is not valid). */
  decode(data: Buffer): F;
  handshake: HandshakeStep<F, A>;
  /** How long the handshake may take. */
  handshakeTimeoutMs: number;
  /** What the handshake is called in messages ("subscription", "registration"). Default: "handshake". */
  handshakeName?: string;
  /** From when the deadline counts: the connect (default; connecting is part of it) or the open. */
  deadlineFrom?: 'connect' | 'open';
  /** An invalid frame: 'close' fails the connection with 1008 (default), 'drop' ignores the frame. */
  onInvalid?(error: ProtocolError): 'close' | 'drop';
  /** The handshake accepted (called at once, before any frame that follows it; `ready` resolves later). */
  onAccepted?(value: A): void;
  /** Every frame after the handshake. */
  onFrame(frame: F): void;
  /** The connection is gone (exactly once, also after close()): why, and the close code. */
  onClosed(error: LifelineError, code: number, reason: string): void;
  /** The transport's error, before the close that follows it (for logs). */
  onTransportError?(error: Error): void;
}

export class SessionConnection<F, A> {
  readonly #options: SessionConnectionOptions<F, A>;
  readonly #machine = new StateMachine<ConnectionState>('session connection', 'CONNECTING', TRANSITIONS);
  readonly #transport: Transport;
  readonly #ready: Promise<A>;
  readonly #closed: Promise<void>;
  #settle!: { resolve(value: A): void; reject(error: Error): void };
  #markClosed!: () => void;
  #deadline: NodeJS.Timeout | undefined;
  #watchdog: Watchdog | undefined;
  #failure: LifelineError | undefined;
  #discarding = false;

  constructor(options: SessionConnectionOptions<F, A>) {
    this.#options = options;
    this.#ready = new Promise<A>((resolve, reject) => (this.#settle = { resolve, reject }));
    // A handshake nobody awaits (a consumer that only watches onClosed) must not be unhandled.
    this.#ready.catch(() => {});
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    if (options.deadlineFrom !== 'open') this.#armDeadline();
    this.#transport = options.connect({
      open: () => this.#onOpen(),
      message: (data, binary) => this.#receive(data, binary),
      error: (error) => {
        this.#options.onTransportError?.(error);
        this.#failure ??= new ConnectionError(`connection to ${options.peer} failed: ${error.message}`, { cause: error });
      },
      close: (code, reason) => this.#finish(code, reason),
    });
  }

  get state(): ConnectionState {
    return this.#machine.state;
  }

  /** Resolves with the handshake's value; rejects with HandshakeRefused (fatal) or the LifelineError that failed the attempt. */
  get ready(): Promise<A> {
    return this.#ready;
  }

  /** Resolves once the connection is gone. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** Sends one frame; false (nothing sent) when the transport is not open. */
  send(frame: Uint8Array, onWritten?: (error?: Error) => void): boolean {
    if (this.#machine.is('CLOSING', 'CLOSED')) return false;
    return this.#transport.send(frame, onWritten);
  }

  /** Closes the connection (close handshake; the transport drops it if the peer does not answer). */
  close(code = 1000, reason = ''): Promise<void> {
    if (this.#machine.is('CONNECTING', 'HANDSHAKING', 'OPEN')) {
      this.#machine.transition('CLOSING');
      this.#stopTimers();
      this.#failure ??= new ConnectionError(`the connection to ${this.#options.peer} was closed (${code}${reason ? `: ${reason}` : ''})`);
      this.#settle.reject(this.#failure);
      this.#transport.close(code, reason);
    }
    return this.#closed;
  }

  /** A broken connection (deadline, silence): drop it at once. */
  fail(error: LifelineError): void {
    if (this.#machine.is('CLOSED')) return;
    this.#failure ??= error;
    this.#stopTimers();
    this.#transport.terminate();
  }

  #armDeadline(): void {
    const { handshakeTimeoutMs, peer, handshakeName = 'handshake' } = this.#options;
    this.#deadline = setTimeout(
      () => this.fail(new HandshakeTimeoutError(`${peer} did not complete the ${handshakeName} within ${handshakeTimeoutMs} ms`)),
      handshakeTimeoutMs,
    );
    this.#deadline.unref();
  }

  #onOpen(): void {
    if (!this.#machine.tryTransition('HANDSHAKING')) return;
    if (this.#options.deadlineFrom === 'open') this.#armDeadline();
    let opened: ReturnType<HandshakeStep<F, A>['open']>;
    try {
      opened = this.#options.handshake.open({ send: (frame) => this.send(frame) });
    } catch (error) {
      this.#judge({ kind: 'fail', error: asLifelineError(error) });
      return;
    }
    if (opened instanceof Promise) {
      opened.then(
        (verdict) => this.#judge(verdict ?? undefined),
        (error: unknown) => this.#judge({ kind: 'fail', error: asLifelineError(error) }),
      );
    } else {
      this.#judge(opened ?? undefined);
    }
  }

  #receive(data: Buffer, binary: boolean): void {
    if (this.#discarding || this.#machine.is('CLOSING', 'CLOSED')) return;
    this.#watchdog?.touch();
    let frame: F;
    try {
      if (!binary) throw new ProtocolError(`${this.#options.peer} sent a text frame (the protocol is binary msgpack)`);
      frame = this.#options.decode(data);
    } catch (error) {
      const protocolError = error instanceof ProtocolError ? error : new ProtocolError(String(error), { cause: error });
      if ((this.#options.onInvalid?.(protocolError) ?? 'close') === 'drop') return;
      this.#discarding = true;
      this.#failure ??= protocolError;
      // During the handshake, a retryable failure (a consumer that wants it fatal says so in onInvalid).
      this.#settle.reject(protocolError);
      void this.close(1008, 'invalid frame');
      return;
    }
    if (this.#machine.is('HANDSHAKING')) {
      this.#judge(this.#options.handshake.answer(frame));
      return;
    }
    if (this.#machine.is('OPEN')) this.#options.onFrame(frame);
  }

  #judge(verdict: HandshakeVerdict<A>): void {
    if (!verdict || !this.#machine.is('HANDSHAKING')) return;
    switch (verdict.kind) {
      case 'accept':
        clearTimeout(this.#deadline);
        this.#machine.transition('OPEN');
        if (verdict.heartbeat) this.#startHeartbeats(verdict.heartbeat);
        this.#settle.resolve(verdict.value);
        this.#options.onAccepted?.(verdict.value);
        return;
      case 'refuse':
        this.#failure ??= verdict.error;
        this.#settle.reject(new HandshakeRefused(verdict.error, verdict.detail));
        void this.close(1000, 'handshake refused');
        return;
      case 'fail':
        this.#failure ??= verdict.error;
        this.#settle.reject(verdict.error);
        this.fail(verdict.error);
        return;
    }
  }

  #startHeartbeats({ intervalMs, missed, beat }: HeartbeatPlan): void {
    const watchdog = new Watchdog({
      intervalMs,
      missed,
      onBeat: beat && (() => this.send(beat())),
      onSilent: (silentMs) =>
        this.fail(
          new PeerSilentError(
            `no frame from ${this.#options.peer} for ${Math.round(silentMs)} ms (${missed ?? MISSED_HEARTBEATS} heartbeat intervals of ${intervalMs} ms)`,
          ),
        ),
    });
    this.#watchdog = watchdog;
    watchdog.start();
  }

  #stopTimers(): void {
    clearTimeout(this.#deadline);
    this.#watchdog?.stop();
  }

  #finish(code: number, reason: string): void {
    if (this.#machine.is('CLOSED')) return;
    this.#machine.transition('CLOSED');
    this.#stopTimers();
    const error =
      this.#failure ?? new ConnectionError(`${this.#options.peer} closed the connection (code ${code}${reason ? `: ${reason}` : ''})`);
    this.#settle.reject(error);
    this.#markClosed();
    this.#options.onClosed(error, code, reason);
  }
}

function asLifelineError(error: unknown): LifelineError {
  return error instanceof LifelineError ? error : new LifelineError('ERR_CONNECTION', error instanceof Error ? error.message : String(error), { cause: error });
}
