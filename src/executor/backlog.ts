// What the agent has not acknowledged yet: updates (in the order they were made) and tasks launched
// with no update acknowledged. Every SUBSCRIBE carries both, so an agent that lost them gets them
// back. The durable outbox (.lifeline/outbox.log) records the same updates and acknowledgements;
// an update leaves this process only once its record is durable, so each entry says whether it is.
import type { TaskInfo, TaskStatus } from '../protocol/common.js';

/**
 * The backlog's bound: past it, `update()` waits (its update is not made yet, in call order) until
 * an acknowledgement makes room. Nothing is dropped; the outbox and every SUBSCRIBE stay bounded.
 */
export const BACKLOG_MAX_UPDATES = 10_000;
export const BACKLOG_MAX_BYTES = 16 * 1024 * 1024;

/** An update's size, roughly (a status is ~200 bytes of msgpack besides its message and data). */
function approximateBytes(status: TaskStatus): number {
  return 200 + (status.message?.length ?? 0) + (status.data?.byteLength ?? 0);
}

/** One unacknowledged update: its place in the order of updates, and whether the outbox holds it durably. */
export interface BacklogEntry {
  readonly status: TaskStatus;
  /** 1, 2, 3, … in the order the updates were made. */
  readonly seq: number;
  /** Its UPDATE record is durable in the outbox (or the outbox is unusable): it may be sent. */
  durable: boolean;
}

export class Backlog {
  // Maps keep insertion order: the order updates were made in is the order they are resent in.
  readonly #updates = new Map<string, BacklogEntry>();
  readonly #tasks = new Map<string, TaskInfo>();
  #seq = 0;
  #bytes = 0;

  /** A task the agent launched; it stays here until one of its updates is acknowledged. */
  addTask(task: TaskInfo): void {
    if (!this.#tasks.has(task.taskId)) this.#tasks.set(task.taskId, task);
  }

  addUpdate(status: TaskStatus): BacklogEntry {
    const entry: BacklogEntry = { status, seq: ++this.#seq, durable: false };
    this.#updates.set(status.uuid, entry);
    this.#bytes += approximateBytes(status);
    return entry;
  }

  hasUpdate(uuid: string): boolean {
    return this.#updates.has(uuid);
  }

  /**
   * The agent acknowledged update `uuid`: it is no longer resent, and its task is known to the agent.
   * Returns false for an update that is not pending (acknowledged before, or never made here).
   */
  acknowledge(uuid: string): boolean {
    const entry = this.#updates.get(uuid);
    if (!entry) return false;
    this.#updates.delete(uuid);
    this.#bytes -= approximateBytes(entry.status);
    this.#tasks.delete(entry.status.taskId);
    return true;
  }

  /** Unacknowledged updates, oldest first, with their order and durability. */
  entries(): IterableIterator<BacklogEntry> {
    return this.#updates.values();
  }

  /** Unacknowledged updates, oldest first. */
  updates(): TaskStatus[] {
    return [...this.#updates.values()].map((entry) => entry.status);
  }

  /**
   * The unacknowledged updates that may be sent now: oldest first, up to the first one that is not
   * durable yet (what comes after it waits, so that the agent always sees them in order).
   */
  durableUpdates(): BacklogEntry[] {
    const durable: BacklogEntry[] = [];
    for (const entry of this.#updates.values()) {
      if (!entry.durable) break;
      durable.push(entry);
    }
    return durable;
  }

  /** Unacknowledged tasks, in launch order. */
  tasks(): TaskInfo[] {
    return [...this.#tasks.values()];
  }

  get size(): number {
    return this.#updates.size;
  }

  /** Bytes of the unacknowledged updates, roughly. */
  get bytes(): number {
    return this.#bytes;
  }

  /** No room for another update of `status`'s size (an empty backlog always has room). */
  isFull(status: TaskStatus, maxUpdates = BACKLOG_MAX_UPDATES, maxBytes = BACKLOG_MAX_BYTES): boolean {
    if (this.#updates.size === 0) return false;
    return this.#updates.size >= maxUpdates || this.#bytes + approximateBytes(status) > maxBytes;
  }
}
