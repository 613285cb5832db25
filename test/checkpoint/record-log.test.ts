import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CheckpointCorruptError,
  encodeRecords,
  frameRecord,
  readRecordLog,
  RECORD_HEADER_BYTES,
  RecordLog,
  repairRecordLog,
  type LogRecord,
} from '../../src/checkpoint/index.js';
import { RECORD_LOG_TRANSITIONS, type LogState } from '../../src/checkpoint/record-log.js';
import { StateMachine } from '../../src/lifecycle/state-machine.js';
import { encode, IllegalStateError } from '../../src/protocol/index.js';
import { removeDir, tempDir } from '../helpers.js';

let dir = '';
const logs: RecordLog[] = [];

function update(taskId = 't1', state: 'TASK_RUNNING' | 'TASK_FINISHED' = 'TASK_RUNNING', message?: string): LogRecord {
  return { kind: 'UPDATE', status: { taskId, state, uuid: randomUUID(), timestamp: Date.now(), ...(message ? { message } : {}) } };
}
function ack(record: LogRecord): LogRecord {
  assert.is(record.kind, 'UPDATE');
  return { kind: 'ACK', uuid: (record as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid };
}
async function openLog(name: string): Promise<RecordLog> {
  const log = await RecordLog.open(path.join(dir, name));
  logs.push(log);
  return log;
}
/** Byte offsets at which each record of `records` starts, and the total length, when framed. */
function offsets(records: LogRecord[]): { starts: number[]; ends: number[] } {
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const record of records) {
    starts.push(at);
    at += encodeRecords([record]).length;
    ends.push(at);
  }
  return { starts, ends };
}
function sample(): LogRecord[] {
  const first = update('t1', 'TASK_RUNNING', 'started');
  const second = update('t1', 'TASK_FINISHED', 'exit code 0');
  return [first, ack(first), second, ack(second), update('t2')];
}
async function strictThrows(file: string): Promise<CheckpointCorruptError> {
  try {
    await readRecordLog(file, { strict: true });
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    return error as CheckpointCorruptError;
  }
  return assert.unreachable('expected strict reading to throw') as never;
}

function setup() {
  dir = tempDir('ll-rlog-');
}
async function teardown() {
  await Promise.all(logs.splice(0).map((log) => log.close()));
  removeDir(dir);
}

const recordLog = suite('record log');
recordLog.before.each(setup);
recordLog.after.each(teardown);

recordLog('round-trips UPDATE and ACK records, including byte payloads', async () => {
  const records = sample();
  (records[0] as Extract<LogRecord, { kind: 'UPDATE' }>).status.data = Buffer.from([0, 1, 2, 255]);
  const log = await openLog('task.updates');
  await log.append(records.slice(0, 2));
  await log.append(records.slice(2));
  await log.sync();
  await log.close();
  const read = await readRecordLog(log.path);
  assert.equal(read.records, records);
  assert.is(read.tornTail, false);
  assert.is(read.validBytes, fs.statSync(log.path).size);
  assert.is(read.corruption, undefined);
});

recordLog('frames each record as length, payload CRC, header CRC and msgpack payload', async () => {
  const record = update();
  const log = await openLog('one.log');
  await log.append([record]);
  await log.close();
  const bytes = fs.readFileSync(log.path);
  const payload = encode(record);
  assert.is(bytes.readUInt32LE(0), payload.length);
  assert.is(bytes.length, RECORD_HEADER_BYTES + payload.length);
  assert.equal(bytes.subarray(RECORD_HEADER_BYTES), payload);
});

recordLog('reopening an existing log appends after its records', async () => {
  const records = sample();
  const first = await openLog('task.updates');
  await first.append(records.slice(0, 3));
  await first.close();
  const second = await openLog('task.updates');
  assert.is(second.size, fs.statSync(second.path).size);
  await second.append(records.slice(3));
  await second.close();
  assert.equal((await readRecordLog(second.path)).records, records);
});

recordLog('refuses an invalid record before writing anything', async () => {
  const log = await openLog('task.updates');
  await log.append([update()]);
  const before = fs.readFileSync(log.path);
  try {
    await log.append([update(), { kind: 'UPDATE', status: { taskId: '../x' } } as unknown as LogRecord]);
    assert.unreachable('expected the append to be rejected');
  } catch (error) {
    assert.match((error as Error).message, /status\.taskId/);
  }
  assert.equal(fs.readFileSync(log.path), before);
  assert.is(log.state, 'OPEN');
});

