// The unfinished split REREGISTERs the agent endpoint holds, per connection, and the one byte
// budget they share (issue 13: --max_reregister_bytes): every part but the last is counted until
// its call is whole or its connection closes, and a part that would pass the cap is refused (the
// agent retries later) instead of the master buffering without end.
import type { Logger } from '../log.js';
import { LifelineError, type ReregisterCall as Reregister } from '../protocol/index.js';
import { ReregisterParts } from './reregistration.js';

/** What the hold needs of a connection: an identity to key by, and its address for the log. */
export interface HoldingConnection {
  readonly remote: string;
}

export class ReregisterHold {
  readonly #limit: number;
  readonly #logger: Logger;
  /** A connection's REREGISTER parts received so far (a large REREGISTER comes in several frames). */
  #parts = new WeakMap<HoldingConnection, ReregisterParts>();
  /** Bytes of REREGISTER parts held, per connection and in all. */
  #partBytes = new WeakMap<HoldingConnection, number>();
  #heldBytes = 0;

  constructor(maxReregisterBytes: number, logger: Logger) {
    this.#limit = maxReregisterBytes;
    this.#logger = logger;
  }

  /**
   * Adds one REREGISTER frame of `bytes` from the connection; returns the whole call once its last
   * part is in (the connection's bytes released), else undefined. Throws LifelineError
   * (ERR_CONNECTION) when the cap is reached, ProtocolError for parts out of order.
   */
  add(connection: HoldingConnection, call: Reregister, bytes: number): Reregister | undefined {
    let parts = this.#parts.get(connection);
    if (!parts && call.part) this.#parts.set(connection, (parts = new ReregisterParts()));
    if (call.part && call.part.index < call.part.count - 1) this.#hold(connection, bytes);
    const whole = parts ? parts.add(call) : call;
    if (whole) this.release(connection);
    return whole;
  }

  /** The connection's held bytes are given back (its call is whole, or it closed). */
  release(connection: HoldingConnection): void {
    this.#heldBytes -= this.#partBytes.get(connection) ?? 0;
    this.#partBytes.delete(connection);
  }

  /** Bytes of unfinished split REREGISTERs held now, across all connections. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** A REREGISTER part is held until its last part: refused when all held would pass the cap. */
  #hold(connection: HoldingConnection, bytes: number): void {
    const limit = this.#limit;
    if (this.#heldBytes + bytes > limit) {
      this.#logger.warn({ heldBytes: this.#heldBytes, partBytes: bytes, maxReregisterBytes: limit, remote: connection.remote }, 'REREGISTER part refused: --max_reregister_bytes reached');
      this.release(connection);
      throw new LifelineError('ERR_CONNECTION', `the master holds ${this.#heldBytes} bytes of unfinished REREGISTERs, at its limit of ${limit} (--max_reregister_bytes): try again later`);
    }
    this.#heldBytes += bytes;
    this.#partBytes.set(connection, (this.#partBytes.get(connection) ?? 0) + bytes);
  }
}
