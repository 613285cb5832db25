// --gc_delay: a forgotten run's sandbox and (checkpointing runs) meta directory stay on
// disk for a while after it completed, for operators to read, and are then removed. Apart from the
// node model so that its timers, re-armed past setTimeout's limit, are one small thing to clear.
import fs from 'node:fs/promises';
import type { Checkpointer } from '../checkpoint/checkpointer.js';
import type { StateMachine } from '../lifecycle/state-machine.js';
import type { Logger } from '../log.js';
import type { ExecutorRun } from './executor-run.js';

/** setTimeout's largest delay; longer gc delays are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RunCollectorOptions {
  gcDelayMs: number;
  checkpointer: Checkpointer | undefined;
  logger: Logger;
  /** The agent's lifecycle: nothing is scheduled once it is TERMINATING. */
  lifecycle: Pick<StateMachine<string>, 'is'>;
}

export class RunCollector {
  readonly #options: RunCollectorOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** The run each timer is for, so that --gc_disk_headroom can collect it early. */
  readonly #pending = new Map<string, ExecutorRun>();

  constructor(options: RunCollectorOptions) {
    this.#options = options;
  }

  /** How many runs wait for their gc_delay. */
  get scheduled(): number {
    return this.#timers.size;
  }

  /** --gc_delay after it completed, the run's sandbox and (checkpointing runs) meta directory are removed. */
  schedule(run: ExecutorRun): void {
    if (run.completedAt === undefined || this.#timers.has(run.containerId) || this.#options.lifecycle.is('TERMINATING')) return;
    const dueAt = run.completedAt + this.#options.gcDelayMs;
    const timer = setTimeout(() => {
      this.#timers.delete(run.containerId);
      this.#pending.delete(run.containerId);
      if (Date.now() < dueAt) this.schedule(run); // a delay longer than setTimeout allows
      else void this.#collect(run);
    }, Math.min(Math.max(0, dueAt - Date.now()), MAX_TIMER_MS));
    timer.unref();
    this.#timers.set(run.containerId, timer);
    this.#pending.set(run.containerId, run);
  }

  /**
   * Collects now every scheduled run that completed at least `maxAgeMs` ago (the disk is short,
   * --gc_disk_headroom); resolves with how many were removed.
   */
  async prune(maxAgeMs: number, now = Date.now()): Promise<number> {
    const due = [...this.#pending.values()].filter((run) => run.completedAt !== undefined && now - run.completedAt >= maxAgeMs);
    for (const run of due) {
      clearTimeout(this.#timers.get(run.containerId));
      this.#timers.delete(run.containerId);
      this.#pending.delete(run.containerId);
    }
    await Promise.all(due.map((run) => this.#collect(run)));
    return due.length;
  }

  /** Cancels every pending removal (the agent is stopping). */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#pending.clear();
  }

  async #collect(run: ExecutorRun): Promise<void> {
    const log = this.#options.logger;
    try {
      if (run.ref && this.#options.checkpointer) await this.#options.checkpointer.gc(run.ref);
      else await fs.rm(run.sandbox, { recursive: true, force: true });
      log.info({ frameworkId: run.frameworkId, executorId: run.id, containerId: run.containerId }, 'completed run garbage-collected');
    } catch (error) {
      log.warn({ err: (error as Error).message, containerId: run.containerId }, 'could not garbage-collect a completed run');
    }
  }
}
