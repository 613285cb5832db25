import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GroupCommitter } from '../../src/checkpoint/group-commit.js';
import { encodeCheckedRecord } from '../../src/checkpoint/record-frame.js';
import { readRecordLog, RecordLog } from '../../src/checkpoint/record-log.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { removeDir, tempDir, withTimeout } from '../helpers.js';

let dir = '';
const logs: RecordLog[] = [];

function update(taskId = 't1', state: 'TASK_RUNNING' | 'TASK_FINISHED' = 'TASK_RUNNING', message?: string): LogRecord {
  return { kind: 'UPDATE', status: { taskId, state, uuid: randomUUID(), timestamp: Date.now(), ...(message ? { message } : {}) } };
}
async function openLog(name: string): Promise<RecordLog> {
  const log = await RecordLog.open(path.join(dir, name));
  logs.push(log);
  return log;
}

function setup() {
  dir = tempDir('ll-gcommit-');
}
async function teardown() {
  await Promise.all(logs.splice(0).map((log) => log.close()));
  removeDir(dir);
}

const groupCommit = suite('group commit');
groupCommit.before.each(setup);
groupCommit.after.each(teardown);

/** Wraps a log's sync() to count the fdatasync calls made on it. */
function countSyncs(log: RecordLog): { count: number } {
  const counter = { count: 0 };
  const original = log.sync.bind(log);
  log.sync = () => {
    counter.count += 1;
    return original();
  };
  return counter;
}

groupCommit('resolves every append of one turn after one fdatasync per touched file', async () => {
  const committer = new GroupCommitter();
  const files = await Promise.all(['a', 'b', 'c', 'd'].map((name) => openLog(`${name}.updates`)));
  const counters = files.map(countSyncs);
  const written = new Map<RecordLog, LogRecord[]>(files.map((log) => [log, []]));
  const appends: Promise<void>[] = [];
  for (let round = 0; round < 5; round += 1) {
    for (const log of files.slice(0, 3)) {
      const record = update(`task-${round}`);
      written.get(log)!.push(record);
      appends.push(committer.append(log, record));
    }
  }
  await withTimeout(Promise.all(appends), 10_000, 'group commit');
  assert.equal(counters.map((counter) => counter.count), [1, 1, 1, 0]);
  assert.equal(committer.stats, { batches: 1, syncs: 3, records: 15, unsynced: 0 });
  for (const log of files) assert.equal((await readRecordLog(log.path)).records, written.get(log));

  // A later turn is a new batch.
  const later = update('later');
  written.get(files[3]!)!.push(later);
  await committer.append(files[3]!, [later]);
  assert.equal(counters.map((counter) => counter.count), [1, 1, 1, 1]);
  assert.is(committer.stats.batches, 2);
});

groupCommit('appends made while a batch commits form the next batch, in order', async () => {
  const committer = new GroupCommitter();
  const log = await openLog('task.updates');
  const counter = countSyncs(log);
  const records = Array.from({ length: 30 }, (_, index) => update(`t${index}`));
  const appends: Promise<void>[] = [];
  const order: number[] = [];
  for (let index = 0; index < 10; index += 1) {
    appends.push(committer.append(log, records[index]!).then(() => void order.push(index)));
  }
  // Wait until the first batch has started (its write is queued), then add more.
  await new Promise((resolve) => setImmediate(resolve));
  for (let index = 10; index < 30; index += 1) {
    appends.push(committer.append(log, records[index]!).then(() => void order.push(index)));
  }
  await withTimeout(Promise.all(appends), 10_000, 'group commit');
  await committer.idle();
  assert.equal(order, [...order].sort((a, b) => a - b));
  assert.is(counter.count, 2);
  assert.is(committer.stats.batches, 2);
  assert.equal((await readRecordLog(log.path)).records, records);
});

groupCommit('rejects only the appends of a file that failed', async () => {
  const committer = new GroupCommitter();
  const good = await openLog('good.updates');
  const bad = await openLog('bad.updates');
  await bad.close();
  const results = await Promise.allSettled([committer.append(good, update()), committer.append(bad, update()), committer.append(good, update())]);
  assert.equal(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((results[1] as PromiseRejectedResult).reason.message), /CLOSED/);
  assert.is((await readRecordLog(good.path)).records.length, 2);
});

groupCommit('rejects an invalid record at once without touching the batch', async () => {
  const committer = new GroupCommitter();
  const log = await openLog('task.updates');
  const bad = committer.append(log, { kind: 'ACK' } as unknown as LogRecord);
  const good = committer.append(log, update());
  try {
    await bad;
    assert.unreachable('expected a rejection');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_PROTOCOL');
  }
  await good;
  assert.is((await readRecordLog(log.path)).records.length, 1);
});

groupCommit('batching: false writes and fdatasyncs every append on its own', async () => {
  const committer = new GroupCommitter({ batching: false });
  const files = await Promise.all(['a', 'b'].map((name) => openLog(`${name}.updates`)));
  const counters = files.map(countSyncs);
  const records = Array.from({ length: 6 }, (_, index) => update(`t${index}`));
  await withTimeout(Promise.all(records.map((record, index) => committer.append(files[index % 2]!, record))), 10_000, 'unbatched appends');
  assert.equal(counters.map((counter) => counter.count), [3, 3]);
  assert.equal(committer.stats, { batches: 6, syncs: 6, records: 6, unsynced: 0 });
  assert.equal((await readRecordLog(files[0]!.path)).records, records.filter((_, index) => index % 2 === 0));
  assert.equal((await readRecordLog(files[1]!.path)).records, records.filter((_, index) => index % 2 === 1));
});

