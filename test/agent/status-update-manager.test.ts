import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LifelineError, type TaskState } from '../../src/protocol/index.js';
import {
  MemoryUpdateStore,
  StatusUpdateManager,
  type ForwardedStatus,
  type StatusUpdate,
  type Timers,
  type UpdateRecord,
  type UpdateStore,
} from '../../src/agent/status-update-manager.js';
import { UUID_TRIM_EVERY, UUID_WINDOW } from '../../src/agent/uuid-window.js';
import { waitFor } from '../helpers.js';

/** Timers the test fires by hand, remembering every delay asked for. */
class ManualTimers implements Timers {
  readonly delays: number[] = [];
  #pending: Array<{ callback: () => void; ms: number }> = [];

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { callback, ms };
    this.#pending.push(timer);
    this.delays.push(ms);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#pending = this.#pending.filter((timer) => timer !== handle);
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** Fires the oldest pending timer. */
  fire(): void {
    const timer = this.#pending.shift();
    if (!timer) throw new Error('no timer pending');
    timer.callback();
  }
}

function status(taskId: string, state: TaskState = 'TASK_RUNNING', uuid = randomUUID()): ForwardedStatus {
  return { taskId, state, uuid, timestamp: Date.now(), source: 'SOURCE_EXECUTOR', agentId: 'a1', executorId: 'e1' };
}

function setup(options: { store?: UpdateStore; min?: number; max?: number; deliver?: () => boolean } = {}) {
  const forwarded: Array<{ update: StatusUpdate; resend: boolean }> = [];
  const acknowledged: StatusUpdate[] = [];
  const timers = new ManualTimers();
  const store = options.store ?? new MemoryUpdateStore();
  const manager = new StatusUpdateManager({
    store,
    retryIntervalMinMs: options.min ?? 100,
    retryIntervalMaxMs: options.max ?? 400,
    timers,
    forward: (update, resend) => {
      forwarded.push({ update, resend });
      return options.deliver ? options.deliver() : true;
    },
    onAcknowledged: (update) => acknowledged.push(update),
  });
  const uuids = () => forwarded.map((f) => f.update.status.uuid);
  return { manager, forwarded, acknowledged, timers, store, uuids };
}

const test = suite('StatusUpdateManager');

test('forwards the updates of a task in order, one in flight until each is acknowledged', async () => {
  const { manager, uuids } = setup();
  const [a, b, c] = [status('t1', 'TASK_STARTING'), status('t1', 'TASK_RUNNING'), status('t1', 'TASK_FINISHED')];
  const receipts = [a, b, c].map((s) => manager.update('f1', s));
  assert.equal(receipts.map((r) => r.outcome), ['recorded', 'recorded', 'recorded']);
  await Promise.all(receipts.map((r) => r.recorded));
  assert.equal(uuids(), [a.uuid]);
  assert.ok(await manager.acknowledge('f1', 't1', a.uuid));
  assert.equal(uuids(), [a.uuid, b.uuid]);
  assert.ok(await manager.acknowledge('f1', 't1', b.uuid));
  assert.equal(uuids(), [a.uuid, b.uuid, c.uuid]);
  assert.ok(await manager.acknowledge('f1', 't1', c.uuid));
  assert.is(manager.pendingCount(), 0);
});

test('keeps the streams of different tasks independent', async () => {
  const { manager, uuids } = setup();
  const a = status('t1');
  const b = status('t2');
  await manager.update('f1', a).recorded;
  await manager.update('f1', b).recorded;
  assert.equal(uuids(), [a.uuid, b.uuid]);
  assert.equal(manager.pending('f1', 't1').map((s) => s.uuid), [a.uuid]);
});

