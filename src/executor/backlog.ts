// What the agent has not acknowledged yet: updates (in the order they were made) and tasks launched
// with no update acknowledged. Every SUBSCRIBE carries both, so an agent that lost them gets them
// back. In memory here; the durable outbox (.lifeline/outbox.log) records the same operations.
import type { TaskInfo, TaskStatus } from '../protocol/index.js';

export class Backlog {
  // Maps keep insertion order: the order updates were made in is the order they are resent in.
  readonly #updates = new Map<string, TaskStatus>();
  readonly #tasks = new Map<string, TaskInfo>();

  /** A task the agent launched; it stays here until one of its updates is acknowledged. */
  addTask(task: TaskInfo): void {
    if (!this.#tasks.has(task.taskId)) this.#tasks.set(task.taskId, task);
  }

  addUpdate(status: TaskStatus): void {
    this.#updates.set(status.uuid, status);
  }

  hasUpdate(uuid: string): boolean {
    return this.#updates.has(uuid);
  }

  /**
   * The agent acknowledged update `uuid`: it is no longer resent, and its task is known to the agent.
   * Returns false for an update that is not pending (acknowledged before, or never made here).
   */
  acknowledge(uuid: string): boolean {
    const status = this.#updates.get(uuid);
    if (!status) return false;
    this.#updates.delete(uuid);
    this.#tasks.delete(status.taskId);
    return true;
  }

  /** Unacknowledged updates, oldest first. */
  updates(): TaskStatus[] {
    return [...this.#updates.values()];
  }

  /** Unacknowledged tasks, in launch order. */
  tasks(): TaskInfo[] {
    return [...this.#tasks.values()];
  }

  get size(): number {
    return this.#updates.size;
  }
}
