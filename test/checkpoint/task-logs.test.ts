import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runDir, taskUpdatesPath, type TaskRef } from '../../src/checkpoint/layout.js';
import { readRecordLog } from '../../src/checkpoint/record-log.js';
import { DiskError, DiskHealth } from '../../src/checkpoint/disk-health.js';
import { encodeRecords } from '../../src/checkpoint/record-frame.js';
import { compactRecords } from '../../src/checkpoint/compaction.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { TaskLogs } from '../../src/checkpoint/task-logs.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';

const U1 = '00000000-0000-4000-8000-000000000001';
const U2 = '00000000-0000-4000-8000-000000000002';

const Logs = suite<{ dir: string; logs: TaskLogs[] }>('open task logs', { dir: '', logs: [] });
Logs.before.each((context) => {
  context.dir = tempDir('ll-tlogs-');
  context.logs = [];
});
Logs.after.each(async (context) => {
  for (const logs of context.logs) await logs.closeAll();
  removeDir(context.dir);
});

function ref(dir: string, taskId: string): TaskRef {
  const task: TaskRef = { agentId: 'a1', frameworkId: 'f1', executorId: 'e1', containerId: 'c1', taskId };
  fs.mkdirSync(path.dirname(taskUpdatesPath(dir, task)), { recursive: true });
  return task;
}

function make(context: { dir: string; logs: TaskLogs[] }, batching = true, maxOpenLogs = 2): TaskLogs {
  const logs = new TaskLogs(context.dir, { batching, maxOpenLogs });
  context.logs.push(logs);
  return logs;
}

Logs('keeps at most maxOpenLogs open, closing the least recently used idle ones', async (context) => {
  const logs = make(context);
  for (const id of ['t1', 't2', 't3']) await logs.open(ref(context.dir, id));
  assert.is(logs.openLogs, 2);
  await logs.closed();
});

Logs('makes appends durable in both modes, and reopens a closed log on the next append', async (context) => {
  for (const batching of [true, false]) {
    const logs = make(context, batching);
    const task = ref(context.dir, `t-${batching}`);
    const first: LogRecord = { kind: 'UPDATE', status: { taskId: task.taskId, state: 'TASK_RUNNING', uuid: U1, timestamp: 1 } };
    await logs.append([{ ref: task, records: [first] }]);
    await logs.closeRun(runDir(context.dir, task));
    assert.is(logs.openLogs, 0);
    await logs.append([{ ref: task, records: [{ kind: 'ACK', uuid: U1 }] }]);
    const second: LogRecord = { kind: 'UPDATE', status: { taskId: task.taskId, state: 'TASK_RUNNING', uuid: U2, timestamp: 2 } };
    await logs.append([{ ref: task, records: [second] }]);
    const { records } = await readRecordLog(taskUpdatesPath(context.dir, task));
    assert.equal(records, [first, { kind: 'ACK', uuid: U1 }, second]);
    assert.is(logs.stats.syncs, 2, 'one fdatasync per UPDATE, none for the ACK');
    assert.is(logs.stats.unsynced, 1);
  }
});

Logs('refuses to close a log for repair while records are being appended to it', async (context) => {
  const logs = make(context);
  const task = ref(context.dir, 't1');
  const appended = logs.append([{ ref: task, records: [{ kind: 'ACK', uuid: U1 }] }]);
  await logs.closeLog(taskUpdatesPath(context.dir, task)).then(
    () => assert.unreachable('closed a log in use'),
    (error: Error) => assert.match(error.message, /cannot repair .*task\.updates while records are being appended to it/),
  );
  await appended;
  await logs.closeLog(taskUpdatesPath(context.dir, task));
  assert.is(logs.openLogs, 0);
});

Logs('a file whose disk fails refuses only its own records, is refused at once during its backoff, and is reopened cut back once it can be written', async (context) => {
  const health = new DiskHealth({ minMs: 30, maxMs: 60 });
  const episodes: string[] = [];
  health.listen({ onEpisodeStart: (file) => void episodes.push(`start ${path.basename(path.dirname(file))}`), onEpisodeEnd: () => void episodes.push('end') });
  const logs = new TaskLogs(context.dir, { batching: true, maxOpenLogs: 4, health });
  context.logs.push(logs);
  const good = ref(context.dir, 'good');
  const bad = ref(context.dir, 'bad');
  const badFile = taskUpdatesPath(context.dir, bad);
  // Its file fails every write: a full device in its place (of which nothing is durable).
  fs.symlinkSync('/dev/full', badFile);
  const results = await logs.appendSettled([
    { ref: good, records: [{ kind: 'ACK', uuid: U1 }] },
    { ref: bad, records: [{ kind: 'ACK', uuid: U2 }] },
  ]);
  assert.equal(results.map((r) => r.status), ['fulfilled', 'rejected']);
  const error = (results[1] as PromiseRejectedResult).reason as DiskError;
  assert.instance(error, DiskError);
  assert.is(error.errno, 'ENOSPC');
  assert.ok(health.degraded);
  assert.equal(episodes, ['start bad']);
  // Within its backoff it is refused without a write.
  const [refused] = await logs.appendSettled([{ ref: bad, records: [{ kind: 'ACK', uuid: U2 }] }]);
  assert.match(((refused as PromiseRejectedResult).reason as Error).message, /retried in \d+ ms/);
  assert.is(health.errors, 1, 'a refusal during the backoff is not another disk error');
  // Space again: a regular file holding bytes the failed log never made durable.
  fs.rmSync(badFile);
  fs.writeFileSync(badFile, Buffer.concat([encodeRecords([{ kind: 'ACK', uuid: U1 }]), Buffer.from([1, 2, 3])]));
  await waitFor(() => health.refusal(badFile) === undefined, { message: 'the backoff over' });
  const [retried] = await logs.appendSettled([{ ref: bad, records: [{ kind: 'ACK', uuid: U2 }] }]);
  assert.is(retried!.status, 'fulfilled');
  // ACKs alone are not synced, but a failed file is well again only once something is durable in it.
  assert.is(logs.stats.syncs, 1, 'the reopened file\'s first append (ACKs alone) was fdatasync\'d');
  const contents = await readRecordLog(badFile);
  assert.is(contents.tornTail, false, 'cut back to what was durable (nothing) before appending');
  assert.equal(contents.records, [{ kind: 'ACK', uuid: U2 }]);
  assert.not.ok(health.degraded);
  assert.equal(episodes, ['start bad', 'end']);
});

