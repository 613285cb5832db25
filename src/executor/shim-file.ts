// `.lifeline/shim.json` (DESIGN §5): the executor's identity (pid + start time) and its tasks'
// process groups, written atomically by the executor itself and rewritten whenever the task list
// changes, so that a restarted agent can tell whether this executor still lives and, if it does
// not, kill what it left behind. Writes are serialised and coalesced: changes made while a write
// is under way go out together in the next one, and each caller learns when its change is durable.
import { writeJsonAtomic } from '../checkpoint/atomic-write.js';
import type { ShimInfo, ShimTask } from '../checkpoint/shim-info.js';

export type ShimIdentity = Omit<ShimInfo, 'tasks'>;

export class ShimFile {
  readonly path: string;
  readonly #identity: ShimIdentity;
  readonly #tasks = new Map<string, ShimTask>();
  /** The write under way (never rejects). */
  #current: Promise<void> = Promise.resolve();
  /** A write queued behind it that has not taken its snapshot yet: new changes join it. */
  #queued: Promise<void> | undefined;

  constructor(file: string, identity: ShimIdentity) {
    this.path = file;
    this.#identity = { ...identity };
  }

  /** The tasks as recorded (or about to be). */
  get tasks(): ShimTask[] {
    return [...this.#tasks.values()];
  }

  /** Records a task's process group; resolves once shim.json holding it is durable. */
  setTask(task: ShimTask): Promise<void> {
    this.#tasks.set(task.taskId, { taskId: task.taskId, pgid: task.pgid, startTime: task.startTime });
    return this.write();
  }

  /** Forgets a task (its process group is gone); resolves once that is durable. */
  deleteTask(taskId: string): Promise<void> {
    if (!this.#tasks.delete(taskId)) return this.#queued ?? this.#current;
    return this.write();
  }

  /** Writes the current contents atomically and durably (after any write under way). */
  write(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued = this.#current.then(() => {
      this.#queued = undefined;
      return writeJsonAtomic(this.path, this.#snapshot());
    });
    this.#queued = queued;
    this.#current = queued.catch(() => {});
    return queued;
  }

  /** Resolves when no write is under way or queued (so no temp file is left behind). */
  async idle(): Promise<void> {
    while (this.#queued) await this.#current;
    await this.#current;
  }

  #snapshot(): ShimInfo {
    return { ...this.#identity, tasks: this.tasks };
  }
}
