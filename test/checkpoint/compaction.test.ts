// Compaction of a record log on its own: which records a compacted log keeps, in which order.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compactLog, compactRecords } from '../../src/checkpoint/compaction.js';
import { encodeRecords } from '../../src/checkpoint/record-frame.js';
import { readRecordLog } from '../../src/checkpoint/record-log-read.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import { removeDir, tempDir } from '../helpers.js';

const Compaction = suite<{ dir: string }>('record log compaction', { dir: '' });
Compaction.before.each((context) => {
  context.dir = tempDir('ll-compact-');
});
Compaction.after.each((context) => removeDir(context.dir));

function update(n: number): Extract<LogRecord, { kind: 'UPDATE' }> {
  return { kind: 'UPDATE', status: { taskId: 't1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: n, message: `n=${n}` } };
}
const ack = (record: Extract<LogRecord, { kind: 'UPDATE' }>): LogRecord => ({ kind: 'ACK', uuid: record.status.uuid });

Compaction('keeps the last acknowledged updates with their ACKs, then every unacknowledged one, in order; drops duplicates', () => {
  const updates = Array.from({ length: 10 }, (_, i) => update(i + 1));
  const records: LogRecord[] = [];
  for (const u of updates.slice(0, 7)) records.push(u, ack(u));
  records.push(updates[7]!, updates[8]!, updates[8]!, updates[9]!);
  const kept = compactRecords(records, 2);
  assert.equal(kept, [updates[5], ack(updates[5]!), updates[6], ack(updates[6]!), updates[7], updates[8], updates[9]]);
  assert.equal(compactRecords([], 2), []);
});

Compaction('rewrites the file atomically; a torn tail goes, damage before the end leaves the file alone', async ({ dir }) => {
  const file = path.join(dir, 'task.updates');
  const a = update(1);
  const b = update(2);
  fs.writeFileSync(file, Buffer.concat([encodeRecords([a, ack(a), b]), Buffer.from([9, 9, 9])]));
  const result = await compactLog(file, 1);
  assert.equal((await readRecordLog(file)).records, [a, ack(a), b]);
  assert.is(result.bytesAfter, fs.statSync(file).size);
  assert.equal(fs.readdirSync(dir), ['task.updates'], 'no temp file left');
  const damaged = Buffer.concat([encodeRecords([a]), encodeRecords([b])]);
  damaged[20] ^= 0xff;
  fs.writeFileSync(file, Buffer.concat([damaged, encodeRecords([ack(a)])]));
  const before = fs.readFileSync(file);
  await compactLog(file).then(() => assert.unreachable('damage is not compacted away'), (error) => assert.instance(error, CheckpointCorruptError));
  assert.equal(fs.readFileSync(file), before);
});

Compaction.run();
