// One peer connection on an endpoint (an agent, a scheduler or an executor), before and after it
// registers: its lifecycle, its timers (cleared when it closes), its heartbeat and its way out
// (ERROR + close for a refusal). Frames are encoded here, so callers send events, not bytes.
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { encode } from '../protocol/msgpack.js';
import { LifelineError } from '../protocol/errors.js';
import type { Logger } from '../log.js';
import type { Transport } from './transport.js';
import { MISSED_HEARTBEATS, Watchdog } from './watchdog.js';

export type SessionState = 'CONNECTED' | 'REGISTERED' | 'CLOSING' | 'CLOSED';

const SESSION_MOVES: Transitions<SessionState> = {
  CONNECTED: ['REGISTERED', 'CLOSING', 'CLOSED'],
  REGISTERED: ['CLOSING', 'CLOSED'],
  CLOSING: ['CLOSED'],
  CLOSED: [],
};

/**
 * What an endpoint checks before it sends an event: `prepare` may fix it (cut a message) or refuse
 * it (undefined: not sent, the caller told false); `maxSendBytes` is the receiver's frame limit.
 */
export interface Outgoing<Event> {
  prepare?(event: Event): Event | undefined;
  maxSendBytes?: number;
  /**
   * Bytes that may wait unwritten for this peer (issue 13): an event that would queue more closes
   * the connection as a slow reader, instead of the process buffering without end. Default: no cap.
   */
  maxBufferedBytes?: number;
}

/** Largest ERROR message sent (it must fit any receiver's schema). */
const MAX_ERROR_MESSAGE = 60_000;

export class EndpointSession<Event extends object> {
  static #next = 1;
  readonly id = EndpointSession.#next++;
  readonly remote: string;
  readonly log: Logger;
  readonly #transport: Transport;
  readonly #machine: StateMachine<SessionState>;
  readonly #timers = new Set<NodeJS.Timeout>();
  #watchdog: Watchdog | undefined;
  #peerId: string | undefined;
  /** Shapes each event for the protocol version agreed with this peer (issue 11); default: as is. */
  #shape: (event: Event) => Event = (event) => event;

  readonly #outgoing: Outgoing<Event> | undefined;
  /** Issue 14: the principal this connection authenticated as (undefined: it did not authenticate). */
  principal: string | undefined;
  /** The challenge sent on this connection, until a registration call answers it. */
  challenge: Uint8Array | undefined;
  /** Whether the first registration frame's authentication has been judged (later REREGISTER parts are not). */
  authenticationJudged = false;
  /** Counts a call refused by guarded() (the endpoint's rejected-frames metric). */
  onRefused: ((error: LifelineError) => void) | undefined;

