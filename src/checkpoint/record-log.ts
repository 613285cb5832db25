// Append-only record logs (DESIGN §5) for status update streams: `task.updates` on the agent side,
// `outbox.log` on the executor side. Each record is framed as
//   [u32 LE payload length][u32 LE crc32 of payload][u32 LE crc32 of the previous 8 bytes][msgpack payload]
// The header CRC lets the reader tell a corrupted length from a torn tail. A crash mid-append can
// only leave a torn tail, which is dropped without error; damage anywhere else is corruption.
// Durability is the caller's call (`sync()`); GroupCommitter batches it across many logs.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { decode, encode } from '../protocol/codec.js';
import { IllegalStateError, InvalidOptionError, ProtocolError, show } from '../protocol/errors.js';
import { syncDir } from './atomic-write.js';
import { CheckpointCorruptError } from './errors.js';
import { checkRecord, type LogRecord } from './records.js';

export const RECORD_HEADER_BYTES = 12;
const MAX_PAYLOAD_BYTES = 0xffff_ffff;

/** @internal Frames one payload: header (length, payload CRC, header CRC) + payload. */
export function frameRecord(payload: Uint8Array): Buffer {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`record payload of ${payload.length} bytes exceeds the u32 length field`);
  const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  frame.writeUInt32LE(crc32(frame.subarray(0, 8)), 8);
  frame.set(payload, RECORD_HEADER_BYTES);
  return frame;
}

/**
 * Validates records and frames them into the bytes of one append. Throws (a ProtocolError naming
 * the field) before anything is written when a record is invalid: the log never holds a record its
 * reader would reject.
 */
export function encodeRecords(records: readonly LogRecord[]): Buffer {
  const frames = records.map((record) => frameRecord(encode(checkRecord(record))));
  return frames.length === 1 ? frames[0]! : Buffer.concat(frames);
}

