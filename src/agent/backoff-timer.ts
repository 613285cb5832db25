// The doubling timer a task status stream waits on, twice over: for resending its update in flight
// (--status_update_retry_interval_min/max) and for trying again the records the disk refused. One
// pending timer at a time; each arming waits the current delay and doubles the next, up to the max,
// until `reset()`. Timers are injectable so that tests fire them by hand and read the delays.

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class BackoffTimer {
  readonly #timers: Timers;
  readonly #minMs: number;
  readonly #maxMs: number;
  #delayMs: number;
  #handle: unknown = undefined;

  constructor(timers: Timers, minMs: number, maxMs: number) {
    if (!Number.isFinite(minMs) || minMs <= 0) throw new TypeError(`option minMs must be a positive number, got ${minMs}`);
    if (!Number.isFinite(maxMs) || maxMs < minMs) throw new TypeError(`option maxMs must be a number ≥ minMs (${minMs}), got ${maxMs}`);
    this.#timers = timers;
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#delayMs = minMs;
  }

  /** A callback is pending. */
  get armed(): boolean {
    return this.#handle !== undefined;
  }

  /** What the next `arm()` waits. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** Replaces any pending callback with `callback`, after the current delay (which then doubles). */
  arm(callback: () => void): void {
    this.clear();
    const delay = this.#delayMs;
    this.#delayMs = Math.min(delay * 2, this.#maxMs);
    this.#handle = this.#timers.setTimeout(() => {
      this.#handle = undefined;
      callback();
    }, delay);
  }

  /** Cancels the pending callback, if any (the delay stays where it is). */
  clear(): void {
    if (this.#handle !== undefined) this.#timers.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  /** The next `arm()` waits the first delay again. */
  reset(): void {
    this.#delayMs = this.#minMs;
  }
}
