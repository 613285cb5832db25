// What the agent does with its master's events and what it registers with, against a real node
// model (the link itself is never started here: events are handed to the session directly).
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { ExecutorLauncher } from '../../src/agent/launcher.js';
import { MasterSession } from '../../src/agent/master-session.js';
import { RunEnding } from '../../src/agent/run-ending.js';
import { waitFor } from '../helpers.js';
import { FakeConnection, ModelHarness, task } from './model-harness.js';

const test = suite('MasterSession');
let h: ModelHarness;
let session: MasterSession | undefined;
const shutdowns: string[] = [];
test.after.each(async () => {
  await session?.link.close();
  session = undefined;
  shutdowns.length = 0;
  await h?.close();
});

function start(options: ConstructorParameters<typeof ModelHarness>[0] = { checkpoint: false }): MasterSession {
  h = new ModelHarness(options);
  const ending = new RunEnding(h.model);
  session = new MasterSession({ model: h.model, launcher: new ExecutorLauncher(h.model, ending), ending, onShutdown: (message) => shutdowns.push(message) });
  return session;
}

const FRAMEWORK = { id: 'fw-1', name: 'fw-1', checkpoint: false };

test('registers a new agent with REGISTER and its agent info', () => {
  const call = start().registration();
  assert.equal(call, { type: 'REGISTER', agentInfo: { hostname: 'node-1', resources: { cpus: 2, mem: 1024, disk: 1000 }, checkpoint: false }, protocol: 1, protocolMax: 2, release: '0.2.0' });
});

test('re-registers with its frameworks, live executors and tasks, each with its stream\'s head', async () => {
  const s = start();
  h.model.adoptRecoveredId('agent-1');
  const live = h.run(h.framework());
  live.addTask(task('t1'));
  const done = h.run(h.framework(), 'ex-2');
  done.addTask(task('t2'));
  done.transition('TERMINATED');
  await h.model.agentUpdate('fw-1', 'ex-2', done, 't2', 'TASK_FAILED', undefined, 'gone');
  const call = s.registration();
  assert.is(call.type, 'REREGISTER');
  if (call.type !== 'REREGISTER') return;
  assert.is(call.agentInfo.id, 'agent-1');
  assert.equal(call.frameworks.map((framework) => framework.id), ['fw-1']);
  assert.equal(call.executors.map((executor) => executor.executorId), ['ex-1']);
  assert.equal(call.tasks.map((reported) => [reported.task.taskId, reported.state, reported.unacknowledgedState]), [['t1', 'TASK_STAGING', undefined], ['t2', 'TASK_FAILED', 'TASK_FAILED']]);
});

test('rejects a task for another agent, and one with neither command nor executor, with TASK_ERROR', async () => {
  const s = start();
  h.model.adoptRecoveredId('agent-1');
  s.handle({ type: 'RUN_TASK', frameworkInfo: FRAMEWORK, task: task('t1', 'agent-2', { command: { value: 'true' } }) });
  s.handle({ type: 'RUN_TASK', frameworkInfo: FRAMEWORK, task: task('t2') });
  await waitFor(() => h.forwarded.length === 2, { message: 'both rejections forwarded' });
  assert.equal(h.statesOf('t1'), ['TASK_ERROR']);
  assert.equal(h.statesOf('t2'), ['TASK_ERROR']);
  assert.is(h.forwarded[0]!.status.reason, 'REASON_TASK_INVALID');
});

test('gives a task for a running custom executor to that run: LAUNCH on its connection', () => {
  const s = start();
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework());
  run.transition('RUNNING');
  const connection = new FakeConnection();
  h.model.attach(run, connection.asConnection);
  s.handle({ type: 'RUN_TASK', frameworkInfo: FRAMEWORK, task: task('t1', 'agent-1', { executor: run.info }) });
  assert.equal(connection.sentOf('LAUNCH').map((event) => event.task.taskId), ['t1']);
});