test('resends the update in flight with exponential backoff capped at the maximum', async () => {
  const { manager, forwarded, timers } = setup({ min: 100, max: 400 });
  const a = status('t1');
  await manager.update('f1', a).recorded;
  for (let i = 0; i < 4; i++) timers.fire();
  assert.equal(timers.delays, [100, 200, 400, 400, 400]);
  assert.equal(forwarded.map((f) => [f.update.status.uuid, f.resend]), [
    [a.uuid, false], [a.uuid, true], [a.uuid, true], [a.uuid, true], [a.uuid, true],
  ]);
  assert.ok(await manager.acknowledge('f1', 't1', a.uuid));
  assert.is(timers.pending, 0, 'no resend timer after the acknowledgement');
});

test('starts the next update with a fresh backoff after an acknowledgement', async () => {
  const { manager, timers } = setup({ min: 100, max: 400 });
  const a = status('t1');
  const b = status('t1');
  manager.update('f1', a);
  await manager.update('f1', b).recorded;
  timers.fire();
  timers.fire();
  await manager.acknowledge('f1', 't1', a.uuid);
  assert.equal(timers.delays, [100, 200, 400, 100]);
});

test('acknowledges a repeated uuid again without storing or forwarding it twice', async () => {
  const { manager, forwarded, store } = setup();
  const a = status('t1');
  const first = manager.update('f1', a);
  const again = manager.update('f1', { ...a });
  assert.is(first.outcome, 'recorded');
  assert.is(again.outcome, 'duplicate');
  await Promise.all([first.recorded, again.recorded]);
  await manager.acknowledge('f1', 't1', a.uuid);
  const later = manager.update('f1', { ...a });
  assert.is(later.outcome, 'duplicate', 'still a duplicate after the framework acknowledged it');
  await later.recorded;
  assert.is((store as MemoryUpdateStore).records.filter((r) => r.kind === 'UPDATE').length, 1);
  assert.is(forwarded.length, 1);
});

test('forwards repeated updates with the same state but new uuids', async () => {
  const { manager, uuids } = setup();
  const a = status('t1', 'TASK_RUNNING');
  const b = status('t1', 'TASK_RUNNING');
  manager.update('f1', a);
  await manager.update('f1', b).recorded;
  await manager.acknowledge('f1', 't1', a.uuid);
  assert.equal(uuids(), [a.uuid, b.uuid]);
});

test('ignores an acknowledgement that is not for the update in flight', async () => {
  const { manager } = setup();
  const a = status('t1');
  const b = status('t1');
  manager.update('f1', a);
  await manager.update('f1', b).recorded;
  assert.not.ok(await manager.acknowledge('f1', 't1', b.uuid));
  assert.not.ok(await manager.acknowledge('f1', 't1', randomUUID()));
  assert.not.ok(await manager.acknowledge('f1', 'nope', a.uuid));
  assert.equal(manager.pending('f1', 't1').map((s) => s.uuid), [a.uuid, b.uuid]);
  assert.is(manager.pendingCount('f1', 't1'), 2, 'pendingCount of a task counts what pending lists');
  assert.is(manager.pendingCount('f1', 'nope'), 0, 'and a stream it does not know has none');
  assert.ok(await manager.acknowledge('f1', 't1', a.uuid));
  assert.is(manager.pendingCount('f1', 't1'), 1);
});

test('resends every head update at once on resume, with a fresh backoff', async () => {
  let deliver = false;
  const { manager, forwarded, timers } = setup({ min: 100, max: 400, deliver: () => deliver });
  const a = status('t1');
  const b = status('t2');
  const c = status('t1');
  manager.update('f1', a);
  manager.update('f1', b);
  await manager.update('f1', c).recorded;
  timers.fire();
  assert.is(forwarded.length, 3, 'two first sends and one resend while disconnected');
  deliver = true;
  manager.resume();
  assert.equal(forwarded.slice(3).map((f) => f.update.status.uuid).sort(), [a.uuid, b.uuid].sort());
  assert.ok(forwarded.slice(3).every((f) => f.resend));
  assert.equal(timers.delays.slice(-2), [100, 100]);
});

