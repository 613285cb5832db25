// /state read off the node model: nothing while recovering, then frameworks, runs and tasks.
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { agentState, stateResponse } from '../../src/agent/state-view.js';
import { ModelHarness, task } from './model-harness.js';

const test = suite('state view');
let h: ModelHarness;
test.after.each(async () => {
  await h?.close();
});

test('answers with no body while the agent recovers', () => {
  h = new ModelHarness({ checkpoint: false });
  assert.equal(stateResponse(h.model), { status: 'RECOVERING' });
});

test('lists each framework\'s current runs with their pid, state and tasks', () => {
  h = new ModelHarness({ checkpoint: false });
  h.model.adoptRecoveredId('agent-1');
  h.model.lifecycle.transition('DISCONNECTED');
  const run = h.run(h.framework());
  run.addTask(task('t1')).state = 'TASK_RUNNING';
  h.model.countRecoveryErrors(1);
  assert.equal(agentState(h.model), {
    id: 'agent-1',
    status: 'DISCONNECTED',
    recoveryErrors: 1,
    frameworks: [{ id: 'fw-1', checkpoint: false, executors: [{ id: 'ex-1', containerId: 'c-ex-1', pid: null, state: 'LAUNCHING', directory: run.sandbox, tasks: [{ id: 't1', state: 'TASK_RUNNING' }], protocol: null, release: null }] }],
  });
  assert.equal(stateResponse(h.model).body, agentState(h.model));
});

test.run();
