// Unit tests of SchedulerDriver against a fake master (a real ws server in the test).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, type Offer, type RoutedTaskStatus } from '../../src/protocol/index.js';
import { SchedulerDriver, type SchedulerDriverOptions } from '../../src/scheduler/index.js';
import { freePort, Proc, waitFor, withTimeout } from '../helpers.js';
import { FakeMaster } from './fake-master.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/stop-driver.js', import.meta.url));

interface Context {
  master: FakeMaster;
  drivers: SchedulerDriver[];
  procs: Proc[];
}

function makeDriver(ctx: Context, options: Partial<SchedulerDriverOptions> = {}): SchedulerDriver {
  const driver = new SchedulerDriver({
    master: ctx.master.address,
    frameworkInfo: { name: 'test-framework' },
    backoffMinMs: 20,
    backoffMaxMs: 100,
    onError: () => {},
    ...options,
  });
  ctx.drivers.push(driver);
  return driver;
}

function status(fields: Partial<RoutedTaskStatus> = {}): RoutedTaskStatus {
  return {
    taskId: 'task-1',
    state: 'TASK_RUNNING',
    uuid: randomUUID(),
    timestamp: Date.now(),
    source: 'SOURCE_EXECUTOR',
    agentId: 'agent-1',
    executorId: 'task-1',
    ...fields,
  };
}

const Driver = suite<Context>('SchedulerDriver');

Driver.before.each(async (ctx) => {
  ctx.master = await FakeMaster.start();
  ctx.drivers = [];
  ctx.procs = [];
});

Driver.after.each(async (ctx) => {
  await Promise.all(ctx.drivers.map((d) => d.stop()));
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.master.close();
});

Driver('subscribes and resolves start() with the framework id the master gave', async (ctx) => {
  ctx.master.frameworkId = 'fw-given';
  const subscribed: string[] = [];
  const driver = makeDriver(ctx, {
    frameworkInfo: { name: 'my-framework', checkpoint: true, failoverTimeoutMs: 5000 },
    onSubscribed: (id) => void subscribed.push(id),
  });
  const id = await withTimeout(driver.start(), 10_000, 'start()');
  assert.is(id, 'fw-given');
  assert.is(driver.frameworkId, 'fw-given');
  assert.is(driver.state, 'SUBSCRIBED');
  assert.equal(subscribed, ['fw-given']);
  const [subscribe] = ctx.master.callsOf('SUBSCRIBE');
  assert.equal(subscribe!.frameworkInfo, { name: 'my-framework', checkpoint: true, failoverTimeoutMs: 5000 });
});

Driver('delivers OFFERS and RESCIND to their callbacks', async (ctx) => {
  const offers: Offer[][] = [];
  const rescinded: string[] = [];
  const driver = makeDriver(ctx, { onOffers: (o) => void offers.push(o), onRescind: (id) => void rescinded.push(id) });
  await driver.start();
  const offer: Offer = { id: 'offer-1', agentId: 'agent-1', hostname: 'localhost', resources: { cpus: 2, mem: 1024, disk: 100 } };
  ctx.master.send({ type: 'OFFERS', offers: [offer] });
  ctx.master.send({ type: 'RESCIND', offerId: 'offer-1' });
  await waitFor(() => rescinded.length === 1, { message: 'RESCIND delivered' });
  assert.equal(offers, [[offer]]);
  assert.equal(rescinded, ['offer-1']);
});

