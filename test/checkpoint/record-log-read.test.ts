// Reading a record log back and cutting its torn tail, on real files: parseRecordLog on bytes (any
// view of them), readRecordLog on a file, and repairRecordLog's truncation and refusals. The long
// sweeps (every cut offset, every damaged header byte) are in record-log.test.ts, with the writer.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import { encodeRecords, frameRecord, RECORD_HEADER_BYTES } from '../../src/checkpoint/record-frame.js';
import { parseRecordLog, readRecordLog, repairRecordLog } from '../../src/checkpoint/record-log-read.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { encode } from '../../src/protocol/codec.js';
import { InvalidOptionError } from '../../src/protocol/errors.js';
import { removeDir, tempDir } from '../helpers.js';

const FILE = '/work/meta/task.updates';

function update(taskId: string): LogRecord {
  return { kind: 'UPDATE', status: { taskId, state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1_700_000_000_000 } };
}
const ack = (): LogRecord => ({ kind: 'ACK', uuid: randomUUID() });
const sample = (): LogRecord[] => [update('t1'), ack(), update('t2')];
/** Where each framed record starts, and where the last ends. */
function starts(records: LogRecord[]): number[] {
  const out = [0];
  for (const record of records) out.push(out[out.length - 1]! + encodeRecords([record]).length);
  return out;
}

let dir = '';
const test = suite('checkpoint/record-log-read');
test.before.each(() => {
  dir = tempDir('ll-rlr-');
});
test.after.each(() => {
  removeDir(dir);
});

test('parses intact records with the offset each starts at, the valid length and the size', () => {
  const records = sample();
  const at = starts(records);
  const bytes = encodeRecords(records);
  assert.equal(parseRecordLog(bytes, { file: FILE }), { records, offsets: at.slice(0, 3), validBytes: bytes.length, size: bytes.length, tornTail: false });
});

test('parses a view into a larger buffer from the view\'s first byte to its last only', () => {
  const records = sample();
  const log = encodeRecords(records);
  const larger = Buffer.concat([Buffer.from('garbage before'), log, Buffer.from('garbage after')]);
  const view = new Uint8Array(larger.buffer, larger.byteOffset + 14, log.length);
  const read = parseRecordLog(view, { file: FILE });
  assert.equal(read.records, records);
  assert.is(read.size, log.length);
  assert.is(read.tornTail, false);
});

test('a file ending inside a header, or inside the payload of a good header, has a torn tail', () => {
  const records = sample();
  const bytes = encodeRecords(records);
  const last = starts(records)[2]!;
  for (const cut of [last + 1, last + RECORD_HEADER_BYTES - 1, last + RECORD_HEADER_BYTES, bytes.length - 1]) {
    const read = parseRecordLog(bytes.subarray(0, cut), { file: FILE });
    assert.equal(read.records, records.slice(0, 2), `cut at ${cut}`);
    assert.is(read.validBytes, last);
    assert.is(read.size, cut);
    assert.ok(read.tornTail);
  }
});

test('damage followed by an intact record throws CheckpointCorruptError naming the file, the offset and what is wrong', () => {
  const records = sample();
  const at = starts(records);
  const bytes = Buffer.from(encodeRecords(records));
  bytes[at[1]! + RECORD_HEADER_BYTES]! ^= 0x01; // the ACK's first payload byte
  const length = bytes.readUInt32LE(at[1]!);
  try {
    parseRecordLog(bytes, { file: FILE });
    assert.unreachable('strict is the default: expected a throw');
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    const corrupt = error as CheckpointCorruptError;
    assert.is(corrupt.code, 'ERR_CHECKPOINT_CORRUPT');
    assert.is(corrupt.file, FILE);
    assert.is(corrupt.offset, at[1]);
    assert.is(corrupt.detail, `payload CRC mismatch in a record of ${length} bytes, followed by intact records`);
    assert.is(corrupt.message, `corrupt checkpoint ${FILE} at offset ${at[1]}: ${corrupt.detail}`);
  }
});

test('non-strict, the same damage is returned: the records before it, and the length to cut to', () => {
  const records = sample();
  const at = starts(records);
  const bytes = Buffer.from(encodeRecords(records));
  bytes[at[1]! + RECORD_HEADER_BYTES]! ^= 0x01;
  const read = parseRecordLog(bytes, { file: FILE, strict: false });
  assert.equal(read.records, records.slice(0, 1));
  assert.equal(read.offsets, [0]);
  assert.is(read.validBytes, at[1]);
  assert.is(read.size, bytes.length);
  assert.is(read.tornTail, false, 'corruption is not a torn tail');
  assert.is(read.corruption?.offset, at[1]);
  assert.match(read.corruption!.message, /^payload CRC mismatch in a record of \d+ bytes, followed by intact records$/);
});

