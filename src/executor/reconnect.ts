// Getting back to a restarted agent fast (DESIGN §6.3, §10: every executor re-subscribed within
// 250 ms of the agent listening). Triggers:
// - p-retry backoff, starting small and capped at LIFELINE_SUBSCRIPTION_BACKOFF_MAX (a quarter of
//   the agent's re-registration window, so a retrying executor always fits in it), randomized so
//   that hundreds of executors do not knock in step;
// - fs.watch on the socket's directory: the restarted agent creating its socket wakes us at once.
//   The event comes at bind(), a moment before listen(), so a woken attempt may be refused: a few
//   quick retries (5, 10, 20 ms) follow before the backoff resumes.
// - fs.watch can fail: inotify allows 128 instances per user by default and every Node process
//   with a watcher holds one, so past ~128 executors it fails with EMFILE/ENOSPC. That is not an
//   error: we fall back silently to a cheap stat poll of the socket file (a changed inode or mtime
//   wakes us as the watch would), with the backoff still running underneath.
// The recovery timer (how long to keep trying) belongs to the driver, which cancels us.
import fs from 'node:fs';
import path from 'node:path';
import pRetry from 'p-retry';
import { IllegalStateError, InvalidOptionError, LifelineError } from '../protocol/errors.js';

/** fs.watch's shape, injectable so that tests can make it fail. */
export type WatchFunction = (dir: string, options: { persistent: boolean }, listener: (event: string, filename: string | Buffer | null) => void) => fs.FSWatcher;

/**
 * What started an attempt: the first one after the break, the backoff, the socket's directory
 * changing (fs.watch, and the quick retries after it), or the stat poll seeing a new socket file.
 */
export type AttemptTrigger = 'immediate' | 'backoff' | 'watch' | 'poll';

export interface ReconnectorOptions {
  /** One attempt: resolves once subscribed, rejects when it failed. */
  attempt: () => Promise<void>;
  /** An error after which trying again is pointless (the agent refused us). */
  isFatal: (error: unknown) => boolean;
  /** The agent's socket; its directory is watched. */
  socketPath: string;
  /** Largest backoff delay, in ms. */
  backoffMaxMs: number;
  /** Default: fs.watch. */
  watch?: WatchFunction;
  /** Stat poll interval when fs.watch is unavailable; 0 disables the poll (backoff only). Default POLL_INTERVAL_MS. */
  pollIntervalMs?: number;
  /** Called before each attempt with what triggered it. */
  onAttempt?: (trigger: AttemptTrigger) => void;
}

/** First backoff delay (randomized ×[1, 2)), doubled after every failed attempt. */
export const BACKOFF_MIN_MS = 20;
/** Delays of the quick retries after a watch event (the socket is bound but may not listen yet). */
export const QUICK_RETRY_MS = [5, 10, 20] as const;
/** How often the socket file is stat()ed when fs.watch is unavailable. */
export const POLL_INTERVAL_MS = 50;

type ReconnectorState = 'IDLE' | 'RUNNING' | 'DONE';
const TRANSITIONS: Readonly<Record<ReconnectorState, readonly ReconnectorState[]>> = {
  IDLE: ['RUNNING', 'DONE'],
  RUNNING: ['DONE'],
  DONE: [],
};

/** Thrown into p-retry's wait to cut it short when the socket appears. */
class Wake extends Error {}

export class Reconnector {
  readonly #options: ReconnectorOptions;
  readonly #cancel = new AbortController();
  #state: ReconnectorState = 'IDLE';
  #round: AbortController | undefined;
  #watcher: fs.FSWatcher | undefined;
  #polling = false;
  #attempting = false;
  /** A wake-up that came while an attempt was under way: it starts the next round once that fails. */
  #wakePending: 'watch' | 'poll' | undefined;
  #wokenBy: 'watch' | 'poll' = 'watch';
  #attempts = 0;

