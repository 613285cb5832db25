import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { executorIdOf, masterStatus } from '../../src/master/registry-tasks.js';

const Tasks = suite('registry tasks');

Tasks("a command task's executor ID is its task ID", () => {
  const base = { taskId: 't1', name: 't1', agentId: 'a1', resources: { cpus: 1, mem: 32 } };
  assert.is(executorIdOf(base), 't1');
  assert.is(executorIdOf({ ...base, executor: { executorId: 'e1', frameworkId: 'f1', command: { value: 'x' } } }), 'e1');
});

Tasks('a master status comes from SOURCE_MASTER, with a uuid unless it answers a reconciliation', () => {
  const status = masterStatus({ taskId: 't1', agentId: 'a1' }, 'TASK_LOST', 'REASON_AGENT_REMOVED', 'gone');
  assert.is(status.source, 'SOURCE_MASTER');
  assert.is(status.agentId, 'a1');
  assert.is(status.executorId, undefined);
  assert.type(status.uuid, 'string');
  const answer = masterStatus({ taskId: 't1' }, 'TASK_LOST', 'REASON_RECONCILIATION', 'unknown', { withUuid: false });
  assert.is(answer.uuid, undefined);
});

Tasks.run();