test('records the updates that arrive in one turn of the event loop in one batch', async () => {
  const store = new MemoryUpdateStore();
  const { manager } = setup({ store });
  const receipts = ['t1', 't2', 't3', 't1'].map((taskId) => manager.update('f1', status(taskId)));
  await Promise.all(receipts.map((r) => r.recorded));
  assert.is(store.batches, 1);
  assert.is(store.records.length, 4);
});

test('forwards nothing and settles nothing before the store says the records are durable', async () => {
  let release!: () => void;
  const appended: UpdateRecord[][] = [];
  const store: UpdateStore = {
    append(records) {
      appended.push([...records]);
      return new Promise((resolve) => (release = resolve));
    },
  };
  const { manager, forwarded } = setup({ store });
  let settled = false;
  const receipt = manager.update('f1', status('t1'));
  void receipt.recorded.then(() => (settled = true));
  await waitFor(() => appended.length === 1, { message: 'the append' });
  assert.not.ok(settled);
  assert.is(forwarded.length, 0);
  release();
  await receipt.recorded;
  assert.is(forwarded.length, 1);
});

test('forgets an update whose record failed, so that its resend counts as new', async () => {
  let fail = true;
  const store: UpdateStore = {
    async append() {
      if (fail) throw new Error('disk full');
    },
  };
  const { manager, forwarded } = setup({ store });
  const a = status('t1', 'TASK_FINISHED');
  const receipt = manager.update('f1', a);
  const error = await receipt.recorded.then(() => undefined, (e: Error) => e);
  assert.match(String(error?.message), /disk full/);
  assert.is(forwarded.length, 0);
  fail = false;
  const again = manager.update('f1', { ...a });
  assert.is(again.outcome, 'recorded', 'not a duplicate, and not after a terminal update');
  await again.recorded;
  assert.is(forwarded.length, 1);
});

test('ignores updates after a terminal one', async () => {
  const { manager, forwarded } = setup();
  await manager.update('f1', status('t1', 'TASK_FAILED')).recorded;
  const late = manager.update('f1', status('t1', 'TASK_RUNNING'));
  assert.is(late.outcome, 'ignored');
  await late.recorded;
  assert.is(forwarded.length, 1);
});

test('reports when every update has been acknowledged', async () => {
  const { manager, acknowledged } = setup();
  const a = status('t1');
  await manager.update('f1', a).recorded;
  const drained = manager.whenDrained(10_000);
  await manager.acknowledge('f1', 't1', a.uuid);
  assert.ok(await drained);
  assert.equal(acknowledged.map((u) => u.status.uuid), [a.uuid]);
  assert.ok(await manager.whenDrained(10));
});

test('forgets the streams of a removed framework', async () => {
  const { manager, timers } = setup();
  await manager.update('f1', status('t1')).recorded;
  await manager.update('f2', status('t1')).recorded;
  manager.forget('f1');
  assert.is(manager.pendingCount('f1'), 0);
  assert.is(manager.pendingCount(), 1);
  assert.is(timers.pending, 1);
});

test('restores a stream from its checkpoint: unacknowledged updates wait in order, every uuid counts as seen', async () => {
  const { manager, forwarded, uuids } = setup();
  const [a, b, c] = [status('t1', 'TASK_STARTING'), status('t1', 'TASK_RUNNING'), status('t1', 'TASK_FINISHED')];
  manager.restore('f1', 't1', [a, b, c], new Set([a.uuid]), { agentId: a.agentId, executorId: a.executorId });
  assert.equal(manager.pending('f1', 't1').map((s) => s.uuid), [b.uuid, c.uuid]);
  assert.is(forwarded.length, 0, 'nothing is sent before resume()');
  manager.resume();
  assert.equal(uuids(), [b.uuid]);
  assert.is(manager.update('f1', { ...a }).outcome, 'duplicate', 'an acknowledged update replayed by the executor');
  assert.is(manager.update('f1', { ...c }).outcome, 'duplicate');
  assert.is(manager.update('f1', status('t1', 'TASK_RUNNING')).outcome, 'ignored', 'the stream had ended');
  assert.ok(await manager.acknowledge('f1', 't1', b.uuid));
  assert.equal(uuids(), [b.uuid, c.uuid]);
  assert.throws(() => manager.restore('f1', 't1', [], new Set(), { agentId: 'a1', executorId: 'e1' }), /already exists/);
});

