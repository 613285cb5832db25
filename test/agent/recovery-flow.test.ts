// The recovery flow against a real node model and a real checkpoint in a temp work dir: nothing to
// recover, a run never started (ended as dead once the socket would listen), a live executor that
// does not come back (TASK_LOST, killed) or does (the wait ends), and a changed agent info.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { AgentInfoChangedError } from '../../src/agent/errors.js';
import { RecoveryFlow } from '../../src/agent/recovery-flow.js';
import { RunEnding } from '../../src/agent/run-ending.js';
import { sentinelPath } from '../../src/checkpoint/layout.js';
import { processIdentity } from '../../src/process/index.js';
import { waitFor, withTimeout } from '../helpers.js';
import { ModelHarness, task } from './model-harness.js';

const test = suite('RecoveryFlow');
const harnesses: ModelHarness[] = [];
const children: ChildProcess[] = [];
test.after.each(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  for (const h of harnesses.splice(0).reverse()) await h.close();
});

const harness = (options: ConstructorParameters<typeof ModelHarness>[0] = {}) => {
  const h = new ModelHarness(options);
  harnesses.push(h);
  return h;
};
const flowOf = (h: ModelHarness) => new RecoveryFlow(h.model, new RunEnding(h.model));

/** A first agent's checkpoint: agent-1, framework fw-1 (checkpointing), executor ex-1 with task t1. */
async function recordRun(h: ModelHarness, forked?: { pid: number }): Promise<void> {
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework('fw-1', true), 'ex-1', { checkpoint: true, containerId: 'c1' });
  await h.checkpoint(run);
  await h.checkpointer!.checkpointTask({ ...run.ref!, taskId: 't1' }, task('t1'));
  if (forked) await h.checkpointer!.checkpointForked(run.ref!, processIdentity(forked.pid)!);
  await h.checkpointer!.close();
}

function sleeper(): ChildProcess {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  children.push(child);
  return child;
}

/** A live executor (a real `sleep`) in a first agent's checkpoint, recovered by a second agent. */
async function recoveredLive(executorReregistrationTimeoutMs: number) {
  const child = sleeper();
  const first = harness();
  await recordRun(first, { pid: child.pid! });
  const h = harness({ workDir: first.workDir, executorReregistrationTimeoutMs });
  const flow = flowOf(h);
  const live = await flow.recover();
  return { child, h, flow, live };
}

test('finds nothing to recover in an empty work dir: the agent registers as new', async () => {
  const h = harness();
  assert.equal(await flowOf(h).recover(), []);
  assert.is(h.model.id, undefined);
  assert.is(h.model.frameworkCount, 0);
});

test('ends a run that was never started once the dead runs are ended: TASK_FAILED, then its sentinel', async () => {
  const first = harness();
  await recordRun(first);
  const h = harness({ workDir: first.workDir });
  const flow = flowOf(h);
  assert.equal(await flow.recover(), []);
  assert.is(h.model.id, 'agent-1');
  const run = h.model.framework('fw-1')!.executors.get('ex-1')!;
  assert.ok(flow.isFoundDead(run));
  await flow.finish();
  assert.not.ok(flow.isFoundDead(run));
  assert.is(run.tasks.get('t1')!.state, 'TASK_FAILED');
  assert.ok(fs.existsSync(sentinelPath(h.workDir, run.ref!)));
  assert.is(h.model.updates.pending('fw-1', 't1')[0]!.message, 'executor ex-1 was never recorded as started');
});

test('kills a live executor that does not re-subscribe in time and reports its task TASK_LOST', async () => {
  const { child, h, flow, live } = await recoveredLive(200);
  assert.is(live.length, 1);
  assert.is(live[0]!.state, 'RECOVERING');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await flow.awaitReregistration(live);
  await withTimeout(exited, 5000, 'the executor killed');
  const status = h.model.updates.pending('fw-1', 't1')[0]!;
  assert.is(status.state, 'TASK_LOST');
  assert.is(status.reason, 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT');
});

test('stops waiting as soon as every live executor is back', async () => {
  const { child, h, flow, live } = await recoveredLive(60_000);
  const waiting = flow.awaitReregistration(live);
  live[0]!.transition('RUNNING'); // as a re-SUBSCRIBE does
  live[0]!.settle();
  await withTimeout(waiting, 5000, 'the wait ended');
  assert.is(h.model.updates.pending('fw-1', 't1').length, 0);
  assert.ok(child.exitCode === null && child.signalCode === null, 'the executor left running');
});

test('stopWaiting() ends the wait of a stopping agent without killing anyone', async () => {
  const { h, flow, live } = await recoveredLive(60_000);
  const waiting = flow.awaitReregistration(live);
  h.model.lifecycle.transition('TERMINATING');
  flow.stopWaiting();
  await withTimeout(waiting, 5000, 'the wait ended');
  assert.is(live[0]!.state, 'RECOVERING');
});

test('refuses to recover an agent whose hostname changed, naming agent.json', async () => {
  const first = harness();
  await recordRun(first);
  const h = harness({ workDir: first.workDir, hostname: 'another-host' });
  try {
    await flowOf(h).recover();
    assert.unreachable('recover() should have thrown');
  } catch (error) {
    assert.instance(error, AgentInfoChangedError);
    assert.match((error as Error).message, /agent\.json/);
  }
});

test.run();