Driver('acknowledges an UPDATE with a uuid after onUpdate has resolved', async (ctx) => {
  const log: string[] = [];
  const driver = makeDriver(ctx, {
    onUpdate: async (s) => {
      log.push(`update ${s.state}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      log.push('update done');
    },
  });
  await driver.start();
  const update = status();
  ctx.master.send({ type: 'UPDATE', status: update });
  const [ack] = await ctx.master.waitForCalls('ACKNOWLEDGE');
  assert.equal(ack, { type: 'ACKNOWLEDGE', agentId: 'agent-1', taskId: 'task-1', uuid: update.uuid! });
  assert.equal(log, ['update TASK_RUNNING', 'update done']);
});

Driver('does not acknowledge a status without a uuid', async (ctx) => {
  const seen: RoutedTaskStatus[] = [];
  const driver = makeDriver(ctx, { onUpdate: (s) => void seen.push(s) });
  await driver.start();
  const { uuid: _none, ...reconciled } = status({ taskId: 'task-a', reason: 'REASON_RECONCILIATION', source: 'SOURCE_MASTER' });
  const real = status({ taskId: 'task-b' });
  ctx.master.send({ type: 'UPDATE', status: reconciled });
  ctx.master.send({ type: 'UPDATE', status: real });
  // Callbacks and acks happen in order: once task-b's ack is in, task-a's would have come first.
  await ctx.master.waitForCalls('ACKNOWLEDGE');
  const acks = ctx.master.callsOf('ACKNOWLEDGE');
  assert.equal(acks.map((a) => a.taskId), ['task-b']);
  assert.equal(seen.map((s) => s.taskId), ['task-a', 'task-b']);
});

Driver('leaves acknowledgement to the framework with autoAcknowledge false', async (ctx) => {
  const driver = makeDriver(ctx, { autoAcknowledge: false, onUpdate: (s) => void driver.acknowledge(s) });
  await driver.start();
  const update = status({ taskId: 'task-manual' });
  ctx.master.send({ type: 'UPDATE', status: update });
  const [ack] = await ctx.master.waitForCalls('ACKNOWLEDGE');
  assert.is(ack!.uuid, update.uuid);
  assert.is(ctx.master.callsOf('ACKNOWLEDGE').length, 1);
});

Driver('reconnects and re-subscribes with its framework id after the master drops the connection', async (ctx) => {
  let disconnects = 0;
  const subscribed: string[] = [];
  const driver = makeDriver(ctx, { onDisconnected: () => void disconnects++, onSubscribed: (id) => void subscribed.push(id) });
  await driver.start();
  ctx.master.holdSubscribe = true;
  ctx.master.dropAll();
  await waitFor(() => ctx.master.callsOf('SUBSCRIBE').length === 2, { message: 'second SUBSCRIBE' });
  assert.is(driver.state, 'SUBSCRIBING');
  // Made while not subscribed: queued, sent after the new SUBSCRIBED.
  driver.kill('task-queued');
  ctx.master.answerSubscribe();
  await ctx.master.waitForCalls('KILL');
  const second = ctx.master.callsOf('SUBSCRIBE')[1]!;
  assert.is(second.frameworkInfo.id, 'fw-1');
  const onNew = ctx.master.calls.filter((c) => c.connection === ctx.master.connections.length - 1).map((c) => c.call.type);
  assert.equal(onNew, ['SUBSCRIBE', 'KILL']);
  assert.is(disconnects, 1);
  await waitFor(() => subscribed.length === 2, { message: 'second onSubscribed' });
  assert.equal(subscribed, ['fw-1', 'fw-1']);
});

Driver('keeps retrying while the master is unreachable and subscribes once it is up', async (ctx) => {
  const port = await freePort();
  const errors: Error[] = [];
  const driver = makeDriver(ctx, { master: `127.0.0.1:${port}`, onError: (e) => void errors.push(e) });
  const started = driver.start();
  await waitFor(() => errors.length >= 2, { message: 'two failed attempts' });
  assert.is((errors[0] as { code?: string }).code, 'ERR_CONNECTION');
  assert.ok(driver.state === 'DISCONNECTED' || driver.state === 'CONNECTING', driver.state);
  await driver.stop();
  await started.then(
    () => assert.unreachable('start() should reject after stop()'),
    (error: { code?: string }) => assert.is(error.code, 'ERR_DRIVER_STOPPED'),
  );
});

Driver('treats three missed heartbeat intervals as a broken connection', async (ctx) => {
  ctx.master.heartbeatIntervalMs = 30;
  let disconnects = 0;
  const driver = makeDriver(ctx, { onDisconnected: () => void disconnects++ });
  await driver.start();
  await waitFor(() => ctx.master.callsOf('SUBSCRIBE').length >= 2, { message: 're-SUBSCRIBE after missed heartbeats' });
  assert.ok(disconnects >= 1);
  ctx.master.heartbeatIntervalMs = 15_000;
});

Driver('reports an event it cannot validate with ERR_PROTOCOL and keeps its connection', async (ctx) => {
  const errors: Array<Error & { code?: string }> = [];
  const offered: string[] = [];
  const driver = makeDriver(ctx, { onError: (e) => void errors.push(e), onOffers: (offers) => void offered.push(...offers.map((o) => o.id)) });
  await driver.start();
  ctx.master.send(encode({ type: 'OFFERS', offers: 'not a list' }));
  // The OFFERS that broke every driver: a resource over the bound (cpus 1e306 became Infinity).
  ctx.master.send(encode({ type: 'OFFERS', offers: [{ id: 'o-big', agentId: 'a1', hostname: 'h', resources: { cpus: 1e306, mem: 1 } }] }));
  ctx.master.send(encode({ type: 'OFFERS', offers: [{ id: 'o-good', agentId: 'a1', hostname: 'h', resources: { cpus: 1, mem: 1 } }] }));
  await waitFor(() => offered.includes('o-good'), { message: 'the valid OFFERS after two invalid ones' });
  assert.equal(offered, ['o-good']);
  assert.is(errors.length, 2, errors.map((e) => e.message).join('\n'));
  assert.ok(errors.every((e) => e.code === 'ERR_PROTOCOL'));
  assert.match(errors[0]!.message, /OFFERS.*offers/);
  assert.match(errors[1]!.message, /cpus/);
  assert.is(ctx.master.callsOf('SUBSCRIBE').length, 1, 'no reconnection');
  assert.is(driver.state, 'SUBSCRIBED');
});

Driver("stops for good when the master answers ERROR, rejecting start()", async (ctx) => {
  ctx.master.holdSubscribe = true;
  const errors: Error[] = [];
  const driver = makeDriver(ctx, { onError: (e) => void errors.push(e) });
  const started = driver.start();
  await ctx.master.waitForCalls('SUBSCRIBE');
  ctx.master.send({ type: 'ERROR', code: 'ERR_PROTOCOL', message: 'framework fw-x has been removed' });
  await started.then(
    () => assert.unreachable('start() should reject'),
    (error: Error) => assert.match(error.message, /has been removed/),
  );
  assert.is(driver.state, 'STOPPED');
  assert.is(errors.length, 1);
  assert.throws(() => driver.kill('t'), /driver is stopped/);
});

Driver('validates calls before sending them, naming the bad field', async (ctx) => {
  const driver = makeDriver(ctx);
  assert.throws(() => driver.kill('t'), /call start\(\) first/);
  await driver.start();
  assert.throws(() => driver.kill('../x'), /taskId.*"\.\.\/x"/);
  assert.throws(() => driver.accept(['offer-1'], [{ taskId: 'a/b', name: 't', resources: { cpus: 1, mem: 1 } }]), /taskId.*"a\/b"/);
  assert.throws(() => driver.decline(['offer-1'], -1), /refuseSeconds/);
  assert.throws(() => driver.start(), /cannot start a scheduler driver in SUBSCRIBED state/);
});

Driver('sends ACCEPT, DECLINE, RECONCILE and MESSAGE as given', async (ctx) => {
  const driver = makeDriver(ctx);
  await driver.start();
  const task = { taskId: 'task-9', name: 'nine', agentId: 'agent-1', resources: { cpus: 0.5, mem: 64 }, command: { value: 'true' } };
  driver.accept(['offer-1'], [task]);
  driver.decline(['offer-2'], 30);
  driver.reconcile(['task-9']);
  driver.sendMessage('agent-1', 'task-9', new Uint8Array([1, 2, 3]));
  await ctx.master.waitForCalls('MESSAGE');
  assert.equal(ctx.master.callsOf('ACCEPT'), [{ type: 'ACCEPT', offerIds: ['offer-1'], tasks: [task] }]);
  assert.equal(ctx.master.callsOf('DECLINE'), [{ type: 'DECLINE', offerIds: ['offer-2'], refuseSeconds: 30 }]);
  assert.equal(ctx.master.callsOf('RECONCILE'), [{ type: 'RECONCILE', taskIds: ['task-9'] }]);
  assert.equal([...ctx.master.callsOf('MESSAGE')[0]!.data], [1, 2, 3]);
});

Driver('teardown() sends TEARDOWN and stops the driver', async (ctx) => {
  const driver = makeDriver(ctx);
  await driver.start();
  await driver.teardown();
  await ctx.master.waitForCalls('TEARDOWN');
  assert.is(driver.state, 'STOPPED');
});

Driver('teardown() while not subscribed waits for the subscription, then sends TEARDOWN', async (ctx) => {
  const driver = makeDriver(ctx);
  await driver.start();
  ctx.master.holdSubscribe = true;
  ctx.master.dropAll();
  await waitFor(() => ctx.master.callsOf('SUBSCRIBE').length === 2, { message: 'second SUBSCRIBE' });
  const tornDown = driver.teardown();
  ctx.master.answerSubscribe();
  await withTimeout(tornDown, 10_000, 'teardown()');
  await ctx.master.waitForCalls('TEARDOWN');
  assert.is(driver.state, 'STOPPED');
});

Driver('reports a callback that throws and leaves that update unacknowledged', async (ctx) => {
  const errors: Error[] = [];
  const driver = makeDriver(ctx, {
    onError: (e) => void errors.push(e),
    onUpdate: (s) => {
      if (s.taskId === 'task-bad') throw new Error('callback broke');
    },
  });
  await driver.start();
  ctx.master.send({ type: 'UPDATE', status: status({ taskId: 'task-bad' }) });
  ctx.master.send({ type: 'UPDATE', status: status({ taskId: 'task-good' }) });
  await ctx.master.waitForCalls('ACKNOWLEDGE');
  assert.equal(ctx.master.callsOf('ACKNOWLEDGE').map((a) => a.taskId), ['task-good']);
  assert.equal(errors.map((e) => e.message), ['callback broke']);
  assert.throws(() => driver.acknowledge({ agentId: 'agent-1', taskId: 'task-bad', uuid: undefined }), /invalid ACKNOWLEDGE call: field uuid/);
});

for (const mode of ['subscribed', 'subscribing', 'reconnecting'] as const) {
  Driver(`leaves nothing that keeps the process alive after stop() (${mode})`, async (ctx) => {
    if (mode === 'subscribing') ctx.master.holdSubscribe = true;
    const master = mode === 'reconnecting' ? `127.0.0.1:${await freePort()}` : ctx.master.address;
    const proc = new Proc(process.execPath, [FIXTURE, master, mode]);
    ctx.procs.push(proc);
    const exit = await proc.waitForExit(10_000);
    assert.equal(exit, { code: 0, signal: null }, proc.stderr);
    assert.match(proc.stdout, /stopped STOPPED/);
    if (mode === 'subscribed') assert.match(proc.stdout, /subscribed fw-1/);
    else assert.match(proc.stdout, /start rejected ERR_DRIVER_STOPPED/);
  });
}

Driver.run();

const Options = suite('SchedulerDriver options');

const base = { master: '127.0.0.1:5050', frameworkInfo: { name: 'x' } };
const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['master', { master: 'localhost' }, /option master must be .*"localhost"/],
  ['master port', { master: '127.0.0.1:99999' }, /option master .*"127.0.0.1:99999"/],
  ['frameworkInfo', { frameworkInfo: undefined }, /option frameworkInfo must be/],
  ['frameworkInfo.name', { frameworkInfo: { name: 7 } }, /option frameworkInfo.name must be .*7/],
  ['frameworkInfo.id', { frameworkInfo: { name: 'x', id: '../up' } }, /frameworkInfo.id.*"\.\.\/up"/],
  ['frameworkInfo.checkpoint', { frameworkInfo: { name: 'x', checkpoint: 'yes' } }, /option frameworkInfo.checkpoint must be a boolean, got "yes"/],
  ['frameworkInfo.failoverTimeoutMs', { frameworkInfo: { name: 'x', failoverTimeoutMs: -1 } }, /option frameworkInfo.failoverTimeoutMs .*-1/],
  ['autoAcknowledge', { autoAcknowledge: 'no' }, /option autoAcknowledge must be a boolean, got "no"/],
  ['onUpdate', { onUpdate: 'print' }, /option onUpdate must be a function, got "print"/],
  ['backoffMinMs', { backoffMinMs: 0 }, /option backoffMinMs must be a positive number, got 0/],
];
for (const [name, override, pattern] of bad) {
  Options(`rejects a bad ${name} with an error naming the option and the value`, () => {
    try {
      new SchedulerDriver({ ...base, ...override } as unknown as SchedulerDriverOptions);
      assert.unreachable('constructor should throw');
    } catch (error) {
      assert.match((error as Error).message, pattern);
      assert.ok(['ERR_INVALID_OPTION', 'ERR_INVALID_ID'].includes((error as { code: string }).code));
    }
  });
}

Options('accepts an IPv6 master address', () => {
  const driver = new SchedulerDriver({ ...base, master: '[::1]:5050' });
  assert.is(driver.state, 'IDLE');
});

Options.run();
