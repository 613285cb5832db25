// The node model on its own: a real model on a real temp work dir, its streams forwarded to a
// captured "master", runs put in by hand as the flows would.
import fs from 'node:fs';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { taskInfoPath } from '../../src/checkpoint/layout.js';
import { waitFor } from '../helpers.js';
import { FakeConnection, ModelHarness, task } from './model-harness.js';

const test = suite('NodeModel');
let h: ModelHarness;
test.after.each(async () => {
  await h?.close();
});

test('starts RECOVERING and moves along the agent lifecycle table only', () => {
  h = new ModelHarness();
  assert.is(h.model.status, 'RECOVERING');
  h.model.lifecycle.transition('DISCONNECTED');
  h.model.lifecycle.transition('RUNNING');
  assert.throws(() => h.model.lifecycle.transition('RECOVERING'), /cannot move agent from RUNNING to RECOVERING/);
  h.model.lifecycle.transition('TERMINATING');
  assert.ok(h.model.terminating);
});

test('keeps one framework per ID and lists current and archived runs', () => {
  h = new ModelHarness();
  const framework = h.framework('fw-1');
  assert.is(h.framework('fw-1'), framework);
  const old = h.run(framework, 'ex-1', { containerId: 'c-old' });
  framework.executors.delete('ex-1');
  framework.archived.add(old);
  const current = h.run(framework, 'ex-1', { containerId: 'c-new' });
  assert.equal([...h.model.runs()], [current]);
  assert.equal([...h.model.runs(true)], [current, old]);
  assert.is(h.model.frameworkCount, 1);
});

test('records an agent update in the task\'s stream, gives the entry its state and forwards it', async () => {
  h = new ModelHarness();
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework());
  run.addTask(task('t1'));
  await h.model.agentUpdate('fw-1', run.id, run, 't1', 'TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', 'gone');
  assert.is(run.tasks.get('t1')!.state, 'TASK_FAILED');
  await waitFor(() => h.forwarded.length === 1, { message: 'the update forwarded' });
  assert.is(h.forwarded[0]!.status.source, 'SOURCE_AGENT');
  assert.is(h.forwarded[0]!.status.agentId, 'agent-1');
  assert.is(h.model.updates.pending('fw-1', 't1').length, 1);
});

test('sends LAUNCH for a task given to a connected run, and queues it for one that has not subscribed', () => {
  h = new ModelHarness();
  const run = h.run(h.framework());
  const queued = h.model.addTask(run, task('t1'));
  assert.not.ok(queued.launched);
  const connection = new FakeConnection();
  h.model.attach(run, connection.asConnection);
  assert.is(h.model.runOf(connection.asConnection), run);
  h.model.deliver(run, queued);
  const direct = h.model.addTask(run, task('t2'));
  assert.ok(queued.launched && direct.launched);
  assert.equal(connection.sentOf('LAUNCH').map((event) => event.task.taskId), ['t1', 't2']);
});

test('makes a checkpointing run\'s task.json durable before it is ready, the stream ref a promise meanwhile', async () => {
  h = new ModelHarness();
  h.model.adoptRecoveredId('agent-1');
  const framework = h.framework('fw-1', true);
  const run = h.run(framework, 'ex-1', { checkpoint: true });
  run.checkpointed = h.checkpoint(run);
  const entry = h.model.addTask(run, task('t1'));
  assert.not.ok(entry.ready);
  assert.instance(h.model.streamRef('fw-1', 't1'), Promise);
  await entry.durable;
  await waitFor(() => entry.ready, { message: 'the task ready' });
  assert.ok(fs.existsSync(taskInfoPath(h.workDir, { ...run.ref!, taskId: 't1' })));
  assert.equal(h.model.streamRef('fw-1', 't1'), { ...run.ref!, taskId: 't1' });
});

test('lets only one run claim a task ID\'s stream', () => {
  h = new ModelHarness();
  const ref = { agentId: 'a', frameworkId: 'fw-1', executorId: 'e', containerId: 'c1', taskId: 't1' };
  assert.ok(h.model.claimTaskStream(ref));
  assert.not.ok(h.model.claimTaskStream({ ...ref, containerId: 'c2' }));
  assert.is((h.model.streamRef('fw-1', 't1') as { containerId: string }).containerId, 'c1');
});

test('forgets a terminated run (and then its framework) only once its updates are acknowledged', async () => {
  h = new ModelHarness();
  h.model.adoptRecoveredId('agent-1');
  h.model.lifecycle.transition('DISCONNECTED');
  const framework = h.framework();
  const run = h.run(framework);
  run.addTask(task('t1'));
  await h.model.agentUpdate('fw-1', run.id, run, 't1', 'TASK_LOST', undefined, 'lost');
  run.transition('TERMINATED');
  h.model.maybeForget(run);
  assert.is(h.model.framework('fw-1'), framework, 'kept: an update waits for its acknowledgement');
  await waitFor(() => h.forwarded.length === 1, { message: 'the update forwarded' });
  await h.model.updates.acknowledge('fw-1', 't1', h.forwarded[0]!.status.uuid);
  assert.is(framework.executors.size, 0);
  assert.is(h.model.framework('fw-1'), undefined);
  assert.is(h.model.updates.pending('fw-1', 't1').length, 0);
});

test('forgets nothing while recovery is loading, and every finished framework after', () => {
  h = new ModelHarness();
  const framework = h.framework();
  h.model.setLoading(true);
  h.model.maybeForgetFramework(framework);
  assert.is(h.model.framework('fw-1'), framework);
  h.model.setLoading(false);
  h.model.forgetDoneFrameworks();
  assert.is(h.model.framework('fw-1'), undefined);
});

test('writes agent.json at the first registration of a checkpointing agent, and counts recovery errors', async () => {
  h = new ModelHarness();
  assert.is(h.model.agentCheckpointed, undefined);
  h.model.registeredAs('agent-7');
  assert.is(h.model.id, 'agent-7');
  await h.model.agentCheckpointed;
  assert.ok(fs.existsSync(`${h.workDir}/meta/agents/latest`));
  h.model.countRecoveryErrors(2);
  assert.is(h.model.recoveryErrors, 2);
});

test('gives a run its own grace period, or the agent\'s', () => {
  h = new ModelHarness({ executorShutdownGracePeriodMs: 1234 });
  const run = h.run(h.framework());
  assert.is(h.model.graceOf(run), 1234);
});

test.run();
