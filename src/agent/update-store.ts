// What the status update manager records, and the seam to where it goes (DESIGN §5): an update or
// the framework's acknowledgement of one, handed to an UpdateStore in batches. The durable store
// is checkpoint-store.ts; the in-memory one here is the skeleton's, and the tests'.
import type { TaskStatus } from '../protocol/index.js';

/** A status as it leaves the node: the agent has filled in its own ID and the executor's. */
export type ForwardedStatus = TaskStatus & { agentId: string; executorId: string };
/** Where a recovered stream's updates come from: they leave the node stamped with it. */
export interface StatusOrigin {
  agentId: string;
  executorId: string;
}

export interface StatusUpdate {
  readonly frameworkId: string;
  readonly status: ForwardedStatus;
}

/** What a store records: an update, or the master's acknowledgement of one. */
export type UpdateRecord =
  | { readonly kind: 'UPDATE'; readonly frameworkId: string; readonly status: ForwardedStatus }
  | { readonly kind: 'ACK'; readonly frameworkId: string; readonly taskId: string; readonly uuid: string };

/**
 * Where records go before anything is acknowledged. `append` resolves once they are durable; it
 * may instead resolve with one entry per record: undefined (durable) or that record's error, so
 * that a failing file refuses only its own records. An error with code ERR_DISK is retried.
 */
export interface UpdateStore {
  append(records: readonly UpdateRecord[]): Promise<void | readonly unknown[]>;
}

/** The skeleton's store: records kept in memory (lost with the agent). */
export class MemoryUpdateStore implements UpdateStore {
  readonly records: UpdateRecord[] = [];
  /** How many `append` calls there were (one per batch). */
  batches = 0;

  async append(records: readonly UpdateRecord[]): Promise<void> {
    this.batches++;
    this.records.push(...records);
  }
}