groupCommit('sync: false appends are written with the batch and not synced for it; a file with any synced append is synced once', async () => {
  const committer = new GroupCommitter();
  const [acksOnly, mixed] = await Promise.all(['acks.updates', 'mixed.updates'].map((name) => openLog(name)));
  const counters = [acksOnly!, mixed!].map(countSyncs);
  const ack = (uuid: string): LogRecord => ({ kind: 'ACK', uuid });
  const first = update('t1');
  const appends = [
    committer.append(acksOnly!, ack(randomUUID()), { sync: false }),
    committer.append(acksOnly!, ack(randomUUID()), { sync: false }),
    committer.append(mixed!, ack(randomUUID()), { sync: false }),
    committer.append(mixed!, first),
  ];
  await withTimeout(Promise.all(appends), 10_000, 'mixed appends');
  assert.equal(counters.map((counter) => counter.count), [0, 1], 'no fdatasync for the file of ACKs alone; one for the file with an UPDATE');
  assert.equal(committer.stats, { batches: 1, syncs: 1, records: 2, unsynced: 2 });
  assert.is((await readRecordLog(acksOnly!.path)).records.length, 2, 'the unsynced records are written');
  assert.is(acksOnly!.durableSize, 0, 'and not known durable');
  assert.is(mixed!.durableSize, mixed!.size, 'the synced file\'s sync covers its unsynced record too');
  // batching: false too
  const alone = new GroupCommitter({ batching: false });
  const counter = countSyncs(mixed!);
  await withTimeout(alone.append(mixed!, ack(randomUUID()), { sync: false }), 5_000, 'an unsynced append alone');
  await withTimeout(alone.append(mixed!, update('t2')), 5_000, 'a synced append alone');
  assert.is(counter.count, 1);
  assert.equal(alone.stats, { batches: 2, syncs: 1, records: 1, unsynced: 1 });
});

groupCommit('an unsynced append resolves without waiting for the batch\'s fdatasyncs', async () => {
  const committer = new GroupCommitter();
  const [slow, acks] = await Promise.all(['slow.updates', 'acks.updates'].map((name) => openLog(name)));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const original = slow!.sync.bind(slow!);
  slow!.sync = () => held.then(original);
  const synced = committer.append(slow!, update('t1'));
  let syncedDone = false;
  void synced.then(() => (syncedDone = true));
  let written = false;
  const unsynced = committer.append(acks!, { kind: 'ACK', uuid: randomUUID() }, { sync: false }).then(() => (written = true));
  await withTimeout(unsynced, 5_000, 'the unsynced append, while the other file\'s fdatasync is held');
  assert.ok(written);
  assert.not.ok(syncedDone, 'the other file\'s append still waits for its held fdatasync');
  release();
  await withTimeout(synced, 5_000, 'the synced append');
});

groupCommit('refuses a non-boolean batching option', () => {
  assert.throws(() => new GroupCommitter({ batching: 'no' as unknown as boolean }), /option batching must be a boolean/);
});

groupCommit('tells its observers each fdatasync\'s duration and each batch\'s record count, until they stop observing', async () => {
  const a = await openLog('a.log');
  const b = await openLog('b.log');
  const synced: number[] = [];
  const committed: number[] = [];
  const stop = GroupCommitter.observe({ synced: (seconds) => synced.push(seconds), committed: (records) => committed.push(records) });
  try {
    const committer = new GroupCommitter();
    await Promise.all([committer.append(a, update('t1')), committer.append(a, [update('t2'), update('t3')]), committer.append(b, update('t4'))]);
    assert.is(synced.length, 2, 'one fdatasync per file');
    for (const seconds of synced) assert.ok(seconds >= 0 && seconds < 60, String(seconds));
    assert.equal(committed, [4], 'one batch of four records');
    const alone = new GroupCommitter({ batching: false });
    await alone.append(a, update('t5'));
    assert.equal(committed, [4, 1]);
  } finally {
    stop();
  }
  await new GroupCommitter().append(b, update('t6'));
  assert.equal(committed, [4, 1], 'nothing reported once stopped');
});

groupCommit('appendEncoded writes frames already made, in order with append(), counting the records they hold', async () => {
  for (const batching of [true, false]) {
    const committer = new GroupCommitter({ batching });
    const log = await openLog(`encoded-${batching}.updates`);
    const first = update('t1');
    const framed = [update('t1'), update('t1', 'TASK_FINISHED')];
    const appends = [committer.append(log, first), committer.appendEncoded(log, framed.map(encodeCheckedRecord), framed.length)];
    await withTimeout(Promise.all(appends), 10_000, `appends (batching ${batching})`);
    assert.equal((await readRecordLog(log.path)).records, [first, ...framed], `batching ${batching}`);
    assert.is(committer.stats.records, 3, `batching ${batching}: three records durable`);
  }
});

groupCommit.run();