type LogState = 'OPEN' | 'FAILED' | 'CLOSED';
const TRANSITIONS: Readonly<Record<LogState, readonly LogState[]>> = {
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
  #state: LogState = 'OPEN';
  #size: number;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(file: string, handle: fsp.FileHandle, size: number) {
    this.path = file;
    this.#handle = handle;
    this.#size = size;
  }

  /** Opens `file` for appending, creating it (and fsyncing its directory) if it does not exist. */
  static async open(file: string): Promise<RecordLog> {
    let handle: fsp.FileHandle;
    let created = true;
    try {
      handle = await fsp.open(file, 'ax');
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
    return this.#state;
  }

  /** Bytes in the file as this writer knows it: the size at open plus what it appended. */
  get size(): number {
    return this.#size;
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

  /** Appends bytes made by `encodeRecords()` with one write (used by GroupCommitter). */
  appendEncoded(bytes: Uint8Array): Promise<void> {
    return this.#enqueue('append to', async () => {
      if (bytes.length === 0) return;
      try {
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await this.#handle.write(bytes, written, bytes.length - written, null);
          written += bytesWritten;
        }
        this.#size += bytes.length;
      } catch (error) {
        // Take back a partial append so that later readers see the log as it was, not a torn record.
        await this.#handle.truncate(this.#size).catch(() => {});
        this.#transition('FAILED');
        throw error;
      }
    });
  }

  /** fdatasync: every record appended before this call is durable when it resolves. */
  sync(): Promise<void> {
    return this.#enqueue('sync', async () => {
      try {
        await this.#handle.datasync();
      } catch (error) {
        this.#transition('FAILED');
        throw error;
      }
    });
  }

  /** Closes the file after every earlier append and sync has run. Closing twice is a no-op. */
  close(): Promise<void> {
    if (this.#state === 'CLOSED') return Promise.resolve();
    const closing = this.#tail.then(async () => {
      if (this.#state === 'CLOSED') return;
      this.#transition('CLOSED');
      await this.#handle.close();
    });
    this.#tail = closing.catch(() => {});
    return closing;
  }

  #enqueue(action: string, operation: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(() => {
      if (this.#state !== 'OPEN') throw new IllegalStateError(`cannot ${action} record log ${this.path} in ${this.#state} state`);
      return operation();
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  #transition(to: LogState): void {
    if (!TRANSITIONS[this.#state].includes(to)) {
      throw new IllegalStateError(`record log ${this.path} cannot go from ${this.#state} to ${to}`);
    }
    this.#state = to;
  }
}

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
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Pending {
  chunks: Buffer[];
  records: number;
  waiters: Waiter[];
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
  #stats: GroupCommitStats = { batches: 0, syncs: 0, records: 0 };

  constructor({ batching = true }: GroupCommitterOptions = {}) {
    if (typeof batching !== 'boolean') throw new InvalidOptionError('batching', batching, 'a boolean');
    this.#batching = batching;
  }

  get stats(): GroupCommitStats {
    return { ...this.#stats };
  }

  /** Appends records to `log`; resolves when they are durable. */
  append(log: RecordLog, records: LogRecord | readonly LogRecord[]): Promise<void> {
    const list: readonly LogRecord[] = Array.isArray(records) ? records : [records as LogRecord];
    let bytes: Buffer;
    try {
      bytes = encodeRecords(list);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#batching) return this.#appendAlone(log, bytes, list.length);
    return new Promise<void>((resolve, reject) => {
      let pending = this.#pending.get(log);
      if (!pending) {
        pending = { chunks: [], records: 0, waiters: [] };
        this.#pending.set(log, pending);
      }
      pending.chunks.push(bytes);
      pending.records += list.length;
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
  async #appendAlone(log: RecordLog, bytes: Buffer, records: number): Promise<void> {
    this.#stats.batches += 1;
    const written = log.appendEncoded(bytes);
    const synced = log.sync();
    synced.catch(() => {}); // a failed write fails the sync too; the write's error is the one reported
    await written;
    this.#stats.syncs += 1;
    await synced;
    this.#stats.records += records;
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
    const toSync = entries.filter(([log]) => !failures.has(log));
    this.#stats.syncs += toSync.length;
    const synced = await Promise.allSettled(toSync.map(([log]) => log.sync()));
    synced.forEach((result, index) => {
      if (result.status === 'rejected') failures.set(toSync[index]![0], result.reason);
    });
    for (const [log, pending] of entries) {
      const failure = failures.get(log);
      if (failures.has(log)) {
        for (const waiter of pending.waiters) waiter.reject(failure);
      } else {
        this.#stats.records += pending.records;
        for (const waiter of pending.waiters) waiter.resolve();
      }
    }
  }
}

export interface RecordLogCorruption {
  /** Byte offset of the first damaged record. */
  offset: number;
  message: string;
}

export interface RecordLogContents {
  /** The intact records, in order, before any torn tail or corruption. */
  records: LogRecord[];
  /** The byte offset at which each of `records` starts (same length as `records`). */
  offsets: number[];
  /** Bytes of intact records: the length to truncate the file to when it is repaired. */
  validBytes: number;
  /** Size of the file as read. */
  size: number;
  /** The file ends with an incomplete or damaged last record (from `validBytes` on): truncate it. */
  tornTail: boolean;
  /** Non-strict reading only: damage before the last record; the records after it are lost. */
  corruption?: RecordLogCorruption;
}

export interface ReadRecordLogOptions {
  /** true (default): corruption throws CheckpointCorruptError. false: it is returned. */
  strict?: boolean;
}

/**
 * Reads a record log without changing it. A torn tail is never an error; corruption throws in
 * strict mode and is returned otherwise (the caller truncates to `validBytes` and counts it).
 * A missing file rejects with the fs error (ENOENT).
 */
export async function readRecordLog(file: string, { strict = true }: ReadRecordLogOptions = {}): Promise<RecordLogContents> {
  return parseRecordLog(await fsp.readFile(file), { file, strict });
}

/** Parses the bytes of a record log (see readRecordLog); `file` is for messages only. */
export function parseRecordLog(bytes: Uint8Array, { file, strict = true }: { file: string; strict?: boolean }): RecordLogContents {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = buffer.length;
  const records: LogRecord[] = [];
  const offsets: number[] = [];
  let offset = 0;
  while (offset < size) {
    if (size - offset < RECORD_HEADER_BYTES) break; // ends inside a header: torn tail
    const length = buffer.readUInt32LE(offset);
    let damage: string | undefined;
    let scanFrom: number;
    if (crc32(buffer.subarray(offset, offset + 8)) !== buffer.readUInt32LE(offset + 8)) {
      damage = 'record header CRC mismatch (its length cannot be trusted)';
      scanFrom = offset + 1;
    } else {
      const end = offset + RECORD_HEADER_BYTES + length;
      if (end > size) break; // a good header whose payload runs past the end: torn tail
      scanFrom = end;
      const payload = buffer.subarray(offset + RECORD_HEADER_BYTES, end);
      if (crc32(payload) !== buffer.readUInt32LE(offset + 4)) {
        damage = `payload CRC mismatch in a record of ${length} bytes`;
      } else {
        const result = decodeRecord(payload);
        if (typeof result === 'string') damage = result;
        else {
          records.push(result);
          offsets.push(offset);
          offset = end;
          continue;
        }
      }
    }
    // A damaged record is the torn last write of a crash unless an intact record follows it.
    if (findIntactRecord(buffer, scanFrom) === undefined) break;
    const message = `${damage}, followed by intact records`;
    if (strict) throw new CheckpointCorruptError(file, offset, message);
    return { records, offsets, validBytes: offset, size, tornTail: false, corruption: { offset, message } };
  }
  return { records, offsets, validBytes: offset, size, tornTail: offset < size };
}

function decodeRecord(payload: Buffer): LogRecord | string {
  let value: unknown;
  try {
    value = decode(payload);
  } catch (error) {
    return `payload is not valid msgpack (${(error as Error).message})`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `payload is not a record: ${show(value)}`;
  try {
    return checkRecord(value);
  } catch (error) {
    if (error instanceof ProtocolError) return error.message;
    throw error;
  }
}

/** The offset of the first frame at or after `from` whose header and payload CRCs both check out. */
function findIntactRecord(buffer: Buffer, from: number): number | undefined {
  for (let offset = from; offset + RECORD_HEADER_BYTES <= buffer.length; offset += 1) {
    if (crc32(buffer.subarray(offset, offset + 8)) !== buffer.readUInt32LE(offset + 8)) continue;
    const end = offset + RECORD_HEADER_BYTES + buffer.readUInt32LE(offset);
    if (end > buffer.length) continue;
    if (crc32(buffer.subarray(offset + RECORD_HEADER_BYTES, end)) === buffer.readUInt32LE(offset + 4)) return offset;
  }
  return undefined;
}

/**
 * Truncates a record log to `length` bytes (its `validBytes`) and makes that durable. Returns how
 * many bytes were cut. Refuses to grow the file.
 */
export async function repairRecordLog(file: string, length: number): Promise<number> {
  if (!Number.isSafeInteger(length) || length < 0) throw new InvalidOptionError('length', length, 'a non-negative integer');
  const handle = await fsp.open(file, 'r+');
  try {
    const { size } = await handle.stat();
    if (length > size) throw new InvalidOptionError('length', length, `at most the size of ${file} (${size} bytes)`);
    if (length === size) return 0;
    await handle.truncate(length);
    await handle.datasync();
    return size - length;
  } finally {
    await handle.close();
  }
}
