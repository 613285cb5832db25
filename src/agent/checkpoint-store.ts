// The durable UpdateStore (DESIGN §5): status updates and the framework's acknowledgements of the
// tasks of checkpointing frameworks go to their `task.updates` logs through the Checkpointer, whose
// group commit makes a whole batch durable with one fdatasync per touched file; the status update
// manager acknowledges to executors only once `append` resolves. Other tasks are not written at all.
import type { LogRecord } from '../checkpoint/records.js';
import type { TaskRef } from '../checkpoint/layout.js';
import type { UpdateRecord, UpdateStore } from './status-update-manager.js';

/** The part of the Checkpointer this store uses. */
export interface RecordAppender {
  appendRecords(entries: ReadonlyArray<{ ref: TaskRef; record: LogRecord }>): Promise<void>;
  /** Per entry: undefined when durable, else its file's error (only the failing file's records are refused). */
  appendRecordsSettled?(entries: ReadonlyArray<{ ref: TaskRef; record: LogRecord }>): Promise<unknown[]>;
}

/**
 * Where a task's stream lives on disk: its TaskRef, a promise of it while its `task.json` is still
 * being written (records wait for it), or undefined when the task is not checkpointed.
 */
export type TaskRefResolver = (frameworkId: string, taskId: string) => TaskRef | Promise<TaskRef | undefined> | undefined;

export class CheckpointUpdateStore implements UpdateStore {
  readonly #appender: RecordAppender;
  readonly #resolve: TaskRefResolver;
  /** Appends that went to disk (batches with at least one checkpointed record). */
  batches = 0;

  constructor(appender: RecordAppender, resolve: TaskRefResolver) {
    if (typeof appender?.appendRecords !== 'function') throw new TypeError(`option appender must have appendRecords(), got ${typeof appender}`);
    if (typeof resolve !== 'function') throw new TypeError(`option resolve must be a function, got ${typeof resolve}`);
    this.#appender = appender;
    this.#resolve = resolve;
  }

  /** Resolves with each record's failure (undefined: durable, or not checkpointed). */
  async append(records: readonly UpdateRecord[]): Promise<unknown[]> {
    const entries: Array<{ ref: TaskRef; record: LogRecord }> = [];
    /** The index in `records` of each entry. */
    const indexes: number[] = [];
    for (const [index, record] of records.entries()) {
      const taskId = record.kind === 'UPDATE' ? record.status.taskId : record.taskId;
      const found = this.#resolve(record.frameworkId, taskId);
      const ref = found instanceof Promise ? await found.catch(() => undefined) : found;
      if (!ref) continue;
      entries.push({ ref, record: record.kind === 'UPDATE' ? { kind: 'UPDATE', status: record.status } : { kind: 'ACK', uuid: record.uuid } });
      indexes.push(index);
    }
    const failures: unknown[] = records.map(() => undefined);
    if (entries.length === 0) return failures;
    this.batches++;
    if (!this.#appender.appendRecordsSettled) {
      await this.#appender.appendRecords(entries);
      return failures;
    }
    const settled = await this.#appender.appendRecordsSettled(entries);
    settled.forEach((failure, entry) => (failures[indexes[entry]!] = failure));
    return failures;
  }
}
