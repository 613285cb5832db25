// Durability before acknowledgement without one fsync per update (DESIGN §5, group commit): the
// appends of one event-loop turn, to any number of record logs, share one fdatasync per file.
import { InvalidOptionError } from '../protocol/errors.js';
import { encodeRecords } from './record-frame.js';
import type { RecordLog } from './record-log.js';
import type { LogRecord } from './records.js';

export interface GroupCommitterOptions {
  /**
   * true (default): gather the appends of one event-loop turn, write them, fdatasync each touched
   * file once, then resolve them. false: write and fdatasync every append on its own (the slow
   * baseline that the benchmark compares against).
   */
  batching?: boolean;
}

export interface GroupCommitStats {
  /** Batches committed (with batching: false, one per append). */
  batches: number;
  /** fdatasync calls made. */
  syncs: number;
  /** Records made durable. */
  records: number;
  /** Records written without a sync of their own (`append(…, {sync: false})`): durable with their file's next sync. */
  unsynced: number;
}

export interface AppendOptions {
  /**
   * true (default): resolve once the records are durable. false: resolve once they are written (in
   * the page cache, so they survive the death of the process, not of the host), and let the file's
   * next fdatasync cover them. For records whose loss in a host crash only repeats work, such as
   * the agent's ACK records: a lost ACK makes the restarted agent send that update once more.
   */
  sync?: boolean;
}

/**
 * Told of every fdatasync and every committed batch, for metrics (the agent's histograms). Called
 * synchronously; must not throw. Process-wide (see GroupCommitter.observe), so the checkpoint's
 * own modules need no wiring for it.
 */
export interface GroupCommitObserver {
  /** One fdatasync took this long (seconds), whether it succeeded or not. */
  synced(seconds: number): void;
  /** One batch made this many records durable. */
  committed(records: number): void;
}

const observers = new Set<GroupCommitObserver>();

function timed(sync: Promise<void>): Promise<void> {
  if (observers.size === 0) return sync;
  const start = performance.now();
  const report = () => {
    const seconds = (performance.now() - start) / 1000;
    for (const observer of observers) observer.synced(seconds);
  };
  sync.then(report, report);
  return sync;
}

function committed(records: number): void {
  if (records > 0) for (const observer of observers) observer.committed(records);
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Pending {
  chunks: Buffer[];
  records: number;
  waiters: Waiter[];
  /** Some append of the batch wants its records durable: the file is synced. */
  sync: boolean;
}

/**
 * Durability before acknowledgement, without one fsync per update (DESIGN §5, group commit).
 * `append()` resolves once the records are durable. Appends made while a batch is being committed
 * form the next batch, which starts when the current one ends: under load batches grow instead of
 * fsyncs piling up. A failing file rejects only the appends made to it.
 */
export class GroupCommitter {
  #batching: boolean;
  #pending = new Map<RecordLog, Pending>();
  #scheduled = false;
  #inFlight: Promise<void> | undefined;
  #stats: GroupCommitStats = { batches: 0, syncs: 0, records: 0, unsynced: 0 };

  constructor({ batching = true }: GroupCommitterOptions = {}) {
    if (typeof batching !== 'boolean') throw new InvalidOptionError('batching', batching, 'a boolean');
    this.#batching = batching;
  }

  /** Reports every group committer's syncs and batches to `observer` until the returned function is called. */
  static observe(observer: GroupCommitObserver): () => void {
    observers.add(observer);
    return () => observers.delete(observer);
  }

  get stats(): GroupCommitStats {
    return { ...this.#stats };
  }

  /** Appends records to `log`; resolves when they are durable (written only, with `sync: false`). */
  append(log: RecordLog, records: LogRecord | readonly LogRecord[], options: AppendOptions = {}): Promise<void> {
    const list: readonly LogRecord[] = Array.isArray(records) ? records : [records as LogRecord];
    let bytes: Buffer;
    try {
      bytes = encodeRecords(list);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.appendEncoded(log, [bytes], list.length, options);
  }

  /**
   * `append()` of records already checked and framed (by `encodeRecords()` or
   * `encodeCheckedRecord()`), written in the order given: `records` is how many the chunks hold.
   * They join the batch's other chunks for the file, copied once when it is written.
   */
  appendEncoded(log: RecordLog, chunks: readonly Buffer[], records: number, { sync = true }: AppendOptions = {}): Promise<void> {
    if (!this.#batching) return this.#appendAlone(log, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), records, sync);
    return new Promise<void>((resolve, reject) => {
      let pending = this.#pending.get(log);
      if (!pending) {
        pending = { chunks: [], records: 0, waiters: [], sync: false };
        this.#pending.set(log, pending);
      }
      pending.sync ||= sync;
      pending.chunks.push(...chunks);
      pending.records += records;
      pending.waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when every append made so far has been committed (or has failed). */
  async idle(): Promise<void> {
    while (this.#inFlight || this.#scheduled || this.#pending.size > 0) {
      await (this.#inFlight ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  // The write and its fdatasync are queued on the log together, at call time, so that appends
  // made one after the other land in call order, each synced on its own.
  async #appendAlone(log: RecordLog, bytes: Buffer, records: number, sync: boolean): Promise<void> {
    this.#stats.batches += 1;
    const written = log.appendEncoded(bytes);
    if (!sync) {
      await written;
      this.#stats.unsynced += records;
      return;
    }
    const synced = timed(log.sync());
    synced.catch(() => {}); // a failed write fails the sync too; the write's error is the one reported
    await written;
    this.#stats.syncs += 1;
    await synced;
    this.#stats.records += records;
    committed(records);
  }

  // setImmediate runs after the I/O callbacks of the current loop turn: every message that arrived
  // in this turn has made its append by then.
  #schedule(): void {
    if (this.#scheduled || this.#inFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const batch = this.#pending;
      this.#pending = new Map();
      this.#inFlight = this.#commit(batch).finally(() => {
        this.#inFlight = undefined;
        if (this.#pending.size > 0) this.#schedule();
      });
    });
  }

  async #commit(batch: Map<RecordLog, Pending>): Promise<void> {
    this.#stats.batches += 1;
    const entries = [...batch];
    const failures = new Map<RecordLog, unknown>();
    const written = await Promise.allSettled(
      entries.map(([log, pending]) => log.appendEncoded(pending.chunks.length === 1 ? pending.chunks[0]! : Buffer.concat(pending.chunks))),
    );
    written.forEach((result, index) => {
      if (result.status === 'rejected') failures.set(entries[index]![0], result.reason);
    });
    // Written is all that unsynced appends wait for: they go on while the others' syncs run.
    for (const [log, pending] of entries) if (!pending.sync && !failures.has(log)) this.#resolve(pending);
    const toSync = entries.filter(([log, pending]) => pending.sync && !failures.has(log));
    this.#stats.syncs += toSync.length;
    const synced = await Promise.allSettled(toSync.map(([log]) => timed(log.sync())));
    synced.forEach((result, index) => {
      if (result.status === 'rejected') failures.set(toSync[index]![0], result.reason);
    });
    let durable = 0;
    for (const [log, pending] of entries) if (pending.sync && !failures.has(log)) durable += pending.records;
    committed(durable);
    for (const [log, pending] of entries) {
      if (failures.has(log)) for (const waiter of pending.waiters) waiter.reject(failures.get(log));
      else if (pending.sync) this.#resolve(pending);
    }
  }

  #resolve(pending: Pending): void {
    if (pending.sync) this.#stats.records += pending.records;
    else this.#stats.unsynced += pending.records;
    for (const waiter of pending.waiters) waiter.resolve();
  }
}