  constructor(transport: Transport, remote: string, logger: (id: number) => Logger, outgoing?: Outgoing<Event>) {
    this.#outgoing = outgoing;
    this.#transport = transport;
    this.remote = remote;
    this.log = logger(this.id);
    this.#machine = new StateMachine(`connection ${this.id} from ${remote}`, 'CONNECTED', SESSION_MOVES, (_from, to) => {
      if (to === 'CLOSING' || to === 'CLOSED') this.#clearTimers();
    });
  }

  get state(): SessionState {
    return this.#machine.state;
  }

  /** The agent, framework or executor ID this connection registered as. */
  get peerId(): string | undefined {
    return this.#peerId;
  }

  get isOpen(): boolean {
    return this.#machine.is('CONNECTED', 'REGISTERED') && this.#transport.isOpen;
  }

  /** Bytes queued for this peer and not yet written. */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** The peer registered (REGISTER, REREGISTER, SUBSCRIBE accepted) as `peerId`. */
  registered(peerId: string): void {
    this.#machine.transition('REGISTERED');
    this.#peerId = peerId;
  }

  /** From now on, every event sent goes through `shape` (the version agreed at registration). */
  shapeWith(shape: (event: Event) => Event): void {
    this.#shape = shape;
  }

  /** Sends one event; false when the connection is no longer open. */
  send(event: Event): boolean {
    if (!this.isOpen) return false;
    // Shaped for the agreed protocol first, then checked against what the receiver accepts.
    const shaped = this.#shape(event);
    const ready = this.#outgoing?.prepare ? this.#outgoing.prepare(shaped) : shaped;
    if (ready === undefined) return false;
    const bytes = encode(ready);
    const limit = this.#outgoing?.maxSendBytes;
    if (limit !== undefined && bytes.length > limit) {
      this.log.error({ code: 'ERR_FRAME_TOO_LARGE', peer: this.#peerId, event: (ready as { type?: unknown }).type, bytes: bytes.length, limit }, "event not sent: larger than the receiver's frame limit");
      return false;
    }
    const buffered = this.#outgoing?.maxBufferedBytes;
    if (buffered !== undefined && this.#transport.bufferedAmount + bytes.length > buffered) {
      // It reads slower than it is sent to: dropped, so that its backlog cannot grow the process.
      this.log.warn({ peer: this.#peerId, principal: this.principal, bufferedBytes: this.#transport.bufferedAmount, maxBufferedBytes: buffered }, 'slow reader: connection closed');
      this.terminate();
      return false;
    }
    return this.#transport.send(bytes);
  }

  /** Answers a bad frame or a refused call: ERROR {code, message}, then close (1008 by default). */
  reject(error: LifelineError, closeCode = 1008): void {
    if (!this.isOpen) return;
    this.#transport.send(encode({ type: 'ERROR', code: error.code, message: error.message.slice(0, MAX_ERROR_MESSAGE) }));
    this.close(closeCode, error.message);
  }

  /**
   * Runs the rest of a call's handling outside the endpoint's frame handler (after a registry
   * write): what it throws refuses this peer the same way — ERROR and 1008 for a LifelineError,
   * 1011 for a failure — and never reaches the process.
   */
  guarded(call: string, handle: () => void): void {
    try {
      handle();
    } catch (error) {
      if (error instanceof LifelineError) {
        this.log[error.code === 'ERR_UNAUTHORIZED' ? 'warn' : 'info']({ err: { code: error.code, message: error.message }, peer: this.#peerId, principal: this.principal, call }, 'refused call');
        this.onRefused?.(error);
        this.reject(error);
      } else {
        this.log.error({ err: error, peer: this.#peerId, call }, 'handler failed');
        this.reject(new LifelineError('ERR_ILLEGAL_STATE', `failed to handle ${call}: ${(error as Error)?.message ?? error}`), 1011);
      }
    }
  }

  /** Closes with a handshake (frames already queued are sent first). */
  close(code = 1000, reason = ''): void {
    if (!this.#machine.is('CONNECTED', 'REGISTERED')) return;
    this.#machine.transition('CLOSING');
    this.#transport.close(code, reason);
  }

  /** Drops the connection at once (stop(), a peer that stopped answering). */
  terminate(): void {
    this.#machine.tryTransition('CLOSING');
    this.#transport.terminate();
  }

  /** A frame arrived from the peer (the endpoint calls it): the heartbeat watchdog hears it. */
  touch(): void {
    this.#watchdog?.touch();
  }

  /**
   * Sends `beat()` every `intervalMs` and drops the connection after `missed` intervals with no
   * frame at all from the peer (a hung or SIGSTOPped peer keeps its socket open).
   */
  heartbeat(intervalMs: number, beat: () => void, missed = MISSED_HEARTBEATS): void {
    this.#watchdog?.stop();
    this.#watchdog = new Watchdog({
      intervalMs,
      missed,
      ref: true,
      onBeat: beat,
      onSilent: (silentMs) => {
        this.log.warn({ peer: this.#peerId, silentMs: Math.round(silentMs) }, `no frame from the peer for ${missed} heartbeat intervals: closing`);
        this.terminate();
      },
    });
    this.#watchdog.start();
  }

  /** Runs `fn` every `ms` while the connection is open. */
  every(ms: number, fn: () => void): void {
    this.#timers.add(setInterval(fn, ms));
  }

  /** Runs `fn` once after `ms` unless the connection closes first; returns a canceller. */
  after(ms: number, fn: () => void): () => void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  /** Called by the endpoint when the socket has closed. */
  closed(): void {
    this.#machine.ensure('CLOSED');
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#watchdog?.stop();
  }
}
