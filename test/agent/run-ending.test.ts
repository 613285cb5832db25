// How a run ends, against a real node model on a real temp dir: the outbox the executor left in
// its sandbox replayed first, the rest reported with the ending, once; SHUTDOWN for a connected run.
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { outboxPath, sentinelPath } from '../../src/checkpoint/layout.js';
import { encodeRecords } from '../../src/checkpoint/record-log.js';
import { RunEnding } from '../../src/agent/run-ending.js';
import { waitFor, withTimeout } from '../helpers.js';
import { FakeConnection, ModelHarness, task } from './model-harness.js';

const test = suite('RunEnding');
let h: ModelHarness;
test.after.each(async () => {
  await h?.close();
});

const ENDING = { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: 'executor ex-1 exited with code 1' } as const;

test('replays the outbox the executor left, then reports its other live tasks with the ending, once', async () => {
  h = new ModelHarness({ checkpoint: false });
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework());
  run.addTask(task('t1'));
  run.addTask(task('t2'));
  fs.mkdirSync(path.dirname(outboxPath(run.sandbox)), { recursive: true });
  const finished = { taskId: 't1', state: 'TASK_FINISHED', uuid: '6f1c1f4e-8d7b-4c53-9a51-0c1f0f5c2a11', timestamp: 1 } as const;
  fs.writeFileSync(outboxPath(run.sandbox), encodeRecords([{ kind: 'UPDATE', status: finished }]));
  const ending = new RunEnding(h.model);
  await ending.finish(run, ENDING, { trustPids: false });
  await ending.finish(run, { ...ENDING, message: 'again' });
  assert.is(run.state, 'TERMINATED');
  assert.is(run.tasks.get('t1')!.state, 'TASK_FINISHED');
  assert.is(run.tasks.get('t2')!.state, 'TASK_FAILED');
  await waitFor(() => h.forwarded.length === 2, { message: 'both updates forwarded' });
  assert.equal(h.statesOf('t1'), ['TASK_FINISHED']);
  assert.is(h.forwarded.find((update) => update.status.taskId === 't2')!.status.message, ENDING.message);
  await withTimeout(run.settled, 1000, 'the run settled');
});

test('writes executor.sentinel for a checkpointing run once its updates are durable', async () => {
  h = new ModelHarness();
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework('fw-1', true), 'ex-1', { checkpoint: true });
  await h.checkpoint(run);
  const entry = h.model.addTask(run, task('t1'));
  await entry.durable;
  await new RunEnding(h.model).finish(run, ENDING);
  assert.ok(fs.existsSync(sentinelPath(h.workDir, run.ref!)));
  assert.ok(run.completedAt !== undefined);
});

test('shuts a connected run down with SHUTDOWN and its grace period, once', () => {
  h = new ModelHarness({ executorShutdownGracePeriodMs: 700 });
  const run = h.run(h.framework());
  const connection = new FakeConnection();
  h.model.attach(run, connection.asConnection);
  const ending = new RunEnding(h.model);
  ending.shutdown(run);
  ending.shutdown(run);
  assert.is(run.state, 'TERMINATING');
  assert.equal(connection.sentOf('SHUTDOWN'), [{ type: 'SHUTDOWN', gracePeriodMs: 700 }]);
  assert.ok(run.killTimer !== undefined);
});

test('ends a recovered run whose process is gone, noticed by pid and start time', async () => {
  h = new ModelHarness({ checkpoint: false });
  h.model.adoptRecoveredId('agent-1');
  const run = h.run(h.framework(), 'ex-1', { recovered: { state: 'RECOVERING', identity: { pid: 2 ** 22 + 7, startTime: 1 } } });
  run.addTask(task('t1'));
  new RunEnding(h.model).checkLiveness();
  await withTimeout(run.terminated, 5000, 'the run ended');
  await waitFor(() => h.statesOf('t1').length === 1, { message: 'the task reported' });
  assert.equal(h.statesOf('t1'), ['TASK_FAILED']);
});

test('changes nothing once the agent has stopped', async () => {
  h = new ModelHarness({ checkpoint: false });
  const run = h.run(h.framework());
  h.model.markStopped();
  await new RunEnding(h.model).finish(run, ENDING);
  assert.is(run.state, 'LAUNCHING');
  assert.is(run.exit, undefined);
});

test.run();
