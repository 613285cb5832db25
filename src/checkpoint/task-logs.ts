// The agent's open task.updates files: one RecordLog per task, opened on first use, at most
// `maxOpenLogs` kept open (least recently used idle ones are closed, and reopened on the next
// append), every append made durable through one GroupCommitter. ACK records are only written:
// the file's next sync covers them (an ACK lost in a host crash makes the restarted agent send
// that update once more, docs/decisions.md), so a framework's acknowledgement costs no fdatasync
// of its own. A log whose append or fsync fails is closed and its file refused for a backoff
// (disk-health.ts), then reopened cut back to what it knew was durable, and counted well again
// once its first append since is synced: a full disk costs no more than one attempt per file and
// backoff.
import fsp from 'node:fs/promises';
import { IllegalStateError } from '../protocol/index.js';
import { compactLog, compactLogFrom, COMPACT_AT_BYTES, KEEP_ACKED, KeptRecords } from './compaction.js';
import { DiskError, DiskHealth } from './disk-health.js';
import { encodeRecords } from './record-frame.js';
import { repairRecordLog } from './record-log-read.js';
import { runDir, taskUpdatesPath, type TaskRef } from './layout.js';
import { GroupCommitter, type GroupCommitStats } from './group-commit.js';
import { RecordLog } from './record-log.js';
import type { LogRecord } from './records.js';

/** One task.updates file, open (or opening) for appending. */
interface LogEntry {
  file: string;
  /** runDir of the task's run: markCompleted and gc close a run's logs. */
  run: string;
  opening: Promise<RecordLog>;
  log?: RecordLog;
  /** Appends using it right now: an entry is only closed when idle. */
  users: number;
  closeWhenIdle: boolean;
  /** Grown past compactAtBytes: compacted once idle. */
  compact?: boolean;
  /**
   * What a compaction keeps of the file, tracked as its records become durable: known when the log
   * was opened empty or was compacted by us, so that compacting writes it instead of reading the
   * file back. Dropped when an append fails (the file may then hold less, or more, than it saw).
   */
  kept?: KeptRecords;
}

/** The records of one call for one task. */
export interface TaskRecords {
  ref: TaskRef;
  records: LogRecord[];
  /**
   * The task's task.updates path, when the caller has already made it: making one checks and
   * joins every ID (layout.ts), and the update path made it three times per group.
   */
  file?: string;
  /**
   * Each record framed (`encodeCheckedRecord()`), when the caller has checked them already: they
   * are then not checked a second time on their way to the file.
   */
  frames?: Buffer[];
}

export class TaskLogs {
  readonly #workDir: string;
  readonly #batching: boolean;
  readonly #maxOpenLogs: number;
  readonly #committer: GroupCommitter;
  /** task.updates path → entry, least recently used first. */
  readonly #logs = new Map<string, LogEntry>();
  readonly #closing = new Set<Promise<void>>();
  readonly #health: DiskHealth;
  /** Failed logs already reported to #health (one report per failure, however many appends it failed). */
  readonly #reported = new WeakSet<LogEntry>();

  /** Options are validated by the Checkpointer. */
  readonly #compactAt: number;
  readonly #keepAcked: number;
  #compactions = 0;
  #compactionsFromMemory = 0;
  /** After a compaction: the size at which to compact again (grown by compactAtBytes: never spins). */
  readonly #retryCompactAt = new Map<string, number>();

  constructor(
    workDir: string,
    {
      batching,
      maxOpenLogs,
      health = new DiskHealth(),
      compactAtBytes = COMPACT_AT_BYTES,
      keepAcked = KEEP_ACKED,
    }: { batching: boolean; maxOpenLogs: number; health?: DiskHealth; compactAtBytes?: number; keepAcked?: number },
  ) {
    this.#compactAt = compactAtBytes;
    this.#keepAcked = keepAcked;
    this.#workDir = workDir;
    this.#batching = batching;
    this.#maxOpenLogs = maxOpenLogs;
    this.#committer = new GroupCommitter({ batching });
    this.#health = health;
  }

  get health(): DiskHealth {
    return this.#health;
  }

  /** Compactions done so far. */
  get compactions(): number {
    return this.#compactions;
  }

  /** Of those, the ones written from the log's KeptRecords, without reading the file. */
  get compactionsFromMemory(): number {
    return this.#compactionsFromMemory;
  }

  get stats(): GroupCommitStats {
    return this.#committer.stats;
  }

  /** task.updates files open (or opening) right now. */
  get openLogs(): number {
    return this.#logs.size;
  }

  /** Opens the task's log (creating the file if it is missing) and leaves it open. */
  async open(ref: TaskRef): Promise<void> {
    const entry = this.#acquire(ref);
    try {
      await entry.opening;
    } finally {
      this.#release(entry);
    }
  }

