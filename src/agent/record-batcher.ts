// Group commit on the status update manager's side (DESIGN §5): the records handed in during one
// turn of the event loop go to the UpdateStore as one `append`, one batch at a time, so that a
// durable store can share its fsyncs and records become durable in arrival order. A record the
// disk refused (a DiskError, code ERR_DISK) stalls its stream at once, before the next batch: the
// stream's later UPDATEs are then refused with WAITING, to wait for the stream's own retry.
import { LifelineError } from '../protocol/index.js';
import type { Logger } from '../log.js';
import type { UpdateRecord, UpdateStore } from './update-store.js';

/** The part of a task stream the batcher reads and sets: while stalled, its UPDATEs wait. */
export interface Stallable {
  stalled: boolean;
}

interface Pending {
  readonly record: UpdateRecord;
  readonly stream?: Stallable;
  resolve(): void;
  reject(error: unknown): void;
}

/** A record that can be tried again: the disk refused it (checkpoint/disk-health.ts DiskError). */
export function isDiskError(error: unknown): boolean {
  return error instanceof LifelineError && error.code === 'ERR_DISK';
}

/** What a stalled stream's later records get in its place: they wait for the stream's retry. */
const WAITING = new LifelineError('ERR_DISK', 'waiting for the retry of an earlier record of its stream');

export class RecordBatcher {
  readonly #store: UpdateStore;
  readonly #logger: Logger;
  #batch: Pending[] = [];
  #flushScheduled = false;
  #flushing = false;

  constructor(store: UpdateStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Adds a record to the batch of this turn of the event loop; resolves when the batch is durable. */
  record(record: UpdateRecord, stream?: Stallable): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ record, ...(stream ? { stream } : {}), resolve, reject });
      this.#scheduleFlush();
    });
  }

  /** Resolves once every record handed to the store so far has been appended (or has failed). */
  async idle(): Promise<void> {
    while (this.#flushing || this.#flushScheduled || this.#batch.length > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#flushing) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** One append per batch, one batch at a time, so that records become durable in arrival order. */
  async #flush(): Promise<void> {
    const all = this.#batch;
    this.#batch = [];
    // The UPDATEs of a stream stalled since they were handed in wait for its retry, in order.
    const batch: Pending[] = [];
    for (const pending of all) {
      if (pending.stream?.stalled && pending.record.kind === 'UPDATE') pending.reject(WAITING);
      else batch.push(pending);
    }
    if (batch.length === 0) return;
    this.#flushing = true;
    try {
      const failures = await this.#store.append(batch.map((pending) => pending.record));
      batch.forEach((pending, index) => {
        const failure = failures?.[index];
        if (failure === undefined) pending.resolve();
        else this.#refused(pending, failure);
      });
    } catch (error) {
      for (const pending of batch) this.#refused(pending, error);
    } finally {
      this.#flushing = false;
      if (this.#batch.length > 0) this.#scheduleFlush();
    }
  }

  /** A record the store refused. Its stream stalls at once (before the next batch) when the disk refused an UPDATE. */
  #refused(pending: Pending, error: unknown): void {
    if (isDiskError(error)) {
      if (pending.stream && pending.record.kind === 'UPDATE') pending.stream.stalled = true;
      this.#logger.debug({ err: (error as Error).message, kind: pending.record.kind }, 'status update record refused by the disk: retried on a backoff');
    } else {
      this.#logger.error({ err: error }, 'could not record a status update');
    }
    pending.reject(error);
  }
}
