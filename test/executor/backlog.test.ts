// The backlog of what the agent has not acknowledged: what every SUBSCRIBE carries.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Backlog } from '../../src/executor/backlog.js';
import type { TaskState, TaskStatus } from '../../src/protocol/index.js';
import { commandTask } from './fake-agent.js';

const BacklogSuite = suite('Backlog');

function status(taskId: string, state: TaskState, uuid: string): TaskStatus {
  return { taskId, state, uuid, timestamp: 1, source: 'SOURCE_EXECUTOR' };
}

BacklogSuite('keeps unacknowledged updates in the order they were made', () => {
  const backlog = new Backlog();
  backlog.addUpdate(status('t1', 'TASK_STARTING', 'aaaaaaaa-1'));
  backlog.addUpdate(status('t2', 'TASK_STARTING', 'aaaaaaaa-2'));
  backlog.addUpdate(status('t1', 'TASK_RUNNING', 'aaaaaaaa-3'));
  assert.is(backlog.acknowledge('aaaaaaaa-2'), true);
  assert.equal(backlog.updates().map((s) => s.uuid), ['aaaaaaaa-1', 'aaaaaaaa-3']);
  assert.is(backlog.size, 2);
});

BacklogSuite('a launched task stays until one of its updates is acknowledged', () => {
  const backlog = new Backlog();
  backlog.addTask(commandTask('t1', 'true'));
  backlog.addTask(commandTask('t2', 'true'));
  backlog.addTask(commandTask('t1', 'true'));
  assert.equal(backlog.tasks().map((t) => t.taskId), ['t1', 't2'], 'once each, in launch order');
  backlog.addUpdate(status('t2', 'TASK_RUNNING', 'bbbbbbbb-1'));
  assert.equal(backlog.tasks().map((t) => t.taskId), ['t1', 't2'], 'an update alone does not acknowledge a task');
  backlog.acknowledge('bbbbbbbb-1');
  assert.equal(backlog.tasks().map((t) => t.taskId), ['t1']);
});

BacklogSuite('an unknown or repeated acknowledgement changes nothing', () => {
  const backlog = new Backlog();
  backlog.addUpdate(status('t1', 'TASK_RUNNING', 'cccccccc-1'));
  assert.is(backlog.acknowledge('cccccccc-9'), false);
  assert.is(backlog.acknowledge('cccccccc-1'), true);
  assert.is(backlog.acknowledge('cccccccc-1'), false);
  assert.equal(backlog.updates(), []);
});

BacklogSuite.run();