test('kills a task its executor never received with TASK_KILLED and shuts the emptied executor down', async () => {
  const s = start();
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework());
  run.addTask(task('t1'));
  s.handle({ type: 'KILL_TASK', frameworkId: 'fw-1', taskId: 't1' });
  assert.is(run.state, 'TERMINATING');
  await waitFor(() => h.forwarded.length === 1, { message: 'TASK_KILLED forwarded' });
  assert.is(h.forwarded[0]!.status.reason, 'REASON_TASK_KILLED_DURING_LAUNCH');
});

test('sends KILL to a connected executor, and keeps it pending for one that is not', () => {
  const s = start({ checkpoint: false, executorShutdownGracePeriodMs: 900 });
  const run = h.run(h.framework());
  const launched = run.addTask(task('t1'));
  launched.launched = true;
  s.handle({ type: 'KILL_TASK', frameworkId: 'fw-1', taskId: 't1' });
  assert.ok(launched.killPending);
  const connection = new FakeConnection();
  h.model.attach(run, connection.asConnection);
  launched.killPending = false;
  s.handle({ type: 'KILL_TASK', frameworkId: 'fw-1', taskId: 't1' });
  assert.equal(connection.sentOf('KILL'), [{ type: 'KILL', taskId: 't1', gracePeriodMs: 900 }]);
});

test('shuts a framework down: its executors get SHUTDOWN, and it is forgotten once they are done', () => {
  const s = start();
  const framework = h.framework();
  const run = h.run(framework);
  const connection = new FakeConnection();
  h.model.attach(run, connection.asConnection);
  s.handle({ type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'fw-1' });
  assert.ok(framework.terminating);
  assert.is(run.state, 'TERMINATING');
  assert.is(connection.sentOf('SHUTDOWN').length, 1);
  assert.is(h.model.framework('fw-1'), framework, 'kept while its executor runs');
});

test('a run that ended with unacknowledged updates is garbage-collected once its framework is shut down', async () => {
  const s = start();
  h.model.adoptRecoveredId('agent-1');
  const framework = h.framework();
  const run = h.run(framework);
  run.addTask(task('t1'));
  run.transition('TERMINATED');
  await h.model.agentUpdate('fw-1', 'ex-1', run, 't1', 'TASK_FINISHED', undefined, 'done');
  run.completedAt = Date.now();
  h.model.maybeForget(run);
  assert.is(framework.executors.get('ex-1'), run, 'kept while TASK_FINISHED waits for its acknowledgement');
  assert.is(await h.model.pruneCompletedRuns(0), 0, 'not yet scheduled for gc');
  s.handle({ type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'fw-1' });
  assert.is(h.model.framework('fw-1'), undefined, 'the framework is forgotten');
  assert.is(run.state, 'TERMINATED', 'not shut down again');
  assert.is(await h.model.pruneCompletedRuns(0), 1, 'its gc_delay started: a prune removes it');
});

test('relays a framework message to a connected executor, and passes the master\'s SHUTDOWN on', () => {
  const s = start();
  const run = h.run(h.framework());
  const connection = new FakeConnection();
  h.model.attach(run, connection.asConnection);
  const data = new Uint8Array([1, 2, 3]);
  s.handle({ type: 'FRAMEWORK_MESSAGE', frameworkId: 'fw-1', executorId: 'ex-1', data });
  assert.equal(connection.sentOf('MESSAGE'), [{ type: 'MESSAGE', data }]);
  s.handle({ type: 'SHUTDOWN', message: 'agent removed' });
  assert.equal(shutdowns, ['agent removed']);
});

test('forwards nothing while the link is not registered', () => {
  const s = start();
  assert.not.ok(s.forward({ frameworkId: 'fw-1', status: { taskId: 't1', state: 'TASK_RUNNING', uuid: 'u', timestamp: 1, source: 'SOURCE_AGENT', agentId: 'a', executorId: 'e' } }, false));
  assert.not.ok(s.send({ type: 'UNREGISTER' }));
});

test.run();
