// The frame of one record in a record log (DESIGN §5):
//   [u32 LE payload length][u32 LE crc32 of payload][u32 LE crc32 of the previous 8 bytes][msgpack payload]
// The header CRC lets the reader tell a corrupted length from a torn tail.
import { crc32 } from 'node:zlib';
import { encode } from '../protocol/codec.js';
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

/**
 * Frames one record that `checkRecord()` has just returned (its output, not its input), for a
 * caller that had to check it anyway: the agent's Checkpointer checks every record of a call
 * before any is written, and encodeRecords would check each of them a second time.
 */
export function encodeCheckedRecord(checked: LogRecord): Buffer {
  return frameRecord(encode(checked));
}
