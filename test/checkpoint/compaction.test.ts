// Compaction of a record log on its own: which records a compacted log keeps, in which order.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compactLog, compactLogFrom, compactRecords, KeptRecords } from '../../src/checkpoint/compaction.js';
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

/** A seeded pseudo-random sequence: the same cases on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

Compaction('KeptRecords, tracking appends and ACKs as they come, keeps exactly what compactRecords keeps of the same log', () => {
  for (let trial = 0; trial < 200; trial++) {
    const next = random(trial + 1);
    const keepAcked = Math.floor(next() * 9); // 0 too: no acknowledged update kept
    // Every other trial acknowledges strictly in order (a stream's usual case: trimmed without a sort).
    const inOrder = trial % 2 === 0;
    const kept = new KeptRecords(keepAcked);
    const log: LogRecord[] = [];
    const unacked: Array<Extract<LogRecord, { kind: 'UPDATE' }>> = [];
    const acked: Array<Extract<LogRecord, { kind: 'UPDATE' }>> = [];
    for (let step = 0; step < 60; step++) {
      const roll = next();
      if (roll < 0.45 || unacked.length === 0) {
        const u = update(step);
        log.push(u);
        kept.update(u);
        unacked.push(u);
      } else if (roll < 0.9) {
        // ACKs mostly in order, sometimes not.
        const at = inOrder || next() < 0.7 ? 0 : Math.floor(next() * unacked.length);
        const [u] = unacked.splice(at, 1);
        log.push(ack(u!));
        kept.ack(u!.status.uuid);
        acked.push(u!);
      } else if (roll < 0.95 && acked.length > 0) {
        // An ACK again, and an unacknowledged UPDATE written again (a retry): neither changes anything.
        const u = acked[Math.floor(next() * acked.length)]!;
        const again = unacked[Math.floor(next() * unacked.length)]!;
        log.push(ack(u), again);
        kept.ack(u.status.uuid);
        kept.update(again);
      } else {
        const stray = randomUUID();
        log.push({ kind: 'ACK', uuid: stray });
        kept.ack(stray);
      }
      // At every step, also between two trims of what it holds.
      assert.equal(kept.records(), compactRecords(log, keepAcked), `trial ${trial}, step ${step} (keepAcked ${keepAcked})`);
    }
    assert.equal(kept.records(), compactRecords(log, keepAcked), `trial ${trial} (keepAcked ${keepAcked})`);
    // Seeded from a log, it goes on as if it had seen it written.
    const seeded = KeptRecords.of(log, keepAcked);
    const later = update(1000);
    seeded.update(later);
    kept.update(later);
    assert.equal(seeded.records(), kept.records(), `trial ${trial}: seeded from the log`);
  }
});

Compaction('compactLogFrom rewrites the log with what KeptRecords holds, without reading it', async ({ dir }) => {
  const file = path.join(dir, 'outbox.log');
  const updates = Array.from({ length: 6 }, (_, i) => update(i));
  const kept = new KeptRecords(2);
  const records: LogRecord[] = [];
  for (const u of updates) {
    records.push(u);
    kept.update(u);
  }
  for (const u of updates.slice(0, 4)) {
    records.push(ack(u));
    kept.ack(u.status.uuid);
  }
  fs.writeFileSync(file, encodeRecords(records));
  const before = fs.statSync(file).size;
  const result = await compactLogFrom(file, before, kept);
  assert.is(result.bytesBefore, before);
  assert.is(result.bytesAfter, fs.statSync(file).size);
  const back = await readRecordLog(file, { strict: true });
  assert.equal(back.records, [updates[2]!, ack(updates[2]!), updates[3]!, ack(updates[3]!), updates[4]!, updates[5]!]);
  assert.equal(fs.readdirSync(dir), ['outbox.log'], 'no temp file left behind');
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
