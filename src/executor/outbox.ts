// The executor's durable outbox, `.lifeline/outbox.log` (DESIGN §5, §6): every update is recorded
// (and fdatasync'd) before it is sent, and every acknowledgement after it arrives, so a terminal
// status survives the executor dying while its agent is away: the restarted agent reads it here.
// Updates made in one turn of the event loop share one fdatasync (group commit: pipelined updates
// must not cost one fsync each). ACK records are written lazily, never synced on their own: an ACK
// lost in a crash only makes the agent see that update again, which it deduplicates by uuid.
// A disk that fails (ENOSPC, EIO) loses nothing and acknowledges nothing: the failure is reported
// once per episode, the log is reopened on a backoff (cut back to what it knew was durable) and the
// waiting updates are written again, in order; appendUpdate() resolves only once its update is
// durable, and rejects only when the outbox is closed. Only a log that cannot be opened at all
// (BROKEN) lets updates go out without a durable record (the agent still checkpoints them).
import fsp from 'node:fs/promises';
import type { TaskStatus } from '../protocol/common.js';
import { LifelineError } from '../protocol/errors.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { compactLogFrom, COMPACT_AT_BYTES, KeptRecords } from '../checkpoint/compaction.js';
import { GroupCommitter, RecordLog, encodeRecords, readRecordLog, repairRecordLog, type GroupCommitStats } from '../checkpoint/record-log.js';
import type { LogRecord } from '../checkpoint/records.js';

/**
 * OPENING → OPEN ⇄ FAILING (a write failed: waiting to reopen) → CLOSED; OPEN ⇄ COMPACTING (the log
 * grew past compactAtBytes: rewritten with what is unacknowledged); OPENING → BROKEN when it
 * cannot be opened.
 */
export type OutboxState = 'OPENING' | 'OPEN' | 'COMPACTING' | 'FAILING' | 'BROKEN' | 'CLOSED';

/** @internal The outbox's allowed moves (exported for its lifecycle test). */
export const OUTBOX_TRANSITIONS: Transitions<OutboxState> = {
  OPENING: ['OPEN', 'BROKEN', 'CLOSED'],
  OPEN: ['FAILING', 'COMPACTING', 'CLOSED'],
  COMPACTING: ['OPEN', 'CLOSED'],
  FAILING: ['OPEN', 'CLOSED'],
  BROKEN: ['CLOSED'],
  CLOSED: [],
};

/** First wait before a failed outbox is reopened; doubling up to the max. */
export const OUTBOX_RETRY_MIN_MS = 100;
export const OUTBOX_RETRY_MAX_MS = 5_000;

export interface OutboxOptions {
  /** Called once per episode of failures (the first failed write after the outbox was well). */
  onFailure(error: Error): void;
  /** Open only once this has resolved (its directory is being made). */
  after?: Promise<unknown>;
  /** For tests: the backoff of reopening after a failure. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** The log is compacted (checkpoint/compaction.ts) once it is this big. Default 1 MiB. */
  compactAtBytes?: number;
}

interface Waiting {
  readonly status: TaskStatus;
  resolve(): void;
  reject(error: Error): void;
}

export class Outbox {
  readonly path: string;
  readonly #options: OutboxOptions;
  readonly #committer = new GroupCommitter({ batching: true });
  readonly #opened: Promise<RecordLog | undefined>;
  #log: RecordLog | undefined;
  readonly #machine: StateMachine<OutboxState>;
  /** The last appendUpdate(): they settle in order, so when it has, all have. */
  #last: Promise<void> = Promise.resolve();
  /** Updates handed to the log and not durable yet, in order: what a retry writes again. */
  #waiting: Waiting[] = [];
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs: number;
  #retries = 0;
  /** A failure was reported and no write has succeeded since. */
  #episode = false;
  /** quiet() callers: woken when no write is under way (all durable, or waiting for a retry). */
  #quietWaiters: Array<() => void> = [];
  #compactions = 0;
  #compacting: Promise<void> | undefined;
  /** After a compaction: the size at which to compact again (it must have grown by compactAtBytes). */
  #retryCompactAt: number | undefined;
  /** What a compaction keeps, tracked as updates become durable and ACKs arrive (no read-back). */
  #kept = new KeptRecords();
  #acks: string[] = [];
  #ackFlush: NodeJS.Immediate | undefined;
  #ackWrites: Promise<void> = Promise.resolve();