test('a damaged header is found by its own CRC, and the intact record after it by a byte-wise scan', () => {
  const records = sample();
  const at = starts(records);
  const bytes = Buffer.from(encodeRecords(records));
  bytes.writeUInt32LE(3, at[0]!); // a shorter length: without the header CRC it would read a wrong frame
  const read = parseRecordLog(bytes, { file: FILE, strict: false });
  assert.equal(read.records, []);
  assert.equal(read.corruption, { offset: 0, message: 'record header CRC mismatch (its length cannot be trusted), followed by intact records' });
});

test('an intact frame whose payload is not a record says what it holds', () => {
  const tail = encodeRecords([ack()]);
  const cases: Array<[Buffer, string]> = [
    [frameRecord(encode('just a string')), 'payload is not a record: "just a string"'],
    [frameRecord(encode(null)), 'payload is not a record: null'],
    [frameRecord(encode([1, 2])), 'payload is not a record: [1,2]'],
    [frameRecord(Buffer.from([0xc1])), 'payload is not valid msgpack'],
    [frameRecord(encode({ kind: 'ACK', uuid: 7 })), 'uuid'],
  ];
  for (const [frame, expected] of cases) {
    const read = parseRecordLog(Buffer.concat([frame, tail]), { file: FILE, strict: false });
    assert.ok(read.corruption?.message.includes(expected), `${read.corruption?.message} includes ${expected}`);
    assert.is(read.corruption?.offset, 0);
  }
});

test('no bytes: no records, no torn tail', () => {
  assert.equal(parseRecordLog(new Uint8Array(0), { file: FILE }), { records: [], offsets: [], validBytes: 0, size: 0, tornTail: false });
});

test('readRecordLog reads a file without changing it, and names it in a corruption', async () => {
  const file = path.join(dir, 'task.updates');
  const records = sample();
  const bytes = Buffer.from(encodeRecords(records));
  fs.writeFileSync(file, Buffer.concat([bytes, Buffer.from([1, 2, 3])]));
  const read = await readRecordLog(file);
  assert.equal(read.records, records);
  assert.ok(read.tornTail);
  assert.is(fs.statSync(file).size, bytes.length + 3, 'the torn tail is left for the caller to cut');
  bytes[RECORD_HEADER_BYTES]! ^= 0xff;
  fs.writeFileSync(file, bytes);
  try {
    await readRecordLog(file);
    assert.unreachable('expected a strict read to throw');
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    assert.is((error as CheckpointCorruptError).file, file);
  }
  assert.is((await readRecordLog(file, { strict: false })).corruption?.offset, 0);
});

test('readRecordLog rejects a missing file with the fs error', async () => {
  try {
    await readRecordLog(path.join(dir, 'missing.log'));
    assert.unreachable('expected ENOENT');
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'ENOENT');
  }
});

test('repairRecordLog cuts the file to the valid length and says how many bytes went', async () => {
  const file = path.join(dir, 'task.updates');
  const records = sample();
  const bytes = encodeRecords(records);
  fs.writeFileSync(file, Buffer.concat([bytes, Buffer.alloc(40)]));
  const read = await readRecordLog(file);
  assert.is(await repairRecordLog(file, read.validBytes), 40);
  assert.equal(fs.readFileSync(file), bytes);
  assert.is(await repairRecordLog(file, bytes.length), 0, 'a file of that length already is left alone');
  assert.is(await repairRecordLog(file, 0), bytes.length);
  assert.is(fs.statSync(file).size, 0);
});

test('repairRecordLog refuses a length that is not a non-negative integer, or that would grow the file', async () => {
  const file = path.join(dir, 'task.updates');
  fs.writeFileSync(file, Buffer.alloc(10));
  const refusal = async (length: number): Promise<InvalidOptionError> => {
    try {
      await repairRecordLog(file, length);
    } catch (error) {
      assert.instance(error, InvalidOptionError);
      assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION');
      return error as InvalidOptionError;
    }
    return assert.unreachable(`expected ${length} to be refused`) as never;
  };
  assert.is((await refusal(-1)).message, 'option length must be a non-negative integer, got -1');
  assert.is((await refusal(1.5)).message, 'option length must be a non-negative integer, got 1.5');
  // NaN is refused too (its message is not compared: show() renders NaN as "null").
  assert.ok((await refusal(Number.NaN)).message.startsWith('option length must be a non-negative integer, got '));
  assert.is((await refusal(11)).message, `option length must be at most the size of ${file} (10 bytes), got 11`);
  assert.is(fs.statSync(file).size, 10, 'nothing was changed');
});

test('repairRecordLog rejects a missing file with the fs error', async () => {
  try {
    await repairRecordLog(path.join(dir, 'missing.log'), 0);
    assert.unreachable('expected ENOENT');
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'ENOENT');
  }
});

test.run();