test('settles idle() once every record handed to the store is appended', async () => {
  let release!: () => void;
  const store: UpdateStore = { append: () => new Promise((resolve) => (release = resolve)) };
  const { manager } = setup({ store });
  manager.update('f1', status('t1'));
  let idle = false;
  const waiting = manager.idle().then(() => (idle = true));
  await waitFor(() => release !== undefined, { message: 'the append' });
  assert.not.ok(idle);
  release();
  await waiting;
  assert.ok(idle);
});

test('rejects bad options by name', () => {
  const forward = () => true;
  assert.throws(() => new StatusUpdateManager({ forward, retryIntervalMinMs: 0, retryIntervalMaxMs: 1 }), /retryIntervalMinMs/);
  assert.throws(() => new StatusUpdateManager({ forward, retryIntervalMinMs: 10, retryIntervalMaxMs: 5 }), /retryIntervalMaxMs/);
});

/** A store whose disk refuses the records of the tasks in `failing` (per record, as the Checkpointer does). */
class FailingStore implements UpdateStore {
  readonly failing = new Set<string>();
  readonly written: UpdateRecord[] = [];
  calls = 0;

  async append(records: readonly UpdateRecord[]): Promise<unknown[]> {
    this.calls++;
    return records.map((record) => {
      const taskId = record.kind === 'UPDATE' ? record.status.taskId : record.taskId;
      if (this.failing.has(taskId)) return new LifelineError('ERR_DISK', `cannot make records durable in ${taskId}/task.updates: ENOSPC`);
      this.written.push(record);
      return undefined;
    });
  }
}

test('a record the disk refuses stalls only its stream; its updates are retried in order on a backoff and acknowledged once durable', async () => {
  const store = new FailingStore();
  store.failing.add('t1');
  const { manager, timers, uuids } = setup({ store });
  const [a, b, c] = [status('t1'), status('t1'), status('t1', 'TASK_FINISHED')];
  const other = status('t2');
  let durable = 0;
  const receipts = [a, b].map((s) => manager.update('f1', s));
  for (const receipt of receipts) void receipt.recorded.then(() => void durable++);
  await manager.update('f1', other).recorded;
  assert.equal(uuids(), [other.uuid], 'the other task is durable and forwarded');
  assert.ok(await manager.acknowledge('f1', 't2', other.uuid));
  await manager.idle();
  const later = manager.update('f1', c); // the stream is stalled: it waits for the retry
  void later.recorded.then(() => void durable++);
  await manager.idle();
  assert.is(durable, 0, 'nothing of the failing stream is durable, nothing acknowledged');
  const calls = store.calls;
  assert.is(timers.pending, 1, 'only the disk retry of t1 (nothing spins)');
  assert.equal(timers.delays.slice(-1), [100]);
  timers.fire(); // t1's retry: still failing, the backoff doubles
  await manager.idle();
  assert.is(store.calls, calls + 1, 'one retry, with every unrecorded update of the stream');
  assert.equal(timers.delays.slice(-1), [200]);
  store.failing.clear();
  timers.fire();
  await Promise.all([...receipts.map((r) => r.recorded), later.recorded]);
  assert.is(durable, 3);
  const order = store.written.flatMap((r) => (r.kind === 'UPDATE' && r.status.taskId === 't1' ? [r.status.uuid] : []));
  assert.equal(order, [a.uuid, b.uuid, c.uuid], 'recorded in the order they came');
  assert.equal(uuids().filter((u) => u !== other.uuid), [a.uuid], 'then the head is forwarded');
});