  constructor(options: ReconnectorOptions) {
    const { backoffMaxMs, pollIntervalMs = POLL_INTERVAL_MS } = options;
    if (!(Number.isFinite(backoffMaxMs) && backoffMaxMs >= 0)) {
      throw new InvalidOptionError('backoffMaxMs', backoffMaxMs, 'a non-negative number of milliseconds');
    }
    if (!(Number.isFinite(pollIntervalMs) && pollIntervalMs >= 0)) {
      throw new InvalidOptionError('pollIntervalMs', pollIntervalMs, 'a non-negative number of milliseconds');
    }
    this.#options = { ...options, pollIntervalMs };
  }

  /** Attempts made so far. */
  get attempts(): number {
    return this.#attempts;
  }

  /** How a new socket is noticed now: `watch` (fs.watch), `poll` (stat poll) or `none` (backoff only). */
  get watching(): 'watch' | 'poll' | 'none' {
    return this.#watcher ? 'watch' : this.#polling ? 'poll' : 'none';
  }

  /**
   * Attempts until one succeeds. Rejects with the attempt's error when it is fatal, or with the
   * reason given to cancel(). The watcher (or poll) is stopped when it settles.
   */
  async run(): Promise<void> {
    if (this.#cancel.signal.aborted) throw this.#cancel.signal.reason;
    this.#transition('RUNNING');
    try {
      this.#startWatching();
      let trigger: AttemptTrigger = 'immediate';
      for (;;) {
        this.#cancel.signal.throwIfAborted();
        const round = new AbortController();
        this.#round = round;
        const quick = trigger === 'watch' || trigger === 'poll';
        let first = true;
        try {
          await pRetry(
            () => {
              // A quick retry after a wake-up still belongs to it.
              const why = first || quick ? trigger : 'backoff';
              first = false;
              return this.#attempt(why);
            },
            {
              retries: quick ? QUICK_RETRY_MS.length : Number.POSITIVE_INFINITY,
              minTimeout: quick ? QUICK_RETRY_MS[0] : BACKOFF_MIN_MS,
              factor: 2,
              maxTimeout: quick ? QUICK_RETRY_MS[QUICK_RETRY_MS.length - 1] : Math.max(this.#options.backoffMaxMs, BACKOFF_MIN_MS),
              randomize: !quick,
              unref: true,
              signal: AbortSignal.any([this.#cancel.signal, round.signal]),
              shouldRetry: ({ error }) => !this.#options.isFatal(error),
              onFailedAttempt: () => {
                // The socket changed while that attempt was under way: try again now.
                const pending = this.#wakePending;
                if (pending) {
                  this.#wakePending = undefined;
                  this.#wokenBy = pending;
                  round.abort(new Wake());
                }
              },
            },
          );
          return;
        } catch (error) {
          if (this.#cancel.signal.aborted) throw this.#cancel.signal.reason;
          if (this.#options.isFatal(error)) throw error;
          // Woken: start over with an immediate attempt and quick retries. Quick retries used up:
          // back to the backoff (its first attempt comes at once).
          trigger = round.signal.aborted ? this.#wokenBy : 'backoff';
        }
      }
    } finally {
      this.#stopWatching();
      this.#round = undefined;
      if (this.#state !== 'DONE') this.#transition('DONE');
    }
  }

  /** Stops trying: run() rejects with `reason` once the attempt under way (if any) has settled. */
  cancel(reason: Error): void {
    if (!this.#cancel.signal.aborted) this.#cancel.abort(reason);
    this.#stopWatching();
    if (this.#state === 'IDLE') this.#transition('DONE');
  }

  async #attempt(trigger: AttemptTrigger): Promise<void> {
    this.#attempts += 1;
    this.#attempting = true;
    this.#wakePending = undefined;
    try {
      this.#options.onAttempt?.(trigger);
      await this.#options.attempt();
    } finally {
      this.#attempting = false;
    }
  }

  #wake(by: 'watch' | 'poll'): void {
    if (this.#state !== 'RUNNING') return;
    if (this.#attempting) {
      this.#wakePending = by;
      return;
    }
    this.#wokenBy = by;
    this.#round?.abort(new Wake());
  }

  #startWatching(): void {
    const { socketPath, watch = fs.watch as unknown as WatchFunction } = this.#options;
    const name = path.basename(socketPath);
    try {
      const watcher = watch(path.dirname(socketPath), { persistent: false }, (_event, filename) => {
        // No filename on some platforms: any change may be the socket.
        if (filename === null || filename === undefined || filename.toString() === name) this.#wake('watch');
      });
      watcher.on('error', () => {
        this.#stopWatching();
        this.#startPolling();
      });
      this.#watcher = watcher;
    } catch {
      // EMFILE/ENOSPC (inotify limits), ENOENT (no directory yet): poll instead, silently.
      this.#startPolling();
    }
  }

  #startPolling(): void {
    if (this.#polling || this.#options.pollIntervalMs === 0 || this.#state !== 'RUNNING') return;
    fs.watchFile(this.#options.socketPath, { persistent: false, interval: this.#options.pollIntervalMs }, this.#onPoll);
    this.#polling = true;
  }

  // A socket file that appeared or was replaced; its removal (all zeros) is no reason to try.
  readonly #onPoll = (current: fs.Stats): void => {
    if (current.ino !== 0 || current.mtimeMs !== 0) this.#wake('poll');
  };

  #stopWatching(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    try {
      watcher?.close();
    } catch {
      // closing a watcher that already failed
    }
    if (this.#polling) {
      this.#polling = false;
      fs.unwatchFile(this.#options.socketPath, this.#onPoll);
    }
  }

  #transition(to: ReconnectorState): void {
    if (!TRANSITIONS[this.#state].includes(to)) throw new IllegalStateError(`cannot move a reconnector from ${this.#state} to ${to}`);
    this.#state = to;
  }
}

/** The recovery timer fired before the agent came back. */
export class RecoveryTimeout extends LifelineError {
  constructor(timeoutMs: number, socketPath: string) {
    super('ERR_TIMEOUT', `the agent did not come back at ${socketPath} within the recovery timeout of ${timeoutMs} ms (LIFELINE_RECOVERY_TIMEOUT)`);
  }
}

/** A recovery under way: one reconnector under one recovery timer. */
export interface Recovery {
  /** Stops the reconnection: `done` rejects with `reason`. */
  readonly cancel: (reason: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** Resolves once subscribed again; rejects with the fatal error, a RecoveryTimeout, or the reason given to cancel(). */
  readonly done: Promise<void>;
}

export interface RecoveryOptions extends ReconnectorOptions {
  /** LIFELINE_RECOVERY_TIMEOUT. */
  recoveryTimeoutMs: number;
  /** Asked when the timer fires: false (subscribed, stopped) lets it pass. */
  stillWaiting(): boolean;
  /** The timer fired while still waiting: the reconnector is cancelled; fail the attempt under way. */
  onTimeout(timeout: RecoveryTimeout): void;
  /** `done` settled. */
  onSettled(): void;
}

/** The executor's reconnect policy after a broken connection: the reconnector, bounded by the recovery timer. */
export function startRecovery(options: RecoveryOptions): Recovery {
  const reconnector = new Reconnector(options);
  const cancel = (reason: Error) => reconnector.cancel(reason);
  // Not unref: the executor stays alive while it waits for its agent.
  const timer = setTimeout(() => {
    if (!options.stillWaiting()) return;
    const timeout = new RecoveryTimeout(options.recoveryTimeoutMs, options.socketPath);
    cancel(timeout);
    options.onTimeout(timeout);
  }, options.recoveryTimeoutMs);
  // Started in a microtask, after the caller has recorded the recovery.
  const done = Promise.resolve()
    .then(() => reconnector.run())
    .finally(() => {
      clearTimeout(timer);
      options.onSettled();
    });
  return { cancel, timer, done };
}
