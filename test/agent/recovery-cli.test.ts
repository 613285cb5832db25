// The agent's recovery through the built CLI: a separate agent process that is kill -9'd, signalled
// and restarted on one work dir, with a fake master and fake executors subscribing in the name of
// real fixture processes.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, getJson, isAlive, waitFor } from '../helpers.js';
import { Harness, framework, readLog, subscribeCall, update } from './recovery-harness.js';

const h = new Harness();
const CHECKPOINTED = framework('f2', true);

const test = suite('lifeline agent recovery');
test.before.each(() => h.setUp());
test.after.each(() => h.tearDown());

async function running(port: number): Promise<void> {
  await waitFor(async () => {
    const { status, body } = await getJson(`http://127.0.0.1:${port}/state`);
    return status === 200 && (body as { status: string }).status === 'RUNNING';
  }, { message: `the agent on port ${port} to be RUNNING` });
}

test('acknowledges an update to the executor only once its record is in task.updates', async () => {
  const master = await h.startMaster();
  master.autoAck = false;
  const port = await freePort();
  h.cliAgent(port);
  await running(port);
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const file = h.taskUpdates(record, 't1');
  const early: string[] = [];
  let acks = 0;
  executor.onEvent = (event) => {
    if (event.type !== 'ACKNOWLEDGED') return;
    acks++;
    // Read at the moment the ACKNOWLEDGED arrives (the agent is another process): the record must be there.
    if (!readLog(file).some((r) => r.kind === 'UPDATE' && r.status.uuid === event.uuid)) early.push(event.uuid as string);
  };
  const updates = Array.from({ length: 50 }, () => update('t1', 'TASK_RUNNING'));
  for (const u of updates) executor.send(u);
  await waitFor(() => acks === updates.length, { message: 'every update acknowledged' });
  assert.equal(early, [], 'acknowledged before durable');
});

test('kill -9: the restarted agent takes the live executor\'s replay and re-registers; SIGUSR1 then shuts everything down', async () => {
  const master = await h.startMaster();
  master.autoAck = false;
  const port = await freePort();
  const first = h.cliAgent(port, ['--executor_reregistration_timeout=10secs']);
  await running(port);
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const starting = update('t1', 'TASK_STARTING');
  executor.send(starting);
  await executor.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === starting.status.uuid);
  first.signal('SIGKILL');
  await first.waitForExit();
  executor.terminate();
  assert.ok(isAlive(record.pid), 'the executor outlives a kill -9 of its agent');
  // Sent while the agent is down: the executor keeps it unacknowledged and replays it.
  const runningUpdate = update('t1', 'TASK_RUNNING');

  const second = h.cliAgent(port, ['--executor_reregistration_timeout=10secs']);
  const again = await h.connect();
  again.send(subscribeCall(record, { unacknowledgedUpdates: [starting.status, runningUpdate.status] }));
  await again.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === runningUpdate.status.uuid);
  const reregister = await master.waitForCall('REREGISTER');
  assert.equal(reregister.tasks.map((t) => [t.task.taskId, t.state, t.unacknowledgedState, t.unacknowledgedUuid]), [['t1', 'TASK_RUNNING', 'TASK_STARTING', starting.status.uuid]]);
  await waitFor(() => master.statusUpdates().filter((s) => s.uuid === starting.status.uuid).length >= 2, { message: 'the head resent after re-registration' });
  master.acknowledge('f2', 't1', starting.status.uuid);
  const forwarded = await master.waitForStatus('t1', 'TASK_RUNNING');
  assert.is(forwarded.uuid, runningUpdate.status.uuid);
  master.acknowledge('f2', 't1', runningUpdate.status.uuid);
  await running(port);

  master.autoAck = true;
  second.signal('SIGUSR1');
  await again.waitForEvent('SHUTDOWN');
  // The fake executor ignores it: the agent kills the process after the grace period.
  const failed = await master.waitForStatus('t1', 'TASK_FAILED', 15_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${second.stderr.slice(-6000)}`);
  });
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.is((await second.waitForExit()).code, 0);
  assert.not.ok(isAlive(record.pid));
  await master.waitForCall('UNREGISTER');
  assert.not.ok(fs.existsSync(path.join(h.meta, 'agents', 'latest')), 'meta/agents/latest removed');
});

test('SIGTERM leaves a checkpointed executor running; a corrupt checkpoint then fails strict recovery with exit 1; cleanup exits 0', async () => {
  const master = await h.startMaster();
  const port = await freePort();
  const first = h.cliAgent(port);
  await running(port);
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  executor.send(update('t1', 'TASK_RUNNING'));
  await executor.waitForEvent('ACKNOWLEDGED');
  first.signal('SIGTERM');
  assert.is((await first.waitForExit()).code, 0);
  assert.ok(isAlive(record.pid), 'SIGTERM leaves a checkpointed executor running');
  assert.ok(fs.existsSync(path.join(h.meta, 'agents', 'latest')));
  assert.is(master.callsOf('UNREGISTER').length, 0);

  // A damaged record in task.updates (not the last one): strict recovery names the file and offset.
  const file = h.taskUpdates(record, 't1');
  const bytes = fs.readFileSync(file);
  const intact = Buffer.from(bytes);
  const copy = Buffer.concat([bytes, bytes]);
  copy[14] = copy[14]! ^ 0xff; // inside the first record's payload; an intact record follows
  fs.writeFileSync(file, copy);
  const strict = h.cliAgent(port);
  const exit = await strict.waitForExit();
  assert.is(exit.code, 1);
  assert.ok(strict.stderr.includes(file), strict.stderr);
  assert.match(strict.stderr, /offset 0/);
  assert.match(strict.stderr, /--strict=false/);
  assert.ok(isAlive(record.pid), 'a failed recovery touches no executor');
  fs.writeFileSync(file, intact);

  const cleanup = h.cliAgent(port, ['--recover=cleanup']);
  assert.is((await cleanup.waitForExit()).code, 0);
  assert.not.ok(isAlive(record.pid));
  assert.not.ok(master.calls.some((call) => call.type === 'REREGISTER'), 'cleanup does not register');
  const last = readLog(file).filter((r) => r.kind === 'UPDATE').at(-1);
  assert.is(last?.kind === 'UPDATE' && last.status.state, 'TASK_FAILED');
});

test.run();
