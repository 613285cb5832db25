// Starting executor runs for real (a shell executor in a temp sandbox) against a real node model:
// the run in the model, the process detached in its sandbox with the DESIGN §2 environment, and
// its exit ending the run. Plus the pure pieces: sandbox paths and the environment.
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { commandExecutorInfo, executorEnvironment, ExecutorLauncher, sandboxPath } from '../../src/agent/launcher.js';
import { RunEnding } from '../../src/agent/run-ending.js';
import { forkedPath } from '../../src/checkpoint/layout.js';
import { waitFor, withTimeout } from '../helpers.js';
import { ModelHarness, task } from './model-harness.js';

const test = suite('ExecutorLauncher');
let h: ModelHarness;
test.after.each(async () => {
  await h?.close();
});

const shellExecutor = (value: string) => ({ executorId: 'ex-1', frameworkId: 'fw-1', command: { value } });

test('starts a custom executor detached in its sandbox, and ends the run with its exit code', async () => {
  h = new ModelHarness({ checkpoint: false });
  h.model.adoptRecoveredId('agent-1');
  const framework = h.framework();
  const launcher = new ExecutorLauncher(h.model, new RunEnding(h.model));
  const run = launcher.start(framework, shellExecutor('echo "$LIFELINE_EXECUTOR_ID $LIFELINE_CHECKPOINT" > seen; exit 3'), false, task('t1'));
  assert.is(framework.executors.get('ex-1'), run);
  assert.is(run.sandbox, sandboxPath(h.workDir, 'agent-1', 'fw-1', 'ex-1', run.containerId));
  assert.ok(run.tasks.has('t1'));
  await withTimeout(run.terminated, 10_000, 'the run ended');
  assert.is(fs.readFileSync(path.join(run.sandbox, 'seen'), 'utf8'), 'ex-1 0\n');
  assert.ok(fs.existsSync(path.join(run.sandbox, 'stdout')) && fs.existsSync(path.join(run.sandbox, 'stderr')));
  await waitFor(() => h.statesOf('t1').length === 1, { message: 'the task reported' });
  assert.match(h.forwarded[0]!.status.message ?? '', /executor ex-1 exited with code 3/);
  assert.equal(run.exit, { exitCode: 3, signal: null });
});

test('checkpoints a checkpointing framework\'s run before spawning, then records forked.json', async () => {
  h = new ModelHarness();
  h.model.registeredAs('agent-1');
  const framework = h.framework('fw-1', true);
  const launcher = new ExecutorLauncher(h.model, new RunEnding(h.model));
  const run = launcher.start(framework, shellExecutor('sleep 0.2'), false, task('t1'));
  assert.ok(run.ref);
  await waitFor(() => run.pid !== undefined, { message: 'the executor spawned' });
  await waitFor(() => fs.existsSync(forkedPath(h.workDir, run.ref!)), { message: 'forked.json written' });
  assert.is(run.identity?.pid, run.pid);
  await withTimeout(run.terminated, 10_000, 'the run ended');
});

test('makes the executor info of a command task and the DESIGN §2 environment', () => {
  assert.equal(commandExecutorInfo('fw-1', 't1').executorId, 't1');
  const env = executorEnvironment({
    socketPath: '/s',
    agentId: 'a',
    frameworkId: 'f',
    executorId: 'e',
    containerId: 'c',
    sandbox: '/sb',
    checkpoint: true,
    recoveryTimeoutMs: 60_000,
    executorReregistrationTimeoutMs: 2000,
    shutdownGracePeriodMs: 5000,
    backlogMaxUpdates: 500,
    backlogMaxBytes: 65_536,
    token: 'tk',
  });
  assert.is(env.LIFELINE_AGENT_ENDPOINT, '/s');
  assert.is(env.LIFELINE_CHECKPOINT, '1');
  assert.is(env.LIFELINE_EXECUTOR_TOKEN, 'tk');
  assert.equal([env.LIFELINE_BACKLOG_MAX_UPDATES, env.LIFELINE_BACKLOG_MAX_BYTES], ['500', '65536']);
  assert.ok(env.LIFELINE_RECOVERY_TIMEOUT !== undefined && env.LIFELINE_SUBSCRIPTION_BACKOFF_MAX !== undefined);
  const plain = executorEnvironment({ ...{ socketPath: '/s', agentId: 'a', frameworkId: 'f', executorId: 'e', containerId: 'c', sandbox: '/sb', recoveryTimeoutMs: 1, executorReregistrationTimeoutMs: 4, shutdownGracePeriodMs: 1, backlogMaxUpdates: 1, backlogMaxBytes: 1024, token: 't' }, checkpoint: false });
  assert.is(plain.LIFELINE_RECOVERY_TIMEOUT, undefined);
});

test.run();
