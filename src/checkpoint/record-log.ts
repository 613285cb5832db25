// Append-only record logs (DESIGN §5) for status update streams: `task.updates` on the agent side,
// `outbox.log` on the executor side, each record framed as record-frame.ts says. A crash
// mid-append can only leave a torn tail, which the reader drops without error; damage anywhere
// else is corruption. Durability is the caller's call (`sync()`); GroupCommitter batches it.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { IllegalStateError } from '../protocol/errors.js';
import { syncDir } from './atomic-write.js';
import { encodeRecords } from './record-frame.js';
import type { LogRecord } from './records.js';

// Framing, group commit and reading live in modules of their own; they are imported from here too.
export { RECORD_HEADER_BYTES, encodeRecords, frameRecord } from './record-frame.js';
export { GroupCommitter, type GroupCommitStats, type GroupCommitterOptions } from './group-commit.js';
export {
  parseRecordLog,
  readRecordLog,
  repairRecordLog,
  type ReadRecordLogOptions,
  type RecordLogContents,
  type RecordLogCorruption,
} from './record-log-read.js';

export type LogState = 'OPEN' | 'FAILED' | 'CLOSED';

/** @internal A record log's allowed moves (exported for its lifecycle test). */
export const RECORD_LOG_TRANSITIONS: Transitions<LogState> = {
  OPEN: ['FAILED', 'CLOSED'],
  FAILED: ['CLOSED'],
  CLOSED: [],
};

/**
 * A record log open for appending. Appends, syncs and close run one after another in call order.
 * A failed write or sync leaves the log FAILED (after a failed fsync the kernel's view of the file
 * cannot be trusted): every later call rejects; close it and recover by reading it back.
 * Opening does not repair: read the log and `repairRecordLog()` a torn tail before appending.
 */
export class RecordLog {
  readonly path: string;
  #handle: fsp.FileHandle;
  readonly #machine: StateMachine<LogState>;
  #size: number;
  /** Bytes known durable: the size at open, then the size each successful sync covered. */
  #durableSize: number;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(file: string, handle: fsp.FileHandle, size: number) {
    this.path = file;
    this.#machine = new StateMachine(`record log ${file}`, 'OPEN', RECORD_LOG_TRANSITIONS);
    this.#handle = handle;
    this.#size = size;
    this.#durableSize = size;
  }

  /** Opens `file` for appending, creating it (and fsyncing its directory) if it does not exist. */
  static async open(file: string): Promise<RecordLog> {
    let handle: fsp.FileHandle;
    let created = true;
    try {
      handle = await fsp.open(file, 'ax', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      handle = await fsp.open(file, 'a');
      created = false;
    }
    try {
      if (created) await syncDir(path.dirname(file));
      const { size } = await handle.stat();
      return new RecordLog(file, handle, size);
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
  }

  get state(): LogState {
    return this.#machine.state;
  }

  /** Bytes in the file as this writer knows it: the size at open plus what it appended. */
  get size(): number {
    return this.#size;
  }

  /**
   * Bytes known durable: what a later writer truncates the file back to after this log FAILED
   * (a failed fsync says nothing about the bytes it covered, so they are not trusted).
   */
  get durableSize(): number {
    return this.#durableSize;
  }

  /** Appends records with one write. Not durable until `sync()` resolves. */
  append(records: readonly LogRecord[]): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = encodeRecords(records);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.appendEncoded(bytes);
  }

  /**
   * Appends bytes made by `encodeRecords()` with one write (used by GroupCommitter). The write is
   * a synchronous `write(2)` into the page cache, in its turn of the log's queue: a round trip
   * through libuv's thread pool costs two thread wake-ups, which on a loaded node cost more CPU
   * than the copy (bench-updates, docs/benchmarks.md). Only `sync()` waits for the disk.
   */
  appendEncoded(bytes: Uint8Array): Promise<void> {
    return this.#enqueue('append to', async () => {
      if (bytes.length === 0) return;
      try {
        let written = 0;
        while (written < bytes.length) written += fs.writeSync(this.#handle.fd, bytes, written, bytes.length - written, null);
        this.#size += bytes.length;
      } catch (error) {
        // Take back a partial append so that later readers see the log as it was, not a torn record.
        await this.#handle.truncate(this.#size).catch(() => {});
        this.#machine.transition('FAILED');
        throw error;
      }
    });
  }

  /** fdatasync: every record appended before this call is durable when it resolves. */
  sync(): Promise<void> {
    return this.#enqueue('sync', async () => {
      const covered = this.#size;
      try {
        await this.#handle.datasync();
        this.#durableSize = covered;
      } catch (error) {
        this.#machine.transition('FAILED');
        throw error;
      }
    });
  }

  /** Closes the file after every earlier append and sync has run. Closing twice is a no-op. */
  close(): Promise<void> {
    if (this.#machine.is('CLOSED')) return Promise.resolve();
    const closing = this.#tail.then(async () => {
      if (this.#machine.is('CLOSED')) return;
      this.#machine.transition('CLOSED');
      await this.#handle.close();
    });
    this.#tail = closing.catch(() => {});
    return closing;
  }

  #enqueue(action: string, operation: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(() => {
      if (!this.#machine.is('OPEN')) throw new IllegalStateError(`cannot ${action} record log ${this.path} in ${this.#machine.state} state`);
      return operation();
    });
    this.#tail = run.catch(() => {});
    return run;
  }
}