  /** Appends each group to its task's log; resolves once every UPDATE is durable and every ACK written. */
  append(groups: TaskRecords[]): Promise<void> {
    return this.appendSettled(groups).then((results) => {
      const failed = results.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  /**
   * Appends each group to its task's log; says for each group whether its records are durable. A
   * failing file refuses only its own groups (a DiskError), at once while it waits out its backoff.
   */
  appendSettled(groups: TaskRecords[]): Promise<PromiseSettledResult<void>[]> {
    return this.#batching ? Promise.allSettled(this.#appendBatched(groups)) : this.#appendOneByOne(groups);
  }

  /** Resolves when every append handed to the committer so far has been committed (or has failed). */
  idle(): Promise<void> {
    return this.#committer.idle();
  }

  /** Closes every log (callers first let their appends settle), and waits for them to close. */
  async closeAll(): Promise<void> {
    for (const entry of [...this.#logs.values()]) this.#evict(entry);
    await this.closed();
  }

  /** Resolves when every log being closed now is closed. */
  async closed(): Promise<void> {
    await Promise.all([...this.#closing]);
  }

  /** Closes `file`'s log before it is repaired; refuses while records are being appended to it. */
  async closeLog(file: string): Promise<void> {
    const entry = this.#logs.get(file);
    if (!entry) return;
    if (entry.users > 0) throw new IllegalStateError(`cannot repair ${file} while records are being appended to it`);
    this.#evict(entry);
    await this.closed();
  }

  /** Closes the logs of the run at `run` (its runDir), each once it is idle. */
  async closeRun(run: string): Promise<void> {
    for (const entry of [...this.#logs.values()]) {
      if (entry.run !== run) continue;
      if (entry.users === 0) this.#evict(entry);
      else entry.closeWhenIdle = true;
    }
    await this.closed();
  }

  // Appends are handed to the committer synchronously when the logs are open, so that every
  // record of this turn lands in the same batch.
  #appendBatched(groups: TaskRecords[]): Array<Promise<void>> {
    return groups.map((group) => {
      const { ref, records, file = taskUpdatesPath(this.#workDir, ref) } = group;
      const refusal = this.#health.refusal(file);
      if (refusal) return Promise.reject(refusal);
      let frames: Buffer[];
      try {
        frames = framesOf(group);
      } catch (error) {
        return Promise.reject(error); // an invalid record: nothing written
      }
      // A file that failed is declared well only once an append to it is durable: its first
      // append after the backoff is synced, even one of ACKs alone.
      const reopening = this.#health.reopenLength(file) !== undefined;
      const entry = this.#acquire(ref, file);
      const options = { sync: reopening || records.some(wantsSync) };
      const commit = (log: RecordLog) => this.#committer.appendEncoded(log, frames, records.length, options);
      const appended = entry.log ? commit(entry.log) : entry.opening.then(commit);
      return this.#settle(entry, records, appended);
    });
  }

  // The baseline: every record appended and fdatasync'd on its own, in order.
  async #appendOneByOne(groups: TaskRecords[]): Promise<PromiseSettledResult<void>[]> {
    const results: PromiseSettledResult<void>[] = [];
    for (const group of groups) {
      const { ref, records, file = taskUpdatesPath(this.#workDir, ref) } = group;
      const refusal = this.#health.refusal(file);
      if (refusal) {
        results.push({ status: 'rejected', reason: refusal });
        continue;
      }
      let frames: Buffer[];
      try {
        frames = framesOf(group);
      } catch (error) {
        results.push({ status: 'rejected', reason: error }); // an invalid record: nothing written
        continue;
      }
      const reopening = this.#health.reopenLength(file) !== undefined;
      const entry = this.#acquire(ref, file);
      // Queued together (each written and synced on its own): a later call cannot cut in.
      const appended = entry.opening
        .then((log) =>
          Promise.all(
            records.map((record, index) => this.#committer.appendEncoded(log, [frames[index]!], 1, { sync: reopening || wantsSync(record) })),
          ),
        )
        .then(() => undefined);
      const [result] = await Promise.allSettled([this.#settle(entry, records, appended)]);
      results.push(result!);
    }
    return results;
  }

  /** Releases the entry once its append settled; a disk failure closes the log and starts its backoff. */
  #settle(entry: LogEntry, records: readonly LogRecord[], appended: Promise<void>): Promise<void> {
    return appended.then(
      () => {
        // Appends to one log settle in the order they were made (the committer's batches and waiters are in order).
        if (entry.kept) for (const record of records) keep(entry.kept, record);
        if (entry.log && entry.log.size >= (this.#retryCompactAt.get(entry.file) ?? this.#compactAt)) entry.compact = true;
        this.#release(entry);
        if (this.#health.reopenLength(entry.file) !== undefined) this.#health.recovered(entry.file);
      },
      (error: unknown) => {
        entry.kept = undefined; // read back at the next compaction
        const log = entry.log;
        // Not a disk failure (a record refused before anything was written): the log is fine.
        if (log && log.state === 'OPEN') {
          this.#release(entry);
          throw error;
        }
        if (!this.#reported.has(entry)) {
          this.#reported.add(entry);
          // A log that could not even be opened changed nothing: nothing to cut back (Infinity).
          this.#health.failed(entry.file, error, log?.durableSize ?? Number.POSITIVE_INFINITY);
          this.#evict(entry);
        }
        this.#release(entry);
        throw error instanceof DiskError ? error : new DiskError(entry.file, (error as Error)?.message ?? String(error), { cause: error });
      },
    );
  }

  #acquire(ref: TaskRef, file = taskUpdatesPath(this.#workDir, ref)): LogEntry {
    let entry = this.#logs.get(file);
    if (entry) {
      this.#logs.delete(file); // re-inserted below: most recently used last
      entry.closeWhenIdle = false;
    } else {
      const reopenAt = this.#health.reopenLength(file);
      // After a failure: cut the file back to what it knew was durable (an fsync that failed says nothing of its bytes).
      const opening = reopenAt === undefined || !Number.isFinite(reopenAt) ? RecordLog.open(file) : cutBack(file, reopenAt).then(() => RecordLog.open(file));
      const created: LogEntry = { file, run: runDir(this.#workDir, ref), opening, users: 0, closeWhenIdle: false };
      created.opening.then(
        (log) => {
          created.log = log;
          if (log.size === 0) created.kept = new KeptRecords(this.#keepAcked);
        },
        () => {
          if (this.#logs.get(file) === created) this.#logs.delete(file);
        },
      );
      entry = created;
    }
    this.#logs.set(file, entry);
    entry.users += 1;
    return entry;
  }

  #release(entry: LogEntry): void {
    entry.users -= 1;
    if (entry.users > 0) return;
    if (entry.closeWhenIdle) this.#evict(entry);
    else if (entry.compact && entry.log && this.#logs.get(entry.file) === entry) this.#compact(entry, entry.log);
    // Over the cap: close the least recently used idle logs.
    if (this.#logs.size > this.#maxOpenLogs) {
      for (const candidate of [...this.#logs.values()]) {
        if (this.#logs.size <= this.#maxOpenLogs) break;
        if (candidate.users === 0) this.#evict(candidate);
      }
    }
  }

  /**
   * Idle (nothing of it with the committer): its writer is closed, the file compacted (compaction.ts:
   * old or new log after a crash, never neither), and reopened; appends meanwhile wait for that.
   * A compaction that fails (a full disk, damage) leaves the log as it was.
   */
  #compact(entry: LogEntry, log: RecordLog): void {
    entry.compact = false;
    entry.log = undefined;
    const opening = (async () => {
      await log.close();
      try {
        let bytesAfter: number;
        if (entry.kept) {
          ({ bytesAfter } = await compactLogFrom(entry.file, log.size, entry.kept));
          this.#compactionsFromMemory += 1;
        } else {
          const compacted = await compactLog(entry.file, this.#keepAcked);
          bytesAfter = compacted.bytesAfter;
          entry.kept = compacted.kept;
        }
        this.#compactions += 1;
        // Next time once it has grown by compactAtBytes again (what is kept may be big itself).
        this.#retryCompactAt.set(entry.file, bytesAfter + this.#compactAt);
      } catch {
        // kept as it was: tried again once it has grown by as much again
        this.#retryCompactAt.set(entry.file, log.size + this.#compactAt);
      }
      return RecordLog.open(entry.file);
    })();
    entry.opening = opening;
    opening.then(
      (reopened) => {
        if (entry.opening === opening) entry.log = reopened;
      },
      () => {
        if (this.#logs.get(entry.file) === entry) this.#logs.delete(entry.file);
      },
    );
  }

  #evict(entry: LogEntry): void {
    if (this.#logs.get(entry.file) === entry) this.#logs.delete(entry.file);
    const closing = entry.opening.then(
      (log) => log.close(),
      () => {},
    );
    const tracked = closing.catch(() => {}).finally(() => this.#closing.delete(tracked));
    this.#closing.add(tracked);
  }
}

/** A group's records framed, one buffer each: the caller's frames, or made (and checked) here. */
function framesOf({ records, frames }: TaskRecords): Buffer[] {
  return frames ?? records.map((record) => encodeRecords([record]));
}

/** UPDATE records are acknowledged to their executor once durable; an ACK record needs no sync of its own. */
function wantsSync(record: LogRecord): boolean {
  return record.kind === 'UPDATE';
}

function keep(kept: KeptRecords, record: LogRecord): void {
  if (record.kind === 'UPDATE') kept.update(record);
  else kept.ack(record.uuid);
}

/** Truncates `file` to `length` if it is longer (and makes that durable); a missing file is fine. */
async function cutBack(file: string, length: number): Promise<void> {
  let size: number;
  try {
    size = (await fsp.stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (size > length) await repairRecordLog(file, length);
}
