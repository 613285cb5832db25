import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointUpdateStore, type RecordAppender } from '../../src/agent/checkpoint-store.js';
import type { ForwardedStatus } from '../../src/agent/status-update-manager.js';
import type { TaskRef } from '../../src/checkpoint/layout.js';
import type { LogRecord } from '../../src/checkpoint/records.js';

function status(taskId: string): ForwardedStatus {
  return { taskId, state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now(), source: 'SOURCE_EXECUTOR', agentId: 'a1', executorId: 'e1' };
}

function ref(taskId: string): TaskRef {
  return { agentId: 'a1', frameworkId: 'f1', executorId: 'e1', containerId: 'c1', taskId };
}

class Appender implements RecordAppender {
  readonly calls: Array<ReadonlyArray<{ ref: TaskRef; record: LogRecord }>> = [];
  async appendRecords(entries: ReadonlyArray<{ ref: TaskRef; record: LogRecord }>): Promise<void> {
    this.calls.push(entries);
  }
}

const test = suite('CheckpointUpdateStore');

test('appends the records of checkpointed tasks in one call, as UPDATE and ACK records', async () => {
  const appender = new Appender();
  const store = new CheckpointUpdateStore(appender, (_f, taskId) => (taskId === 'plain' ? undefined : ref(taskId)));
  const a = status('t1');
  const b = status('t2');
  await store.append([
    { kind: 'UPDATE', frameworkId: 'f1', status: a },
    { kind: 'UPDATE', frameworkId: 'f1', status: status('plain') },
    { kind: 'ACK', frameworkId: 'f1', taskId: 't1', uuid: a.uuid },
    { kind: 'UPDATE', frameworkId: 'f1', status: b },
  ]);
  assert.is(appender.calls.length, 1);
  assert.equal(appender.calls[0], [
    { ref: ref('t1'), record: { kind: 'UPDATE', status: a } },
    { ref: ref('t1'), record: { kind: 'ACK', uuid: a.uuid } },
    { ref: ref('t2'), record: { kind: 'UPDATE', status: b } },
  ]);
  assert.is(store.batches, 1);
});

test('writes nothing for tasks that are not checkpointed', async () => {
  const appender = new Appender();
  const store = new CheckpointUpdateStore(appender, () => undefined);
  await store.append([{ kind: 'UPDATE', frameworkId: 'f1', status: status('t1') }]);
  assert.is(appender.calls.length, 0);
  assert.is(store.batches, 0);
});

test('waits for a task whose task.json is still being written, and skips one that failed', async () => {
  const appender = new Appender();
  let release!: (value: TaskRef) => void;
  const pending = new Promise<TaskRef>((resolve) => (release = resolve));
  const store = new CheckpointUpdateStore(appender, (_f, taskId) => (taskId === 'slow' ? pending : Promise.reject(new Error('disk full'))));
  let done = false;
  const appended = store.append([
    { kind: 'UPDATE', frameworkId: 'f1', status: status('slow') },
    { kind: 'UPDATE', frameworkId: 'f1', status: status('failed') },
  ]).then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.not.ok(done);
  release(ref('slow'));
  await appended;
  assert.equal(appender.calls[0]!.map((entry) => entry.ref.taskId), ['slow']);
});

test('rejects bad options by name', () => {
  assert.throws(() => new CheckpointUpdateStore({} as RecordAppender, () => undefined), /appender/);
  assert.throws(() => new CheckpointUpdateStore(new Appender(), 'x' as never), /resolve/);
});

test.run();