  /** Opens (creating, durably) the log at `file`; `opened` settles when it is ready. */
  constructor(file: string, options: OutboxOptions) {
    this.path = file;
    this.#options = options;
    this.#retryDelayMs = options.retryMinMs ?? OUTBOX_RETRY_MIN_MS;
    this.#machine = new StateMachine(`outbox ${file}`, 'OPENING', OUTBOX_TRANSITIONS);
    this.#opened = Promise.resolve(options.after)
      .then(() => openLog(file))
      .then(
      ({ log, records }) => {
        if (this.#machine.is('CLOSED')) {
          void log.close();
          return undefined;
        }
        this.#kept = KeptRecords.of(records);
        this.#log = log;
        this.#machine.transition('OPEN');
        return log;
      },
      (error: unknown) => {
        if (this.#machine.is('OPENING')) this.#machine.transition('BROKEN');
        throw error;
      },
    );
    // Whoever starts the executor awaits `opened`; appends only wait for it.
    this.#opened.catch(() => {});
  }

  /** Resolves when the log is open; rejects with the fs error naming the file when it cannot be. */
  get opened(): Promise<void> {
    return this.#opened.then(() => undefined);
  }

  get state(): OutboxState {
    return this.#machine.state;
  }

  /** How many times the log was reopened after a failure (for tests). */
  get retries(): number {
    return this.#retries;
  }

  /** Compactions done (for tests). */
  get compactions(): number {
    return this.#compactions;
  }

  /** fdatasync calls made and records made durable (for tests and benchmarks). */
  get stats(): GroupCommitStats {
    return this.#committer.stats;
  }

  /**
   * Appends `{kind: 'UPDATE', status}`; resolves once the record is durable (after as many
   * retries as the disk needs), or at once when the log could not be opened at all (BROKEN).
   * Rejects only when the outbox is closed first.
   */
  appendUpdate(status: TaskStatus): Promise<void> {
    if (this.#machine.is('CLOSED')) return Promise.reject(closedError());
    const appended = new Promise<void>((resolve, reject) => {
      this.#opened.then(
        (log) => {
          if (!log || this.#machine.is('BROKEN')) return resolve();
          if (this.#machine.is('CLOSED')) return reject(closedError());
          const item: Waiting = { status, resolve, reject };
          this.#waiting.push(item);
          // The log open now (a failure or a compaction reopens it); otherwise it waits for that.
          if (this.#machine.is('OPEN')) this.#write(this.#log!, [item]);
        },
        () => resolve(),
      );
    });
    const last = appended.catch(() => {});
    this.#last = last;
    void last.then(() => {
      if (this.#last === last) this.#wakeQuiet();
    });
    return appended;
  }

  /** Appends `{kind: 'ACK', uuid}` soon, with the other ACKs of this turn, without a sync of its own. */
  appendAck(uuid: string): void {
    if (this.#machine.is('CLOSED', 'BROKEN')) return;
    this.#kept.ack(uuid);
    this.#acks.push(uuid);
    this.#ackFlush ??= setImmediate(() => this.#flushAcks());
  }

  /** Resolves when every update appended so far is durable (or known not to be: BROKEN, CLOSED). */
  flush(): Promise<void> {
    return this.#last;
  }

  /** Resolves when no write is under way: every update is durable, or waits for a retry (FAILING). */
  quiet(): Promise<void> {
    if (this.#machine.is('FAILING', 'BROKEN', 'CLOSED')) return Promise.resolve();
    if (this.#machine.is('COMPACTING')) return this.#compacting!.then(() => this.quiet());
    return new Promise((resolve) => {
      this.#quietWaiters.push(resolve);
      void this.#last.then(() => this.#wakeQuiet());
    });
  }

  /** Writes what is pending (ACKs unsynced), then closes the file; updates not durable yet reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#machine.is('CLOSED')) return;
    await this.#opened.catch(() => {});
    await this.quiet();
    await this.#compacting;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#committer.idle();
    if (this.#ackFlush) {
      clearImmediate(this.#ackFlush);
      this.#flushAcks();
    }
    await this.#ackWrites;
    this.#machine.ensure('CLOSED');
    for (const item of this.#waiting.splice(0)) item.reject(closedError());
    this.#wakeQuiet();
    await this.#log?.close().catch(() => {});
  }

  #write(log: RecordLog, items: Waiting[]): void {
    const records = items.map((item) => ({ kind: 'UPDATE' as const, status: item.status }));
    this.#committer.append(log, records).then(
      () => {
        this.#episode = false;
        this.#retryDelayMs = this.#options.retryMinMs ?? OUTBOX_RETRY_MIN_MS;
        for (const record of records) this.#kept.update(record);
        for (const item of items) {
          const index = this.#waiting.indexOf(item);
          if (index !== -1) this.#waiting.splice(index, 1);
          item.resolve();
        }
        this.#maybeCompact(log);
      },
      (error: unknown) => this.#fail(error),
    );
  }

  #wakeQuiet(): void {
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const waiter of waiters) waiter();
  }

  #flushAcks(): void {
    this.#ackFlush = undefined;
    const uuids = this.#acks;
    this.#acks = [];
    const log = this.#log;
    if (this.#machine.is('COMPACTING')) {
      this.#acks.unshift(...uuids); // written after the compaction
      return;
    }
    if (!log || !this.#machine.is('OPEN') || uuids.length === 0) return;
    const bytes = encodeRecords(uuids.map((uuid) => ({ kind: 'ACK' as const, uuid })));
    // An ACK lost to a failure only makes the agent see its update again (deduplicated by uuid).
    this.#ackWrites = log.appendEncoded(bytes).catch((error: unknown) => this.#fail(error));
  }

  /**
   * Past compactAtBytes and idle (nothing waiting, no ACK write under way): the log is closed,
   * rewritten with the unacknowledged updates and the latest acknowledged ones (an atomic rename:
   * old or new log after a crash), and reopened; updates made meanwhile wait, then go in order.
   */
  #maybeCompact(log: RecordLog): void {
    const threshold = this.#retryCompactAt ?? this.#options.compactAtBytes ?? COMPACT_AT_BYTES;
    if (!this.#machine.is('OPEN') || log !== this.#log || log.size < threshold || this.#waiting.length > 0) return;
    this.#machine.transition('COMPACTING');
    this.#compacting = (async () => {
      await this.#ackWrites;
      await this.#committer.idle();
      await log.close().catch(() => {});
      try {
        // Written from what the outbox knows, not read back: it is the log's one writer, and
        // nothing is waiting, so every update it holds is durable (see KeptRecords).
        const { bytesAfter } = await compactLogFrom(this.path, log.size, this.#kept);
        this.#compactions += 1;
        // Next time once it has grown by compactAtBytes again (what is kept may be big itself).
        this.#retryCompactAt = bytesAfter + (this.#options.compactAtBytes ?? COMPACT_AT_BYTES);
      } catch {
        this.#retryCompactAt = log.size + (this.#options.compactAtBytes ?? COMPACT_AT_BYTES);
      }
      let reopened: RecordLog;
      try {
        reopened = await RecordLog.open(this.path);
      } catch (error) {
        if (!this.#machine.is('COMPACTING')) return;
        this.#machine.transition('OPEN');
        this.#fail(error); // reopened on a backoff, as after any failure
        return;
      }
      if (!this.#machine.is('COMPACTING')) {
        void reopened.close();
        return;
      }
      this.#log = reopened;
      this.#machine.transition('OPEN');
      if (this.#waiting.length > 0) this.#write(reopened, [...this.#waiting]);
      if (this.#acks.length > 0) this.#ackFlush ??= setImmediate(() => this.#flushAcks());
    })().finally(() => (this.#compacting = undefined));
  }

  /** A write failed: FAILING until the log is reopened on a backoff; reported once per episode. */
  #fail(error: unknown): void {
    if (!this.#machine.is('OPEN')) return;
    this.#machine.transition('FAILING');
    this.#wakeQuiet();
    if (!this.#episode) {
      this.#episode = true;
      const cause = error instanceof Error ? error : new Error(String(error));
      this.#options.onFailure(
        Object.assign(new Error(`cannot write the outbox ${this.path}: ${cause.message}; updates wait (and are retried) until it can be written`, { cause }), {
          code: (cause as NodeJS.ErrnoException).code,
        }),
      );
    }
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(delay * 2, this.#options.retryMaxMs ?? OUTBOX_RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#reopen();
    }, delay);
  }

  /** Reopens the log cut back to what it knew was durable, and writes every waiting update again, in order. */
  async #reopen(): Promise<void> {
    const failed = this.#log;
    await this.#committer.idle();
    await this.#ackWrites;
    if (!this.#machine.is('FAILING')) return;
    this.#retries += 1;
    let log: RecordLog;
    try {
      await failed?.close().catch(() => {});
      if (failed) await cutBack(this.path, failed.durableSize);
      log = await RecordLog.open(this.path);
    } catch (error) {
      if (!this.#machine.is('FAILING')) return;
      this.#machine.transition('OPEN'); // so that #fail counts it and backs off again
      this.#fail(error);
      return;
    }
    if (!this.#machine.is('FAILING')) {
      void log.close();
      return;
    }
    this.#log = log;
    this.#machine.transition('OPEN');
    if (this.#waiting.length > 0) this.#write(log, [...this.#waiting]);
  }
}

function closedError(): LifelineError {
  return new LifelineError('ERR_DRIVER_STOPPED', 'the outbox was closed before the update was durable');
}

/** Truncates `file` to `length` if it is longer (durably); a missing file is fine. */
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

/**
 * Opens the log for appending. A log left by an earlier writer that ends in a torn (or damaged)
 * record is cut back to its intact records first, so that what we append stays readable.
 */
async function openLog(file: string): Promise<{ log: RecordLog; records: readonly LogRecord[] }> {
  let size = 0;
  try {
    size = (await fsp.stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let records: readonly LogRecord[] = [];
  if (size > 0) {
    const contents = await readRecordLog(file, { strict: false });
    records = contents.records;
    if (contents.validBytes < size) await repairRecordLog(file, contents.validBytes);
  }
  return { log: await RecordLog.open(file), records };
}
