// --gc_disk_headroom, as Mesos: every --disk_watch_interval the agent reads how full the file system
// of its work dir is, and completed runs older than gc_delay × max(0, 1 − headroom − usage) are
// removed now instead of at their gc_delay, so a short disk is freed before it fills.
import fsp from 'node:fs/promises';

/** The fraction (0..1) of the file system holding `dir` that is in use, as `df` reports it. */
export async function diskUsage(dir: string): Promise<number> {
  const stats = await fsp.statfs(dir);
  // f_bavail, not f_bfree: what an unprivileged writer can still use.
  const used = stats.blocks - stats.bfree;
  const usable = used + stats.bavail;
  return usable > 0 ? used / usable : 0;
}

/** Mesos's age rule: how long after completion a run's sandbox may stay, given the disk's usage. */
export function maxSandboxAgeMs(gcDelayMs: number, headroom: number, usage: number): number {
  return gcDelayMs * Math.max(0, 1 - headroom - usage);
}

export interface DiskWatchOptions {
  workDir: string;
  gcDelayMs: number;
  headroom: number;
  intervalMs: number;
  /** Removes completed runs older than `maxAgeMs` now; resolves with how many. */
  prune: (maxAgeMs: number) => Promise<number>;
  onPruned?: (info: { usage: number; maxAgeMs: number; removed: number }) => void;
  onError?: (error: Error) => void;
}

/** The interval that applies the age rule; the disk is read once per interval, nothing else. */
export class DiskWatch {
  readonly #options: DiskWatchOptions;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #failed = false;

  constructor(options: DiskWatchOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One check now (also what the interval runs); concurrent calls share it. */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<void> {
    const { workDir, gcDelayMs, headroom } = this.#options;
    try {
      const usage = await diskUsage(workDir);
      const maxAgeMs = maxSandboxAgeMs(gcDelayMs, headroom, usage);
      this.#failed = false;
      if (maxAgeMs >= gcDelayMs) return; // nothing is due before its gc_delay
      const removed = await this.#options.prune(maxAgeMs);
      if (removed > 0) this.#options.onPruned?.({ usage, maxAgeMs, removed });
    } catch (error) {
      if (!this.#failed) this.#options.onError?.(error as Error);
      this.#failed = true;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking;
  }
}
