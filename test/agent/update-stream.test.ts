import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskState } from '../../src/protocol/index.js';
import { BackoffTimer, REAL_TIMERS } from '../../src/agent/backoff-timer.js';
import { admitNext, approximateBytes, newStream, removeEntry, streamKey, unadmit, type Entry, type Stream } from '../../src/agent/update-stream.js';

function entry(uuid: string, state: TaskState = 'TASK_RUNNING', message?: string): Entry {
  const status = { taskId: 't1', state, uuid, timestamp: 0, source: 'SOURCE_EXECUTOR' as const, agentId: 'a1', executorId: 'e1', ...(message ? { message } : {}) };
  return { update: { frameworkId: 'f1', status }, durable: false, attempts: 0, bytes: approximateBytes(status) };
}

function stream(...entries: Entry[]): Stream {
  const s = newStream('f1', 't1', new BackoffTimer(REAL_TIMERS, 1, 1), new BackoffTimer(REAL_TIMERS, 1, 1));
  for (const e of entries) {
    s.queue.push(e);
    s.uuids.set(e.update.status.uuid, Promise.resolve());
  }
  return s;
}

const test = suite('update stream');

test('is keyed by framework and task', () => {
  assert.is(streamKey(stream()), 'f1/t1');
});

test('admits entries in order until the count bound', () => {
  const s = stream(entry('a'), entry('b'), entry('c'));
  const bound = { maxUpdates: 2, maxBytes: 1 << 20 };
  assert.is(admitNext(s, bound)?.update.status.uuid, 'a');
  assert.is(admitNext(s, bound)?.update.status.uuid, 'b');
  assert.is(admitNext(s, bound), undefined);
  assert.is(s.admitted, 2);
  assert.is(s.admittedBytes, s.queue.at(0)!.bytes + s.queue.at(1)!.bytes);
  unadmit(s, s.queue.at(0)!);
  assert.is(s.admitted, 1);
});

test('always admits the first entry, even one over the byte bound, and no more past it', () => {
  const big = entry('a', 'TASK_RUNNING', 'x'.repeat(1_000));
  const s = stream(big, entry('b'));
  const bound = { maxUpdates: 10, maxBytes: 500 };
  assert.is(admitNext(s, bound), big);
  assert.is(admitNext(s, bound), undefined);
});

test('unadmits an entry once only', () => {
  const s = stream(entry('a'));
  const a = admitNext(s, { maxUpdates: 10, maxBytes: 1 << 20 })!;
  unadmit(s, a);
  unadmit(s, a);
  assert.is(s.admitted, 0);
  assert.is(s.admittedBytes, 0);
});

test('removing an entry forgets its uuid, and the stream ends only if a terminal update is left', () => {
  const running = entry('a');
  const finished = entry('b', 'TASK_FINISHED');
  const s = stream(running, finished);
  s.terminated = true;
  admitNext(s, { maxUpdates: 10, maxBytes: 1 << 20 });
  removeEntry(s, running);
  assert.ok(s.terminated);
  assert.is(s.admitted, 0);
  removeEntry(s, finished);
  assert.not.ok(s.terminated);
  assert.equal(s.queue.toArray(), []);
  assert.equal([...s.uuids.keys()], []);
});

test.run();
