// Reading a record log back (recovery, the outbox on open) and cutting off its torn tail. A torn
// tail is never an error; damage followed by intact records is corruption.
import fsp from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { decode } from '../protocol/codec.js';
import { InvalidOptionError, ProtocolError, show } from '../protocol/errors.js';
import { CheckpointCorruptError } from './errors.js';
import { RECORD_HEADER_BYTES } from './record-frame.js';
import { checkRecord, type LogRecord } from './records.js';

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