test('an acknowledgement the disk refuses leaves its update in flight, resent on its backoff, not at once', async () => {
  const store = new FailingStore();
  const { manager, forwarded, timers } = setup({ store, min: 100, max: 400 });
  const a = status('t1');
  await manager.update('f1', a).recorded;
  assert.is(forwarded.length, 1);
  store.failing.add('t1');
  for (let i = 0; i < 50; i++) await manager.acknowledge('f1', 't1', a.uuid).catch(() => {});
  assert.is(forwarded.length, 1, 'no resend at once, however many acknowledgements fail');
  assert.is(timers.pending, 1);
  timers.fire();
  assert.is(forwarded.length, 2, 'resent when its timer fires');
  store.failing.clear();
  assert.ok(await manager.acknowledge('f1', 't1', a.uuid));
  assert.is(manager.pendingCount(), 0);
});

test('a stream past its bound records (and so acknowledges) nothing more until the framework acknowledges; nothing is dropped', async () => {
  const store = new MemoryUpdateStore();
  const forwarded: string[] = [];
  const manager = new StatusUpdateManager({ store, retryIntervalMinMs: 100, retryIntervalMaxMs: 400, timers: new ManualTimers(), maxStreamUpdates: 3, forward: (update) => {
    forwarded.push(update.status.uuid);
    return true;
  } });
  const statuses = Array.from({ length: 5 }, () => status('t1'));
  let durable = 0;
  const receipts = statuses.map((s) => manager.update('f1', s));
  for (const receipt of receipts) void receipt.recorded.then(() => void durable++);
  assert.equal(receipts.map((r) => r.outcome), ['recorded', 'recorded', 'recorded', 'recorded', 'recorded']);
  await manager.idle();
  await Promise.resolve();
  assert.is(durable, 3, 'three recorded: the bound');
  assert.is(store.records.length, 3);
  assert.is(manager.update('f1', { ...statuses[4]! }).outcome, 'duplicate', 'a waiting update is known (a resend is a duplicate)');
  assert.ok(await manager.acknowledge('f1', 't1', statuses[0]!.uuid));
  await manager.idle();
  await Promise.resolve();
  assert.is(durable, 4, 'one acknowledged: one more recorded');
  assert.ok(await manager.acknowledge('f1', 't1', statuses[1]!.uuid));
  await Promise.all(receipts.map((r) => r.recorded));
  assert.equal(store.records.filter((r) => r.kind === 'UPDATE').map((r) => (r.kind === 'UPDATE' ? r.status.uuid : '')), statuses.map((s) => s.uuid), 'all recorded, in order');
  assert.equal(forwarded.slice(0, 3), statuses.slice(0, 3).map((s) => s.uuid));
});

test('remembers the uuids in flight and a window of acknowledged ones, not a stream\'s whole history', async () => {
  const { manager } = setup();
  const first = status('t1');
  await manager.update('f1', first).recorded;
  await manager.acknowledge('f1', 't1', first.uuid);
  for (let i = 0; i < UUID_WINDOW + 500; i++) {
    const next = status('t1');
    await manager.update('f1', next).recorded;
    assert.ok(await manager.acknowledge('f1', 't1', next.uuid));
  }
  const inFlight = [status('t1'), status('t1')];
  await Promise.all(inFlight.map((s) => manager.update('f1', s).recorded));
  // 10,501 ACKs: the window was last trimmed (to UUID_WINDOW) at the 10,496th, 5 ACKs ago.
  assert.is((UUID_WINDOW + 501) % UUID_TRIM_EVERY, 5);
  assert.is(manager.rememberedUuids('f1', 't1'), UUID_WINDOW + 5 + inFlight.length, 'the window of acknowledged ones, and those in flight');
  // The updates in flight are still recognised when the executor resends them; the oldest acknowledged one is forgotten.
  assert.is(manager.update('f1', inFlight[1]!).outcome, 'duplicate');
  assert.is(manager.update('f1', first).outcome, 'recorded');
});

test.run();