/** A seeded pseudo-random sequence: the same cases on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

Logs('a compaction from what it tracked writes what reading the file back would: across evictions, failed appends, out-of-order and repeated ACKs', async (context) => {
  for (const batching of [true, false]) {
    const keepAcked = 4;
    // One log open at a time: switching task evicts the other, which is then reopened with history in it.
    const logs = new TaskLogs(context.dir, { batching, maxOpenLogs: 1, compactAtBytes: 2048, keepAcked });
    context.logs.push(logs);
    const next = random(batching ? 7 : 11);
    const tasks = ['a', 'b'].map((id) => ref(context.dir, `${id}-${batching}`));
    // What each file must hold: its records as appended, compacted whenever the log was. Compacted
    // from what was read back, it is compactRecords of the file; compacted from memory, compactRecords
    // of every record since the file was last read (the two differ in the order of updates
    // acknowledged out of order: memory keeps the order they were appended in).
    const file = tasks.map((): LogRecord[] => []);
    const sinceRead = tasks.map((): LogRecord[] => []);
    const unacked = tasks.map((): string[] => []);
    const acked = tasks.map((): string[] => []);
    let current = 0;
    let refused = 0;
    for (let step = 0; step < 700; step += 1) {
      if (next() < 0.03) current = 1 - current;
      const task = tasks[current]!;
      const records: LogRecord[] = [];
      const roll = next();
      if (roll < 0.5 || unacked[current]!.length === 0) {
        const uuid = randomUUID();
        records.push({ kind: 'UPDATE', status: { taskId: task.taskId, state: 'TASK_RUNNING', uuid, timestamp: step, message: 'x'.repeat(Math.floor(next() * 300)) } });
        unacked[current]!.push(uuid);
        // Sometimes the same update twice (a retried write of one not acknowledged yet).
        if (next() < 0.1) records.push(records[0]!);
      } else if (roll < 0.85) {
        // An ACK of any unacknowledged update: out of order.
        const [uuid] = unacked[current]!.splice(Math.floor(next() * unacked[current]!.length), 1);
        records.push({ kind: 'ACK', uuid: uuid! });
        acked[current]!.push(uuid!);
      } else if (roll < 0.98) {
        // A repeated ACK, or one of an uuid this log never held.
        const uuid = acked[current]!.length > 0 && next() < 0.5 ? acked[current]![Math.floor(next() * acked[current]!.length)]! : randomUUID();
        records.push({ kind: 'ACK', uuid });
      } else {
        // Refused before anything is written: the log stays open, the file as it was.
        const result = await logs.appendSettled([{ ref: task, records: [{ kind: 'ACK', uuid: 'not-an-uuid' }] }]);
        assert.is(result[0]!.status, 'rejected');
        refused += 1;
        continue;
      }
      const before = { all: logs.compactions, fromMemory: logs.compactionsFromMemory };
      await logs.append([{ ref: task, records }]);
      await logs.open(task); // waits for a compaction it started
      file[current]!.push(...records);
      sinceRead[current]!.push(...records);
      if (logs.compactionsFromMemory > before.fromMemory) {
        file[current] = compactRecords(sinceRead[current]!, keepAcked);
      } else if (logs.compactions > before.all) {
        file[current] = compactRecords(file[current]!, keepAcked);
        sinceRead[current] = [...file[current]!];
      }
      const onDisk = (await readRecordLog(taskUpdatesPath(context.dir, task), { strict: true })).records;
      assert.equal(onDisk, file[current], `step ${step}: task ${task.taskId}`);
    }
    const fromDisk = logs.compactions - logs.compactionsFromMemory;
    assert.ok(refused > 0, 'some appends were refused');
    assert.ok(logs.compactionsFromMemory >= 5, `${logs.compactionsFromMemory} compactions from memory`);
    assert.ok(fromDisk >= 1, `${fromDisk} compactions that read the file back (after a reopen or a refused append)`);
  }
});

Logs.run();