recordLog('rejects appends after close, naming the file and the state', async () => {
  const log = await openLog('task.updates');
  await log.close();
  try {
    await log.append([update()]);
    assert.unreachable('expected the append to be rejected');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_ILLEGAL_STATE');
    assert.match((error as Error).message, /cannot append to record log .*task\.updates in CLOSED state/);
  }
});

recordLog('recovers every complete record from a log torn at every byte offset, in both modes', async () => {
  const records = sample();
  const full = encodeRecords(records);
  const { ends } = offsets(records);
  const file = path.join(dir, 'torn.log');
  for (let cut = 0; cut <= full.length; cut += 1) {
    fs.writeFileSync(file, full.subarray(0, cut));
    const complete = ends.filter((end) => end <= cut).length;
    const validBytes = complete === 0 ? 0 : ends[complete - 1]!;
    for (const strict of [true, false]) {
      const read = await readRecordLog(file, { strict });
      assert.equal(read.records, records.slice(0, complete), `records at cut ${cut}`);
      assert.is(read.validBytes, validBytes, `validBytes at cut ${cut}`);
      assert.is(read.tornTail, cut > validBytes, `tornTail at cut ${cut}`);
      assert.is(read.corruption, undefined, `no corruption at cut ${cut}`);
    }
    assert.is(fs.statSync(file).size, cut, 'reading never changes the file');
    if (cut % 7 !== 0 && cut !== full.length) continue; // repairing fsyncs: a sample of the cuts is enough
    await repairRecordLog(file, validBytes);
    const repaired = await readRecordLog(file);
    assert.is(repaired.tornTail, false);
    assert.is(repaired.size, validBytes);
    assert.equal(repaired.records, records.slice(0, complete));
  }
});

recordLog('a flipped payload byte in a middle record: strict throws naming file and offset and changes nothing', async () => {
  const records = sample();
  const full = encodeRecords(records);
  const { starts } = offsets(records);
  const file = path.join(dir, 'task.updates');
  const damaged = Buffer.from(full);
  damaged[starts[2]! + RECORD_HEADER_BYTES + 5]! ^= 0x40;
  fs.writeFileSync(file, damaged);
  const statBefore = fs.statSync(file);
  const error = await strictThrows(file);
  assert.is(error.code, 'ERR_CHECKPOINT_CORRUPT');
  assert.is(error.file, file);
  assert.is(error.offset, starts[2]);
  assert.ok(error.message.includes(file), error.message);
  assert.ok(error.message.includes(`offset ${starts[2]}`), error.message);
  assert.match(error.message, /payload CRC mismatch/);
  assert.equal(fs.readFileSync(file), damaged);
  assert.is(fs.statSync(file).mtimeMs, statBefore.mtimeMs);

  const read = await readRecordLog(file, { strict: false });
  assert.equal(read.records, records.slice(0, 2));
  assert.is(read.validBytes, starts[2]);
  assert.is(read.tornTail, false);
  assert.is(read.corruption?.offset, starts[2]);
  assert.equal(fs.readFileSync(file), damaged);
});

recordLog('detects a damaged header (its own CRC fails) in a middle record', async () => {
  const records = sample();
  const { starts } = offsets(records);
  const file = path.join(dir, 'task.updates');
  for (const byte of [0, 1, 4, 8, 11]) {
    const damaged = Buffer.from(encodeRecords(records));
    damaged[starts[1]! + byte]! ^= 0x01;
    fs.writeFileSync(file, damaged);
    const error = await strictThrows(file);
    assert.is(error.offset, starts[1], `header byte ${byte}`);
    assert.match(error.message, /header CRC mismatch/);
    const read = await readRecordLog(file, { strict: false });
    assert.equal(read.records, records.slice(0, 1));
    assert.is(read.corruption?.offset, starts[1]);
  }
});

recordLog('a length grown by damage is corruption, not mistaken for a torn tail', async () => {
  const records = sample();
  const { starts } = offsets(records);
  const file = path.join(dir, 'task.updates');
  const damaged = Buffer.from(encodeRecords(records));
  damaged.writeUInt32LE(1_000_000, starts[0]!);
  fs.writeFileSync(file, damaged);
  const error = await strictThrows(file);
  assert.is(error.offset, 0);
});

