import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeRecords } from '../../src/checkpoint/record-frame.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { readTaskLog } from '../../src/checkpoint/recover-logs.js';

const UUIDS: Record<string, string> = {
  u1: '00000000-0000-4000-8000-000000000001',
  u2: '00000000-0000-4000-8000-000000000002',
  u3: '00000000-0000-4000-8000-000000000003',
};

function update(taskId: string, uuid: string): LogRecord {
  return { kind: 'UPDATE', status: { taskId, state: 'TASK_RUNNING', uuid: UUIDS[uuid]!, timestamp: 1 } };
}

const TaskLog = suite('recovery of a task log');

TaskLog('keeps each UPDATE and ACK once, in log order', () => {
  const bytes = encodeRecords([update('t1', 'u1'), update('t1', 'u1'), { kind: 'ACK', uuid: UUIDS.u1! }, update('t1', 'u2'), { kind: 'ACK', uuid: UUIDS.u1! }]);
  const log = readTaskLog(bytes, '/x/task.updates', 't1');
  assert.equal(log.updates.map((status) => status.uuid), [UUIDS.u1, UUIDS.u2]);
  assert.equal(log.acks, [UUIDS.u1]);
  assert.is(log.validBytes, bytes.length);
  assert.is(log.tornTail, false);
  assert.is(log.corruption, undefined);
});

TaskLog('an UPDATE of another task is corruption: the records from it on are dropped', () => {
  const kept = encodeRecords([update('t1', 'u1')]);
  const bytes = Buffer.concat([kept, encodeRecords([update('t2', 'u2'), update('t1', 'u3')])]);
  const log = readTaskLog(bytes, '/x/task.updates', 't1');
  assert.equal(log.updates.map((status) => status.uuid), [UUIDS.u1]);
  assert.is(log.validBytes, kept.length);
  assert.is(log.corruption?.offset, kept.length);
  assert.match(log.corruption!.message, /an UPDATE record of task "t2" in the log of task "t1"/);
});

TaskLog('a torn last record is cut back to the intact ones, without corruption', () => {
  const kept = encodeRecords([update('t1', 'u1')]);
  const torn = encodeRecords([update('t1', 'u2')]).subarray(0, 20);
  const log = readTaskLog(Buffer.concat([kept, torn]), '/x/task.updates', 't1');
  assert.is(log.tornTail, true);
  assert.is(log.validBytes, kept.length);
  assert.is(log.corruption, undefined);
  assert.is(log.updates.length, 1);
});

TaskLog.run();
