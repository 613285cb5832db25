// What the agent does with executor connections, against a real node model: SUBSCRIBE checked and
// answered, queued tasks launched, UPDATEs acknowledged once recorded, a recovering executor's
// never-received task lost. Connections are stand-ins (unit test); the endpoint has its own tests.
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { ExecutorSessions } from '../../src/agent/executor-sessions.js';
import { ExecutorLauncher } from '../../src/agent/launcher.js';
import { MasterSession } from '../../src/agent/master-session.js';
import { RecoveryFlow } from '../../src/agent/recovery-flow.js';
import { RunEnding } from '../../src/agent/run-ending.js';
import { EXECUTOR_PROTOCOL_VERSION, type ExecutorSubscribe } from '../../src/protocol/index.js';
import { waitFor, withTimeout } from '../helpers.js';
import { FakeConnection, ModelHarness, TOKEN, task } from './model-harness.js';

const test = suite('ExecutorSessions');
let h: ModelHarness;
let master: MasterSession | undefined;
test.after.each(async () => {
  await master?.link.close();
  master = undefined;
  await h?.close();
});

function start(): ExecutorSessions {
  h = new ModelHarness({ checkpoint: false });
  h.model.adoptRecoveredId('agent-1');
  h.model.lifecycle.transition('DISCONNECTED');
  const ending = new RunEnding(h.model);
  master = new MasterSession({ model: h.model, launcher: new ExecutorLauncher(h.model, ending), ending, onShutdown: () => {} });
  return new ExecutorSessions(h.model, new RecoveryFlow(h.model, ending), ending, master);
}

const subscribe = (extra: Partial<ExecutorSubscribe> = {}): ExecutorSubscribe => ({
  type: 'SUBSCRIBE',
  frameworkId: 'fw-1',
  executorId: 'ex-1',
  containerId: 'c-ex-1',
  token: TOKEN,
  protocol: EXECUTOR_PROTOCOL_VERSION,
  unacknowledgedTasks: [],
  unacknowledgedUpdates: [],
  ...extra,
});

test('tells an executor of an unknown framework or run to SHUTDOWN', () => {
  const sessions = start();
  const unknown = new FakeConnection();
  sessions.subscribe(unknown.asConnection, subscribe());
  assert.is(unknown.shutdown?.reason, 'unknown framework');
  h.run(h.framework());
  const wrongRun = new FakeConnection();
  sessions.subscribe(wrongRun.asConnection, subscribe({ containerId: 'c-other' }));
  assert.is(wrongRun.shutdown?.reason, 'unknown executor run');
});

test('refuses a wrong token with ERR_UNAUTHORIZED and a protocol range it does not serve with ERR_PROTOCOL_VERSION, naming both', () => {
  const sessions = start();
  h.run(h.framework());
  const badToken = new FakeConnection();
  sessions.subscribe(badToken.asConnection, subscribe({ token: 'not-the-token' }));
  assert.is(badToken.failed?.code, 'ERR_UNAUTHORIZED');
  const badProtocol = new FakeConnection();
  sessions.subscribe(badProtocol.asConnection, subscribe({ protocol: 7, protocolMax: 9, release: '3.0.0' }));
  assert.is(badProtocol.failed?.code, 'ERR_PROTOCOL_VERSION');
  assert.match(badProtocol.failed?.message ?? '', /executor ex-1 speaks protocols 7\.\.9 \(lifeline 3\.0\.0\) and this peer speaks protocols 1\.\.2 \(lifeline 0\.2\.0\)/);
});

