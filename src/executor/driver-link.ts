// The ExecutorDriver's link to its agent, one attempt at a time: the connection's states (NEW →
// CONNECTING → SUBSCRIBING → SUBSCRIBED; a failed attempt or a broken connection → DISCONNECTED →
// CONNECTING again; STOPPED from anywhere), the session connection of the current attempt, and how
// that attempt settles: SUBSCRIBED, refused (a Refusal: trying again is pointless), or failed. What
// to do next (retry, wait for a restarted agent, shut down) is the driver's; so is what an event means.
import { StateMachine } from '../lifecycle/state-machine.js';
import type { LifelineError } from '../protocol/errors.js';
import type { ExecutorCall, ExecutorEvent } from '../protocol/executor.js';
import { encode } from '../protocol/msgpack.js';
import { UnknownTypeError } from '../protocol/tolerant.js';
import { SessionConnection } from '../session/connection.js';
import { HandshakeRefused, type HandshakeStep } from '../session/handshake.js';
import { agentPeer } from './connection.js';
import { DRIVER_TRANSITIONS, type DriverState } from './driver-api.js';

/** A promise's two ends: an attempt under way, or an update waiting for its acknowledgement. */
export interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * An attempt the agent answered with a refusal (ERROR, SHUTDOWN, a malformed event): trying again
 * is pointless. `shutdownGracePeriodMs` is set when the answer was SHUTDOWN.
 */
export class Refusal extends Error {
  constructor(
    readonly error: LifelineError,
    readonly shutdownGracePeriodMs?: number,
  ) {
    super(error.message);
  }
}

/** What the link tells its driver; every call is about the current connection (stale ones are ignored). */
export interface LinkHost {
  /** The handshake of a new attempt. `begin()` moves it to SUBSCRIBING; false: the attempt is no longer current, send nothing. */
  handshake(begin: () => boolean): HandshakeStep<ExecutorEvent, number>;
  /** SUBSCRIBED, just before the attempt resolves. */
  subscribed(): void;
  /** A valid event after SUBSCRIBED. */
  event(event: ExecutorEvent): void;
  /** A fatal error (a malformed event, or one given to fail()) while no attempt is under way. */
  fatal(error: LifelineError): void;
  /** A subscribed connection broke (close, error, or missed heartbeats). */
  broken(error: LifelineError): void;
}

export class DriverLink {
  readonly #host: LinkHost;
  readonly #machine = new StateMachine<DriverState>('the executor driver', 'NEW', DRIVER_TRANSITIONS);
  #connection: SessionConnection<ExecutorEvent, number> | undefined;
  /** Connections being closed, awaited by closed(). */
  readonly #closing = new Set<Promise<void>>();
  /** The attempt under way: settles on SUBSCRIBED, or when the attempt fails. */
  #handshake: Deferred | undefined;
  #attempts = 0;

  constructor(host: LinkHost) {
    this.#host = host;
  }

  get state(): DriverState {
    return this.#machine.state;
  }

  is(...states: DriverState[]): boolean {
    return this.#machine.is(...states);
  }

  /** Attempts made so far. */
  get attempts(): number {
    return this.#attempts;
  }

  /** One attempt: connect to the agent at `socketPath`, SUBSCRIBE, wait for SUBSCRIBED. Rejects with a Refusal when the agent refused us. */
  attempt(socketPath: string, handshakeTimeoutMs: number): Promise<void> {
    this.#attempts += 1;
    return new Promise<void>((resolve, reject) => {
      this.#machine.transition('CONNECTING');
      this.#handshake = { resolve, reject };
      const connection: SessionConnection<ExecutorEvent, number> = new SessionConnection<ExecutorEvent, number>({
        ...agentPeer(socketPath),
        handshake: this.#host.handshake(() => {
          if (this.#connection !== connection || this.#machine.state !== 'CONNECTING') return false;
          this.#machine.transition('SUBSCRIBING');
          return true;
        }),
        handshakeTimeoutMs,
        handshakeName: 'subscription',
        onInvalid: (error) => {
          // An event type a newer agent added: ignored (issue 11); any other bad frame is fatal.
          if (error instanceof UnknownTypeError) return 'drop';
          if (this.#connection === connection) this.fail(error);
          return 'close';
        },
        onAccepted: () => {
          if (this.#connection === connection) this.#onSubscribed();
        },
        onFrame: (event) => {
          if (this.#connection === connection) this.#host.event(event);
        },
        onClosed: (error) => {
          if (this.#connection === connection) this.#onClosed(error);
        },
      });
      connection.ready.catch((error: unknown) => {
        if (this.#connection === connection && error instanceof HandshakeRefused) {
          this.abandon(new Refusal(error.error, error.detail as number | undefined), 'subscription refused');
        }
      });
      this.#connection = connection;
    });
  }

  /** Sends one call on the current connection; false when there is none or it is not open. */
  send(call: ExecutorCall): boolean {
    return this.#connection?.send(encode(call)) ?? false;
  }

  /** The agent's ERROR, or a malformed event: an attempt under way is refused with it; otherwise the host's fatal() gets it. */
  fail(error: LifelineError): void {
    if (this.#handshake) {
      this.abandon(new Refusal(error), 'subscription refused');
      return;
    }
    this.#host.fatal(error);
  }

  /** Gives up the attempt under way (if any): its connection is closed with 1000 and `reason`, and it rejects with `error`. */
  abandon(error: Error, reason: string): void {
    const handshake = this.#handshake;
    this.#handshake = undefined;
    this.close(1000, reason);
    handshake?.reject(error);
  }

  /** Drops the current connection (its close is awaited by closed()); an attempt under way fails. */
  close(code: number, reason: string): void {
    const connection = this.#connection;
    if (!connection) return;
    this.#connection = undefined;
    if (this.#machine.state !== 'STOPPED' && this.#machine.state !== 'DISCONNECTED') this.#machine.transition('DISCONNECTED');
    const closing = connection.close(code, reason);
    this.#closing.add(closing);
    void closing.then(() => this.#closing.delete(closing));
  }

  /** Moves to STOPPED and rejects the attempt under way with `reason`; the connection is left to close(). */
  stop(reason: Error): void {
    this.#machine.transition('STOPPED');
    const handshake = this.#handshake;
    this.#handshake = undefined;
    handshake?.reject(reason);
  }

  /** Resolves once every connection dropped so far has closed. */
  async closed(): Promise<void> {
    await Promise.all(this.#closing);
  }

  /** SUBSCRIBED: the session connection has started the heartbeats. */
  #onSubscribed(): void {
    this.#machine.transition('SUBSCRIBED');
    this.#host.subscribed();
    const handshake = this.#handshake;
    this.#handshake = undefined;
    handshake?.resolve();
  }

  #onClosed(error: LifelineError): void {
    if (this.#machine.state === 'STOPPED') return;
    this.#connection = undefined;
    this.#machine.transition('DISCONNECTED');
    const handshake = this.#handshake;
    if (handshake) {
      this.#handshake = undefined;
      handshake.reject(error);
      return;
    }
    this.#host.broken(error);
  }
}