recordLog('a damaged last record is a torn tail in both modes', async () => {
  const records = sample();
  const { starts } = offsets(records);
  const last = starts[starts.length - 1]!;
  const file = path.join(dir, 'task.updates');
  for (const at of [last + 2, last + 9, last + RECORD_HEADER_BYTES + 3]) {
    const damaged = Buffer.from(encodeRecords(records));
    damaged[at]! ^= 0xff;
    fs.writeFileSync(file, damaged);
    for (const strict of [true, false]) {
      const read = await readRecordLog(file, { strict });
      assert.equal(read.records, records.slice(0, -1), `damage at ${at}`);
      assert.is(read.tornTail, true);
      assert.is(read.validBytes, last);
      assert.is(read.corruption, undefined);
    }
  }
});

recordLog('zeros after the last record (size persisted, data not) are a torn tail', async () => {
  const records = sample();
  const file = path.join(dir, 'task.updates');
  const full = encodeRecords(records);
  fs.writeFileSync(file, Buffer.concat([full, Buffer.alloc(100)]));
  const read = await readRecordLog(file, { strict: true });
  assert.equal(read.records, records);
  assert.is(read.tornTail, true);
  assert.is(read.validBytes, full.length);
});

recordLog('an intact frame holding an undecodable or invalid payload is corruption in the middle', async () => {
  const records = sample();
  const file = path.join(dir, 'task.updates');
  const cases: [Buffer, RegExp][] = [
    [frameRecord(Buffer.from([0x92, 0x01])), /not valid msgpack/],
    [frameRecord(encode({ kind: 'BOGUS', uuid: 'x' })), /invalid record/],
    [frameRecord(encode({ kind: 'ACK', uuid: 'not a uuid' })), /uuid/],
    [frameRecord(encode([1, 2])), /not a record/],
  ];
  for (const [bad, pattern] of cases) {
    const head = encodeRecords(records.slice(0, 2));
    fs.writeFileSync(file, Buffer.concat([head, bad, encodeRecords(records.slice(2))]));
    const error = await strictThrows(file);
    assert.is(error.offset, head.length);
    assert.match(error.message, pattern);
    const read = await readRecordLog(file, { strict: false });
    assert.equal(read.records, records.slice(0, 2));
    // The same frame at the end of the file is the torn tail of a crash.
    fs.writeFileSync(file, Buffer.concat([head, bad]));
    const tail = await readRecordLog(file, { strict: true });
    assert.equal(tail.records, records.slice(0, 2));
    assert.is(tail.tornTail, true);
  }
});

recordLog('an empty log has no records and no torn tail', async () => {
  const log = await openLog('task.updates');
  const read = await readRecordLog(log.path);
  assert.equal(read, { records: [], offsets: [], validBytes: 0, size: 0, tornTail: false });
});

recordLog('repairRecordLog refuses to grow a file', async () => {
  const file = path.join(dir, 'task.updates');
  fs.writeFileSync(file, encodeRecords([update()]));
  try {
    await repairRecordLog(file, 10_000);
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_INVALID_OPTION');
  }
});

recordLog('its lifecycle refuses a move out of CLOSED by name', () => {
  const machine = new StateMachine<LogState>('record log /x/task.updates', 'CLOSED', RECORD_LOG_TRANSITIONS);
  assert.throws(
    () => machine.transition('OPEN'),
    (error: unknown) => error instanceof IllegalStateError && (error as Error).message === 'cannot move record log /x/task.updates from CLOSED to OPEN',
  );
  assert.not.ok(new StateMachine<LogState>('record log', 'FAILED', RECORD_LOG_TRANSITIONS).can('OPEN'));
});

recordLog('knows how much of the file is durable: what the last successful sync covered', async () => {
  const log = await RecordLog.open(path.join(dir, 'durable.log'));
  await log.append([{ kind: 'ACK', uuid: '00000000-0000-4000-8000-000000000001' }]);
  assert.is(log.durableSize, 0, 'appended, not synced');
  await log.sync();
  assert.is(log.durableSize, log.size);
  const synced = log.size;
  await log.append([{ kind: 'ACK', uuid: '00000000-0000-4000-8000-000000000002' }]);
  assert.is(log.durableSize, synced);
  await log.close();
});

recordLog.run();
