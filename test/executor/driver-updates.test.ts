// The ExecutorDriver's update path on its own (src/executor/driver-updates.ts): an update is sent
// only once durable, in order and never ahead of one that is not durable yet, only while
// subscribed; it resolves on its acknowledgement; a full backlog holds updates back in call order;
// stop() rejects the rest. The sender records calls; the outbox is a stand-in whose appends the
// test makes durable one by one, except in the last test, which uses the real Outbox on disk.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRecordLog } from '../../src/checkpoint/record-log.js';
import { UpdateQueue, type UpdateSender } from '../../src/executor/driver-updates.js';
import { Outbox } from '../../src/executor/outbox.js';
import { LifelineError, type ExecutorCall, type TaskStatus } from '../../src/protocol/index.js';
import { removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';

function status(n: number, message = `update ${n}`): TaskStatus {
  return { taskId: 'task-1', state: 'TASK_RUNNING', uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, timestamp: 1, source: 'SOURCE_EXECUTOR', message };
}

/** A sender that records the UPDATE calls it is given; `subscribed` as the test sets it. */
function sender(subscribed = true) {
  const sent: string[] = [];
  const s: UpdateSender & { on: boolean } = {
    on: subscribed,
    subscribed: () => s.on,
    send: (call: ExecutorCall) => {
      if (call.type === 'UPDATE') sent.push(call.status.message ?? '');
      return true;
    },
  };
  return { sender: s, sent };
}

/** An outbox whose appendUpdate() settles when the test says (durable()); it records ACKs. */
function outbox() {
  const appends = new Map<string, () => void>();
  const acks: string[] = [];
  const fake = {
    appendUpdate: (s: TaskStatus) => new Promise<void>((resolve) => appends.set(s.uuid, resolve)),
    appendAck: (uuid: string) => void acks.push(uuid),
  };
  /** Makes update `n` durable, and lets its then() run. */
  const durable = async (n: number) => {
    appends.get(status(n).uuid)!();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { outbox: fake as unknown as Outbox, appends, acks, durable };
}

function settled(promise: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const result: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (result.state = 'resolved'),
    (error: unknown) => Object.assign(result, { state: 'rejected', error }),
  );
  return result;
}

const Updates = suite('UpdateQueue');

Updates('an update is recorded in the backlog and the outbox at once, sent once durable, and resolves on its acknowledgement', async () => {
  const { sender: s, sent } = sender();
  const { outbox: o, appends, acks, durable } = outbox();
  const queue = new UpdateQueue(s);
  queue.attach(o);
  const acknowledged = settled(queue.add(status(1)));
  assert.equal(queue.backlog.updates(), [status(1)]);
  assert.ok(appends.has(status(1).uuid), 'handed to the outbox');
  assert.equal(sent, [], 'not sent before it is durable');
  await durable(1);
  assert.equal(sent, ['update 1']);
  assert.is(acknowledged.state, 'pending', 'sent is not acknowledged');
  queue.acknowledge(status(1).uuid);
  await Promise.resolve();
  assert.is(acknowledged.state, 'resolved');
  assert.equal(acks, [status(1).uuid], 'the acknowledgement is recorded in the outbox');
  assert.is(queue.backlog.size, 0);
});

Updates('updates are sent in the order made: one that becomes durable early waits for the one before it', async () => {
  const { sender: s, sent } = sender();
  const { outbox: o, durable } = outbox();
  const queue = new UpdateQueue(s);
  queue.attach(o);
  for (const n of [1, 2, 3]) void queue.add(status(n));
  await durable(2);
  await durable(3);
  assert.equal(sent, [], 'update 1 is not durable yet');
  await durable(1);
  assert.equal(sent, ['update 1', 'update 2', 'update 3']);
});

Updates('nothing is sent while not subscribed; pump() sends what is durable once subscribed, each update once', async () => {
  const { sender: s, sent } = sender(false);
  const { outbox: o, durable } = outbox();
  const queue = new UpdateQueue(s);
  queue.attach(o);
  void queue.add(status(1));
  void queue.add(status(2));
  await durable(1);
  await durable(2);
  assert.equal(sent, []);
  s.on = true;
  queue.pump();
  queue.pump();
  assert.equal(sent, ['update 1', 'update 2']);
});

Updates('updates a SUBSCRIBE carried (sentUpTo) are not sent again as UPDATE on that connection', async () => {
  const { sender: s, sent } = sender(false);
  const { outbox: o, durable } = outbox();
  const queue = new UpdateQueue(s);
  queue.attach(o);
  for (const n of [1, 2, 3]) void queue.add(status(n));
  for (const n of [1, 2, 3]) await durable(n);
  queue.sentUpTo(2); // a new connection's SUBSCRIBE carried updates 1 and 2
  s.on = true;
  queue.pump();
  assert.equal(sent, ['update 3']);
  queue.sentUpTo(0); // the next connection's SUBSCRIBE carried nothing: all go again
  queue.pump();
  assert.equal(sent, ['update 3', 'update 1', 'update 2', 'update 3']);
});

Updates('an acknowledgement for an update that is not pending is ignored: no ACK record, nothing resolved', async () => {
  const { sender: s } = sender();
  const { outbox: o, acks } = outbox();
  const queue = new UpdateQueue(s);
  queue.attach(o);
  const pending = settled(queue.add(status(1)));
  queue.acknowledge(status(9).uuid);
  await Promise.resolve();
  assert.equal(acks, []);
  assert.is(pending.state, 'pending');
});

Updates('a full backlog holds updates back in call order, even one small enough to fit, until an acknowledgement makes room', async () => {
  const { sender: s, sent } = sender();
  const { outbox: o, appends, durable } = outbox();
  // A status is ~200 bytes plus its message (backlog.ts): two with 500-character messages do not fit in 1000.
  const queue = new UpdateQueue(s, { maxBacklogBytes: 1_000 });
  queue.attach(o);
  void queue.add(status(1, 'a'.repeat(500)));
  void queue.add(status(2, 'b'.repeat(500)));
  void queue.add(status(3, ''));
  assert.equal(queue.backlog.size, 1, 'update 2 waits for room, and update 3 waits behind it');
  assert.not.ok(appends.has(status(3).uuid), 'a waiting update is not made yet: not in the outbox either');
  await durable(1);
  queue.acknowledge(status(1).uuid);
  assert.equal(queue.backlog.updates().map((u) => u.uuid), [status(2).uuid, status(3).uuid], 'both fit now, in call order');
  await durable(2);
  await durable(3);
  assert.equal(sent.map((m) => m.slice(0, 1)), ['a', 'b', '']);
});

Updates('the count bound holds updates back the same way', async () => {
  const { sender: s } = sender();
  const { outbox: o, durable } = outbox();
  const queue = new UpdateQueue(s, { maxBacklogUpdates: 2 });
  queue.attach(o);
  for (const n of [1, 2, 3]) void queue.add(status(n));
  assert.is(queue.backlog.size, 2);
  await durable(1);
  queue.acknowledge(status(1).uuid);
  assert.equal(queue.backlog.updates().map((u) => u.message), ['update 2', 'update 3']);
});

Updates('boundBy() sets the bound the agent gave (LIFELINE_BACKLOG_MAX_*) where the options left it open', async () => {
  const { sender: s } = sender();
  const { outbox: o } = outbox();
  const fromAgent = new UpdateQueue(s);
  fromAgent.boundBy({ maxBacklogUpdates: 2, maxBacklogBytes: 1_000_000 });
  fromAgent.attach(o);
  for (const n of [1, 2, 3]) void fromAgent.add(status(n));
  assert.is(fromAgent.backlog.size, 2, "the agent's bound");
  const given = new UpdateQueue(s, { maxBacklogUpdates: 3 });
  given.boundBy({ maxBacklogUpdates: 1, maxBacklogBytes: 1_000_000 });
  given.attach(outbox().outbox);
  for (const n of [1, 2, 3, 4]) void given.add(status(n));
  assert.is(given.backlog.size, 3, 'an option given to the driver wins');
});

Updates('stop() rejects every update not acknowledged, waiting for room or not, and admits no more', async () => {
  const { sender: s } = sender();
  const { outbox: o, durable } = outbox();
  const queue = new UpdateQueue(s, { maxBacklogUpdates: 1 });
  queue.attach(o);
  const first = settled(queue.add(status(1)));
  const second = settled(queue.add(status(2)));
  const reason = new LifelineError('ERR_DRIVER_STOPPED', 'the executor driver was stopped');
  queue.stop(reason);
  await Promise.resolve();
  assert.is(first.state, 'rejected');
  assert.is(first.error, reason);
  assert.is(second.state, 'rejected');
  await durable(1);
  queue.acknowledge(status(1).uuid);
  assert.is(queue.backlog.size, 0, 'the waiting update was dropped with its promise, not admitted');
});

Updates('with the real outbox, the UPDATE record is on disk before it is sent, and the ACK follows it', async () => {
  const dir = tempDir('ll-updates-');
  const real = new Outbox(path.join(dir, 'outbox.log'), { onFailure: () => {} });
  try {
    const { sender: s, sent } = sender();
    const queue = new UpdateQueue(s);
    queue.attach(real);
    await real.opened;
    const acknowledged = queue.add(status(1));
    await waitFor(() => sent.length === 1 || undefined, { message: 'update 1 to be sent', timeoutMs: 5_000 });
    const before = await readRecordLog(real.path);
    assert.equal(before.records, [{ kind: 'UPDATE', status: status(1) }], 'durable before it was sent');
    queue.acknowledge(status(1).uuid);
    await withTimeout(acknowledged, 5_000, 'the acknowledged update to resolve');
    await real.close();
    const after = await readRecordLog(real.path);
    assert.equal(after.records.map((r) => r.kind), ['UPDATE', 'ACK']);
  } finally {
    await real.close();
    removeDir(dir);
  }
});

Updates.run();
