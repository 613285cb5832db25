// The executor's durable outbox, `.lifeline/outbox.log` (DESIGN §5, §6): every update is recorded
// (and fdatasync'd) before it is sent, and every acknowledgement after it arrives, so a terminal
// status survives the executor dying while its agent is away: the restarted agent reads it here.
// Updates made in one turn of the event loop share one fdatasync (group commit: pipelined updates
// must not cost one fsync each). ACK records are written lazily, never synced on their own: an ACK
// lost in a crash only makes the agent see that update again, which it deduplicates by uuid.
// A disk that fails (ENOSPC, EIO) must not silence the executor: the failure is reported once and
// updates then go out without the durable record (the agent still checkpoints them).
import fsp from 'node:fs/promises';
import type { TaskStatus } from '../protocol/common.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { GroupCommitter, RecordLog, encodeRecords, readRecordLog, repairRecordLog, type GroupCommitStats } from '../checkpoint/record-log.js';

/** OPENING → OPEN → (BROKEN, once a write fails →) CLOSED; OPENING → BROKEN when it cannot be opened. */
export type OutboxState = 'OPENING' | 'OPEN' | 'BROKEN' | 'CLOSED';

/** @internal The outbox's allowed moves (exported for its lifecycle test). */
export const OUTBOX_TRANSITIONS: Transitions<OutboxState> = {
  OPENING: ['OPEN', 'BROKEN', 'CLOSED'],
  OPEN: ['BROKEN', 'CLOSED'],
  BROKEN: ['CLOSED'],
  CLOSED: [],
};

export interface OutboxOptions {
  /** Called once when the outbox cannot be written any more (after it opened). */
  onFailure(error: Error): void;
  /** Open only once this has resolved (its directory is being made). */
  after?: Promise<unknown>;
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
  #acks: string[] = [];
  #ackFlush: NodeJS.Immediate | undefined;
  #ackWrites: Promise<void> = Promise.resolve();

  /** Opens (creating, durably) the log at `file`; `opened` settles when it is ready. */
  constructor(file: string, options: OutboxOptions) {
    this.path = file;
    this.#options = options;
    this.#machine = new StateMachine(`outbox ${file}`, 'OPENING', OUTBOX_TRANSITIONS);
    this.#opened = Promise.resolve(options.after)
      .then(() => openLog(file))
      .then(
      (log) => {
        if (this.#machine.is('CLOSED')) {
          void log.close();
          return undefined;
        }
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

  /** fdatasync calls made and records made durable (for tests and benchmarks). */
  get stats(): GroupCommitStats {
    return this.#committer.stats;
  }

  /**
   * Appends `{kind: 'UPDATE', status}`; resolves once the record is durable, or once it is clear it
   * cannot be (a broken outbox was reported through onFailure). Never rejects.
   */
  appendUpdate(status: TaskStatus): Promise<void> {
    const appended = this.#opened.then(
      (log) => (log && this.#machine.is('OPEN') ? this.#committer.append(log, { kind: 'UPDATE', status }) : undefined),
      () => undefined,
    );
    this.#last = appended.then(undefined, (error: unknown) => this.#fail(error));
    return this.#last;
  }

  /** Appends `{kind: 'ACK', uuid}` soon, with the other ACKs of this turn, without a sync of its own. */
  appendAck(uuid: string): void {
    if (this.#machine.is('CLOSED', 'BROKEN')) return;
    this.#acks.push(uuid);
    this.#ackFlush ??= setImmediate(() => this.#flushAcks());
  }

  /** Resolves when every update appended so far is durable (or known not to be). */
  flush(): Promise<void> {
    return this.#last;
  }

  /** Writes what is pending (ACKs unsynced), then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#machine.is('CLOSED')) return;
    await this.#opened.catch(() => {});
    await this.#last;
    await this.#committer.idle();
    if (this.#ackFlush) {
      clearImmediate(this.#ackFlush);
      this.#flushAcks();
    }
    await this.#ackWrites;
    this.#machine.ensure('CLOSED');
    await this.#log?.close().catch(() => {});
  }

  #flushAcks(): void {
    this.#ackFlush = undefined;
    const uuids = this.#acks;
    this.#acks = [];
    const log = this.#log;
    if (!log || !this.#machine.is('OPEN') || uuids.length === 0) return;
    const bytes = encodeRecords(uuids.map((uuid) => ({ kind: 'ACK' as const, uuid })));
    this.#ackWrites = log.appendEncoded(bytes).catch((error: unknown) => this.#fail(error));
  }

  #fail(error: unknown): void {
    if (!this.#machine.is('OPEN')) return;
    this.#machine.transition('BROKEN');
    const cause = error instanceof Error ? error : new Error(String(error));
    this.#options.onFailure(
      Object.assign(new Error(`cannot write the outbox ${this.path}: ${cause.message}; updates are now sent without a durable record`, { cause }), {
        code: (cause as NodeJS.ErrnoException).code,
      }),
    );
  }
}

/**
 * Opens the log for appending. A log left by an earlier writer that ends in a torn (or damaged)
 * record is cut back to its intact records first, so that what we append stays readable.
 */
async function openLog(file: string): Promise<RecordLog> {
  let size = 0;
  try {
    size = (await fsp.stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (size > 0) {
    const { validBytes } = await readRecordLog(file, { strict: false });
    if (validBytes < size) await repairRecordLog(file, validBytes);
  }
  return RecordLog.open(file);
}