test('serves a 0.1.0 executor (protocol 1 exactly) and a newer one at the highest common version, and shows both in /state', () => {
  const sessions = start();
  const run = h.run(h.framework());
  const old = new FakeConnection();
  sessions.subscribe(old.asConnection, subscribe({ protocol: 1 }));
  assert.ok(old.accepted, 'a protocol 1 executor is served');
  const subscribed = old.sent.find((event) => event.type === 'SUBSCRIBED') as { protocol?: number; release?: string } | undefined;
  assert.is(subscribed?.protocol, 1);
  assert.equal([run.protocol, run.release], [1, undefined]);
  const newer = new FakeConnection();
  sessions.subscribe(newer.asConnection, subscribe({ protocol: 1, protocolMax: 5, release: '0.4.0' }));
  assert.ok(newer.accepted);
  assert.is((newer.sent.find((event) => event.type === 'SUBSCRIBED') as { protocol?: number }).protocol, 2);
  assert.equal([run.protocol, run.release], [2, '0.4.0']);
});

test('logs a version refusal once per executor at error level, and does not count it as a reason to kill', () => {
  const sessions = start();
  const run = h.run(h.framework());
  for (let i = 0; i < 3; i++) {
    const connection = new FakeConnection();
    sessions.subscribe(connection.asConnection, subscribe({ protocol: 3, protocolMax: 3 }));
    assert.is(connection.failed?.code, 'ERR_PROTOCOL_VERSION');
  }
  assert.ok(run.versionRefused);
  assert.is(h.logLines().filter((line) => line.level === 50 && /SUBSCRIBE refused/.test(String(line.msg))).length, 1);
});

test('accepts its executor: SUBSCRIBED, then LAUNCH for every queued task; the run is RUNNING', () => {
  const sessions = start();
  const run = h.run(h.framework());
  h.model.addTask(run, task('t1'));
  const connection = new FakeConnection();
  sessions.subscribe(connection.asConnection, subscribe());
  assert.equal(connection.accepted, { frameworkId: 'fw-1', executorId: 'ex-1', containerId: 'c-ex-1' });
  assert.equal(connection.sent.map((event) => event.type), ['SUBSCRIBED', 'LAUNCH']);
  assert.is(run.state, 'RUNNING');
  assert.is(h.model.runOf(connection.asConnection), run);
});

test('acknowledges an UPDATE once recorded, and refuses one for a task of another executor', async () => {
  const sessions = start();
  const run = h.run(h.framework());
  h.model.addTask(run, task('t1'));
  const connection = new FakeConnection();
  sessions.subscribe(connection.asConnection, subscribe());
  const uuid = '0b6f5c4e-1d2a-4c3b-8e9f-a1b2c3d4e5f6';
  sessions.update(connection.asConnection, { taskId: 't1', state: 'TASK_RUNNING', uuid, timestamp: 1 });
  await waitFor(() => connection.sentOf('ACKNOWLEDGED').length === 1, { message: 'ACKNOWLEDGED sent' });
  assert.equal(connection.sentOf('ACKNOWLEDGED'), [{ type: 'ACKNOWLEDGED', taskId: 't1', uuid }]);
  assert.is(run.tasks.get('t1')!.state, 'TASK_RUNNING');
  sessions.update(connection.asConnection, { taskId: 't9', state: 'TASK_RUNNING', uuid, timestamp: 1 });
  assert.is(connection.failed?.code, 'ERR_PROTOCOL');
});

test('loses a task a recovering executor never received, shuts it down, and settles its run', async () => {
  const sessions = start();
  const run = h.run(h.framework(), 'ex-1', { recovered: { state: 'RECOVERING' } });
  const entry = run.addTask(task('t1'));
  entry.launched = true;
  const connection = new FakeConnection();
  sessions.subscribe(connection.asConnection, subscribe());
  assert.is(entry.state, 'TASK_LOST');
  await withTimeout(run.settled, 1000, 'the run settled');
  assert.is(run.state, 'TERMINATING');
  assert.is(connection.sentOf('SHUTDOWN').length, 1);
});

test('forgets a closed connection, and drops a message while the master is not there', () => {
  const sessions = start();
  const run = h.run(h.framework());
  const connection = new FakeConnection();
  sessions.subscribe(connection.asConnection, subscribe());
  sessions.message(connection.asConnection, new Uint8Array([1]));
  sessions.closed(connection.asConnection);
  assert.is(run.connection, undefined);
});

test.run();
