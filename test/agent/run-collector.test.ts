// --gc_delay: a completed run's sandbox removed after the delay; nothing scheduled by a stopping agent.
import fs from 'node:fs';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { StateMachine } from '../../src/lifecycle/state-machine.js';
import { RunCollector } from '../../src/agent/run-collector.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers.js';
import { ModelHarness } from './model-harness.js';

const test = suite('RunCollector');
let h: ModelHarness;
test.after.each(async () => {
  await h?.close();
});

const lifecycle = (state: 'UP' | 'TERMINATING') => new StateMachine<'UP' | 'TERMINATING'>('agent', state, { UP: ['TERMINATING'], TERMINATING: [] });

test('removes a completed run\'s sandbox once its gc delay has passed', async () => {
  h = new ModelHarness({ checkpoint: false });
  const run = h.run(h.framework());
  fs.mkdirSync(run.sandbox, { recursive: true });
  run.completedAt = Date.now();
  const collector = new RunCollector({ gcDelayMs: 10, checkpointer: undefined, logger: silentLogger, lifecycle: lifecycle('UP') });
  collector.schedule(run);
  collector.schedule(run);
  assert.is(collector.scheduled, 1);
  await waitFor(() => !fs.existsSync(run.sandbox), { message: 'the sandbox removed' });
  assert.is(collector.scheduled, 0);
});

test('schedules nothing for a run not completed, or while the agent is terminating; clear() cancels', () => {
  h = new ModelHarness({ checkpoint: false });
  const run = h.run(h.framework());
  const stopping = new RunCollector({ gcDelayMs: 10, checkpointer: undefined, logger: silentLogger, lifecycle: lifecycle('TERMINATING') });
  stopping.schedule(run);
  run.completedAt = Date.now();
  stopping.schedule(run);
  assert.is(stopping.scheduled, 0);
  const collector = new RunCollector({ gcDelayMs: 60_000, checkpointer: undefined, logger: silentLogger, lifecycle: lifecycle('UP') });
  collector.schedule(run);
  collector.clear();
  assert.is(collector.scheduled, 0);
});

test('prune() removes now the runs completed longer ago than the age the disk allows, and only those', async () => {
  h = new ModelHarness({ checkpoint: false });
  const framework = h.framework();
  const old = h.run(framework, 'ex-old');
  const recent = h.run(framework, 'ex-recent');
  for (const run of [old, recent]) fs.mkdirSync(run.sandbox, { recursive: true });
  old.completedAt = Date.now() - 10 * 60_000;
  recent.completedAt = Date.now() - 1_000;
  const collector = new RunCollector({ gcDelayMs: 7 * 86_400_000, checkpointer: undefined, logger: silentLogger, lifecycle: lifecycle('UP') });
  collector.schedule(old);
  collector.schedule(recent);
  assert.is(await collector.prune(60_000), 1);
  assert.not.ok(fs.existsSync(old.sandbox), 'the run completed 10 minutes ago is gone');
  assert.ok(fs.existsSync(recent.sandbox), 'the run completed a second ago stays');
  assert.is(collector.scheduled, 1, 'the pruned run\'s timer is gone with it');
  assert.is(await collector.prune(60_000), 0, 'nothing is removed twice');
  collector.clear();
});

test.run();
