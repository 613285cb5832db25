// Full disks and I/O errors as episodes (issue 13 point 3): a record log whose append or fsync
// failed is refused for a backoff, then reopened (cut back to what it knows is durable) and tried
// again. This module holds that per-file state and says when an episode starts and ends, so the
// agent warns once per episode, counts every error and reports itself degraded meanwhile.
import { LifelineError } from '../protocol/errors.js';

/** First wait before a failing log is reopened; it doubles on every failure up to the max. */
export const DISK_RETRY_MIN_MS = 100;
export const DISK_RETRY_MAX_MS = 5_000;

/** A record could not be made durable: the disk (or the file) failed, or is waiting out its backoff. */
export class DiskError extends LifelineError {
  readonly file: string;
  /** The errno code of the failure (ENOSPC, EIO, …), when there was one. */
  readonly errno: string | undefined;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('ERR_DISK', `cannot make records durable in ${file}: ${message}`, options);
    this.file = file;
    this.errno = (options?.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

export interface DiskHealthListener {
  /** The first file failed after all were well: one warning. */
  onEpisodeStart?(file: string, error: unknown): void;
  /** Every failing file works again. */
  onEpisodeEnd?(files: number, errors: number): void;
  /** Every failure (for a counter). */
  onError?(file: string, error: unknown): void;
}

interface Failing {
  /** What the file is to be cut back to when it is reopened. */
  durableSize: number;
  retryAt: number;
  delayMs: number;
  error: unknown;
}

export class DiskHealth {
  readonly #failing = new Map<string, Failing>();
  readonly #listeners: DiskHealthListener[] = [];
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  #errors = 0;
  #episodeErrors = 0;
  #episodeFiles = new Set<string>();

  constructor({ minMs = DISK_RETRY_MIN_MS, maxMs = DISK_RETRY_MAX_MS, now = Date.now }: { minMs?: number; maxMs?: number; now?: () => number } = {}) {
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#now = now;
  }

  listen(listener: DiskHealthListener): void {
    this.#listeners.push(listener);
  }

  /** Some file is failing now. */
  get degraded(): boolean {
    return this.#failing.size > 0;
  }

  /** The files failing now. */
  get failingFiles(): string[] {
    return [...this.#failing.keys()];
  }

  /** Disk errors seen since start. */
  get errors(): number {
    return this.#errors;
  }

  /** The file's append or sync failed; `durableSize` is what it is known to hold durably. */
  failed(file: string, error: unknown, durableSize: number): void {
    const wasWell = this.#failing.size === 0;
    const previous = this.#failing.get(file);
    const delayMs = previous ? Math.min(previous.delayMs * 2, this.#maxMs) : this.#minMs;
    // A reopen that failed cannot know more than the first failure did.
    const size = previous ? Math.min(previous.durableSize, durableSize) : durableSize;
    this.#failing.set(file, { durableSize: size, retryAt: this.#now() + delayMs, delayMs, error });
    this.#errors += 1;
    this.#episodeErrors += 1;
    this.#episodeFiles.add(file);
    for (const listener of this.#listeners) listener.onError?.(file, error);
    if (wasWell) for (const listener of this.#listeners) listener.onEpisodeStart?.(file, error);
  }

  /** The file took a durable append again. */
  recovered(file: string): void {
    if (!this.#failing.delete(file) || this.#failing.size > 0) return;
    const files = this.#episodeFiles.size;
    const errors = this.#episodeErrors;
    this.#episodeFiles = new Set();
    this.#episodeErrors = 0;
    for (const listener of this.#listeners) listener.onEpisodeEnd?.(files, errors);
  }

  /** A failing file still waiting out its backoff: the DiskError to refuse its records with now. */
  refusal(file: string): DiskError | undefined {
    const failing = this.#failing.get(file);
    if (!failing || this.#now() >= failing.retryAt) return undefined;
    const code = (failing.error as NodeJS.ErrnoException | undefined)?.code;
    return new DiskError(file, `it failed (${code ?? (failing.error as Error)?.message ?? 'error'}); retried in ${failing.retryAt - this.#now()} ms`, { cause: failing.error });
  }

  /** A failing file due for a retry: the length to cut it back to before appending again. */
  reopenLength(file: string): number | undefined {
    return this.#failing.get(file)?.durableSize;
  }

  /** The file is gone (its run was collected): it fails no more. */
  forget(file: string): void {
    this.recovered(file);
  }
}
