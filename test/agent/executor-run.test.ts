// An executor run's lifecycle and task bookkeeping, with no process behind it.
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { ExecutorRun, type Framework } from '../../src/agent/executor-run.js';
import { withTimeout } from '../helpers.js';
import { task } from './model-harness.js';

const framework = (): Framework => ({ info: { id: 'fw-1', name: 'fw', checkpoint: false }, executors: new Map(), terminating: false, archived: new Set() });
const newRun = (recovered?: { state: 'RECOVERING' | 'TERMINATED' }) =>
  new ExecutorRun({ info: { executorId: 'ex-1', frameworkId: 'fw-1', command: { value: 'true' } }, framework: framework(), containerId: 'c1', tokenHash: '', sandbox: '/nonexistent', commandTask: false, checkpoint: false, ...(recovered && { recovered }) });

const test = suite('ExecutorRun');

test('a new run is LAUNCHING and moves only along its table, settling `terminated` at TERMINATED', async () => {
  const run = newRun();
  assert.is(run.state, 'LAUNCHING');
  assert.not.ok(run.recovered);
  run.transition('RUNNING');
  assert.throws(() => run.transition('LAUNCHING'), /cannot move executor ex-1 from RUNNING to LAUNCHING/);
  run.transition('TERMINATING');
  run.transition('TERMINATED');
  await withTimeout(run.terminated, 1000, 'terminated settles');
});

test('a run recovered as completed is TERMINATED from the start', async () => {
  const run = newRun({ state: 'TERMINATED' });
  assert.ok(run.recovered);
  await withTimeout(run.terminated, 1000, 'terminated settles');
});

test('assert names the action, the state and the executor', () => {
  const run = newRun({ state: 'RECOVERING' });
  run.transition('TERMINATING');
  assert.throws(() => run.assert(['RUNNING'], 'launch task t1'), /cannot launch task t1 in TERMINATING state \(executor ex-1\)/);
});

test('lists queued tasks (ready, not launched, not terminal) and live ones', () => {
  const run = newRun();
  const ready = run.addTask(task('t1'));
  const notReady = run.addTask(task('t2'), false);
  const done = run.addTask(task('t3'));
  done.state = 'TASK_FINISHED';
  assert.equal(run.queuedTasks(), [ready]);
  ready.launched = true;
  assert.equal(run.queuedTasks(), []);
  assert.equal(run.liveTasks(), [ready, notReady]);
  assert.is(run.frameworkId, 'fw-1');
});

test('settles once, when told so', async () => {
  const run = newRun({ state: 'RECOVERING' });
  run.settle();
  run.settle();
  await withTimeout(run.settled, 1000, 'settled settles');
});

test('signals nothing without a process of its own', () => {
  const run = newRun();
  assert.not.ok(run.processAlive);
  assert.not.ok(run.signalGroup('SIGTERM'));
});

test.run();
