// The frame of one record (DESIGN §5): [u32 LE length][u32 LE crc32 of payload][u32 LE crc32 of
// the previous 8 bytes][payload], and encodeRecords, which refuses an invalid record before
// anything is framed. The CRC is checked against the standard CRC-32 check value, not recomputed
// the way the module computes it.
import { crc32 } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeRecords, frameRecord, RECORD_HEADER_BYTES } from '../../src/checkpoint/record-frame.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { decode, encode } from '../../src/protocol/codec.js';
import { ProtocolError } from '../../src/protocol/errors.js';

/** CRC-32 (IEEE) of the ASCII "123456789": the check value every CRC-32 implementation must give. */
const CRC32_CHECK = 0xcbf43926;

function update(taskId = 't1'): LogRecord {
  return { kind: 'UPDATE', status: { taskId, state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1_700_000_000_000 } };
}
const ack = (): LogRecord => ({ kind: 'ACK', uuid: randomUUID() });

const test = suite('checkpoint/record-frame');

test('a header is 12 bytes: three u32 fields', () => {
  assert.is(RECORD_HEADER_BYTES, 12);
});

test('frames a payload as its length, its CRC-32, the CRC-32 of those 8 bytes, then the payload', () => {
  const payload = Buffer.from('123456789');
  const frame = frameRecord(payload);
  assert.is(frame.length, RECORD_HEADER_BYTES + 9);
  assert.is(frame.readUInt32LE(0), 9);
  assert.is(frame.readUInt32LE(4), CRC32_CHECK);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(9, 0);
  header.writeUInt32LE(CRC32_CHECK, 4);
  assert.is(frame.readUInt32LE(8), crc32(header), 'the header CRC covers the length and the payload CRC');
  assert.equal(frame.subarray(RECORD_HEADER_BYTES), payload);
});

test('frames an empty payload as a header alone, whose payload CRC is that of no bytes (0)', () => {
  const frame = frameRecord(new Uint8Array(0));
  assert.is(frame.length, RECORD_HEADER_BYTES);
  assert.is(frame.readUInt32LE(0), 0);
  assert.is(frame.readUInt32LE(4), 0);
  assert.is(frame.readUInt32LE(8), crc32(Buffer.alloc(8)));
});

test('a changed length changes the header CRC (the reader tells a damaged length from a torn tail)', () => {
  const short = frameRecord(Buffer.from('ab'));
  const long = frameRecord(Buffer.from('abc'));
  assert.is.not(short.readUInt32LE(8), long.readUInt32LE(8));
});

test('refuses a payload longer than the u32 length field can say, before allocating anything', () => {
  // A stand-in claiming 4 GiB: a real one would not fit in the test's memory.
  const huge = { length: 2 ** 32 } as Uint8Array;
  assert.throws(() => frameRecord(huge), (error: unknown) => error instanceof RangeError && /record payload of 4294967296 bytes exceeds the u32 length field/.test((error as Error).message));
});

test('encodes one record as the frame of its msgpack encoding', () => {
  const record = update();
  const bytes = encodeRecords([record]);
  assert.equal(bytes, frameRecord(encode(record)));
  assert.equal(decode(bytes.subarray(RECORD_HEADER_BYTES)), record);
});

test('encodes several records as their frames back to back, in order', () => {
  const records = [update('t1'), ack(), update('t2')];
  const bytes = encodeRecords(records);
  const decoded: unknown[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = bytes.readUInt32LE(offset);
    decoded.push(decode(bytes.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length)));
    offset += RECORD_HEADER_BYTES + length;
  }
  assert.is(offset, bytes.length, 'the frames cover the bytes exactly');
  assert.equal(decoded, records);
  assert.equal(bytes, Buffer.concat(records.map((record) => encodeRecords([record]))));
});

test('encodes no records as no bytes', () => {
  assert.is(encodeRecords([]).length, 0);
});

test('refuses a batch holding an invalid record with a ProtocolError naming the field', () => {
  const bad = { kind: 'UPDATE', status: { taskId: '../escape', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1 } } as unknown as LogRecord;
  assert.throws(
    () => encodeRecords([update(), bad]),
    (error: unknown) => error instanceof ProtocolError && error.code === 'ERR_PROTOCOL' && /status\.taskId/.test(error.message),
  );
  assert.throws(() => encodeRecords([{ kind: 'ACK', uuid: 'not a uuid' } as LogRecord]), (error: unknown) => error instanceof ProtocolError && /uuid/.test((error as Error).message));
  assert.throws(() => encodeRecords([{ kind: 'BOGUS' } as unknown as LogRecord]), (error: unknown) => error instanceof ProtocolError);
});

test.run();
