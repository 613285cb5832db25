import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runDir, taskUpdatesPath, type TaskRef } from '../../src/checkpoint/layout.js';
import { readRecordLog } from '../../src/checkpoint/record-log.js';
import { DiskError, DiskHealth } from '../../src/checkpoint/disk-health.js';
import { encodeRecords } from '../../src/checkpoint/record-frame.js';
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
    await logs.append([{ ref: task, records: [{ kind: 'ACK', uuid: U1 }] }]);
    await logs.closeRun(runDir(context.dir, task));
    assert.is(logs.openLogs, 0);
    await logs.append([{ ref: task, records: [{ kind: 'ACK', uuid: U2 }] }]);
    const { records } = await readRecordLog(taskUpdatesPath(context.dir, task));
    assert.equal(records, [{ kind: 'ACK', uuid: U1 }, { kind: 'ACK', uuid: U2 }]);
    assert.ok(logs.stats.syncs >= 2);
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
  const contents = await readRecordLog(badFile);
  assert.is(contents.tornTail, false, 'cut back to what was durable (nothing) before appending');
  assert.equal(contents.records, [{ kind: 'ACK', uuid: U2 }]);
  assert.not.ok(health.degraded);
  assert.equal(episodes, ['start bad', 'end']);
});

Logs.run();
