// How a client session waits between attempts: p-retry's exponential backoff, randomized so that
// many clients do not knock in step, with a cap; and the same formula for the one wait before
// the first attempt after a broken connection, for links that do not reconnect at once.
import type { Options as PRetryOptions } from 'p-retry';
import { InvalidOptionError } from '../protocol/errors.js';

export interface BackoffOptions {
  /** First delay, in ms (randomized ×[1, 2) when `randomize`). */
  minMs: number;
  /** Largest delay, in ms. */
  maxMs: number;
  /** Default: 2. */
  factor?: number;
  /** Default: true. */
  randomize?: boolean;
  /** After a connection that was accepted breaks: try at once (default), or wait one first delay. */
  afterBreak?: 'immediate' | 'backoff';
}

export function checkBackoff({ minMs, maxMs, factor = 2 }: BackoffOptions): void {
  if (!(Number.isFinite(minMs) && minMs >= 0)) throw new InvalidOptionError('backoff.minMs', minMs, 'a non-negative number of milliseconds');
  if (!(Number.isFinite(maxMs) && maxMs >= minMs)) throw new InvalidOptionError('backoff.maxMs', maxMs, `a number of milliseconds ≥ minMs (${minMs})`);
  if (!(Number.isFinite(factor) && factor >= 1)) throw new InvalidOptionError('backoff.factor', factor, 'a number ≥ 1');
}

/** p-retry's options for an endless series of attempts with this backoff. */
export function pRetryBackoff({ minMs, maxMs, factor = 2, randomize = true }: BackoffOptions): Pick<PRetryOptions, 'retries' | 'minTimeout' | 'maxTimeout' | 'factor' | 'randomize' | 'unref'> {
  // Not unref: a client waiting for its peer keeps the process alive, as a pending connect would.
  return { retries: Number.POSITIVE_INFINITY, minTimeout: minMs, maxTimeout: maxMs, factor, randomize, unref: false };
}

/** The first delay of the series, as p-retry computes it. */
export function firstDelayMs({ minMs, maxMs, randomize = true }: BackoffOptions): number {
  return Math.min(Math.round((randomize ? 1 + Math.random() : 1) * minMs), maxMs);
}

/** Waits `ms` unless `signal` aborts first (then resolves early: the caller checks why). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
