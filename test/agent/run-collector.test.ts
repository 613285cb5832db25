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

test.run();
