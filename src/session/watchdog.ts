// The one heartbeat watchdog of every session: a link is alive while frames arrive; after
// `missed` intervals with no frame at all from the peer it is dead (a SIGSTOPped or hung peer
// keeps its socket open). Optionally it also sends our own heartbeat every interval.

/** Intervals of silence after which the peer counts as gone (executor, scheduler links). */
export const MISSED_HEARTBEATS = 3;

export interface WatchdogOptions {
  /** Heartbeat interval, in ms (> 0). */
  intervalMs: number;
  /** Intervals of silence that count as a dead link. Default: MISSED_HEARTBEATS. */
  missed?: number;
  /** The peer has been silent for `silentMs`; the watchdog has stopped. */
  onSilent(silentMs: number): void;
  /** Sends our heartbeat; called every interval while the peer is alive. */
  onBeat?(): void;
  /** Keep the process alive for this timer. Default: false. */
  ref?: boolean;
}

export class Watchdog {
  readonly #options: WatchdogOptions;
  #lastFrameAt = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WatchdogOptions) {
    if (!(Number.isFinite(options.intervalMs) && options.intervalMs > 0)) {
      throw new TypeError(`intervalMs must be a positive number of milliseconds, got ${String(options.intervalMs)}`);
    }
    this.#options = options;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** A frame arrived from the peer. */
  touch(): void {
    this.#lastFrameAt = performance.now();
  }

  /** Starts watching (and beating), counting silence from now. */
  start(): void {
    this.stop();
    const { intervalMs, missed = MISSED_HEARTBEATS, onSilent, onBeat, ref = false } = this.#options;
    this.#lastFrameAt = performance.now();
    // Checked every interval (a beat needs that period anyway), or more often for a pure watch.
    const period = onBeat ? intervalMs : Math.max(1, Math.min(intervalMs, 1_000));
    this.#timer = setInterval(() => {
      const silentMs = performance.now() - this.#lastFrameAt;
      if (silentMs > missed * intervalMs) {
        this.stop();
        onSilent(silentMs);
        return;
      }
      onBeat?.();
    }, period);
    if (!ref) this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
