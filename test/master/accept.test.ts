import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { NewTaskInfo } from '../../src/protocol/index.js';
import { planAccept, type AcceptInput } from '../../src/master/accept.js';
import type { OutstandingOffer } from '../../src/master/allocator.js';

function offer(id: string, agentId = 'a1', cpus = 1, mem = 256): OutstandingOffer {
  return { id, frameworkId: 'f1', agentId, hostname: 'node', resources: { cpus, mem, disk: 0 } };
}

function commandTask(taskId: string, cpus = 0.5, mem = 64): NewTaskInfo {
  return { taskId, name: taskId, resources: { cpus, mem }, command: { value: 'sleep 1' } };
}

function input(overrides: Partial<AcceptInput>): AcceptInput {
  return {
    frameworkId: 'f1',
    offers: [offer('o1')],
    invalidOffers: [],
    tasks: [],
    taskIdInUse: () => false,
    runningExecutor: () => undefined,
    ...overrides,
  };
}

const Accept = suite('planAccept');

Accept('launches good tasks with the offer’s agent ID filled in', () => {
  const plan = planAccept(input({ tasks: [commandTask('t1'), commandTask('t2')] }));
  assert.equal(plan.refused, []);
  assert.equal(plan.launch.map((task) => [task.taskId, task.agentId]), [['t1', 'a1'], ['t2', 'a1']]);
});

Accept('drops every task when an offer is invalid', () => {
  const plan = planAccept(input({ invalidOffers: [{ offerId: 'o9', why: 'offer o9 is not outstanding' }], tasks: [commandTask('t1'), commandTask('t2')] }));
  assert.equal(plan.launch, []);
  assert.equal(plan.refused.map((r) => [r.task.taskId, r.state, r.reason]), [
    ['t1', 'TASK_DROPPED', 'REASON_INVALID_OFFERS'],
    ['t2', 'TASK_DROPPED', 'REASON_INVALID_OFFERS'],
  ]);
  assert.match(plan.refused[0]!.message, /o9 is not outstanding/);
});

Accept('drops every task when the offers are for different agents', () => {
  const plan = planAccept(input({ offers: [offer('o1', 'a1'), offer('o2', 'a2')], tasks: [commandTask('t1')] }));
  assert.is(plan.refused[0]!.state, 'TASK_DROPPED');
  assert.match(plan.refused[0]!.message, /different agents/);
});

Accept('refuses a task with both or neither of command and executor', () => {
  const neither: NewTaskInfo = { taskId: 'neither', name: 'n', resources: { cpus: 0.1, mem: 1 } };
  const both: NewTaskInfo = { ...commandTask('both'), executor: { executorId: 'e', frameworkId: 'f1', command: { value: 'x' } } };
  const plan = planAccept(input({ tasks: [neither, both, commandTask('ok')] }));
  assert.equal(plan.launch.map((task) => task.taskId), ['ok']);
  assert.equal(plan.refused.map((r) => [r.task.taskId, r.state, r.reason]), [
    ['neither', 'TASK_ERROR', 'REASON_TASK_INVALID'],
    ['both', 'TASK_ERROR', 'REASON_TASK_INVALID'],
  ]);
  assert.match(plan.refused[0]!.message, /exactly one of command and executor/);
});

Accept('refuses a duplicate task ID, in the same ACCEPT or in the framework', () => {
  const plan = planAccept(input({ tasks: [commandTask('t1', 0.1), commandTask('t1', 0.1), commandTask('old', 0.1)], taskIdInUse: (id) => id === 'old' }));
  assert.equal(plan.launch.map((task) => task.taskId), ['t1']);
  assert.equal(plan.refused.map((r) => r.task.taskId), ['t1', 'old']);
  assert.match(plan.refused[0]!.message, /already in use/);
});

Accept('refuses an executor of another framework', () => {
  const task: NewTaskInfo = { taskId: 't1', name: 't', resources: { cpus: 0.1, mem: 1 }, executor: { executorId: 'e1', frameworkId: 'someone-else', command: { value: 'x' } } };
  const plan = planAccept(input({ tasks: [task] }));
  assert.match(plan.refused[0]!.message, /frameworkId someone-else, expected f1/);
});

Accept('refuses a task naming another agent than the offers’', () => {
  const plan = planAccept(input({ tasks: [{ ...commandTask('t1'), agentId: 'a2' }] }));
  assert.match(plan.refused[0]!.message, /names agent a2 but the offers are for agent a1/);
});

Accept('refuses tasks beyond the offers’ summed resources, and launches the ones that fit', () => {
  const plan = planAccept(input({ offers: [offer('o1', 'a1', 1, 256), offer('o2', 'a1', 1, 256)], tasks: [commandTask('t1', 1.5, 100), commandTask('t2', 0.6, 100), commandTask('t3', 0.5, 100)] }));
  assert.equal(plan.launch.map((task) => task.taskId), ['t1', 't3']);
  assert.equal(plan.refused.map((r) => r.task.taskId), ['t2']);
  assert.match(plan.refused[0]!.message, /needs cpus:0.6;mem:100;disk:0 but the offers have only cpus:0.5;mem:412;disk:0 left/);
});

Accept('refuses a custom executor whose ID is taken by a different executor', () => {
  const task: NewTaskInfo = { taskId: 't2', name: 't', resources: { cpus: 0.1, mem: 1 }, executor: { executorId: 'e1', frameworkId: 'f1', command: { value: 'new' } } };
  const same: NewTaskInfo = { ...task, taskId: 't3', executor: { ...task.executor!, command: { value: 'old' } } };
  const plan = planAccept(input({ tasks: [task, same], runningExecutor: (_agent, id) => (id === 'e1' ? 'old' : undefined) }));
  assert.equal(plan.launch.map((t) => t.taskId), ['t3']);
  assert.match(plan.refused[0]!.message, /executor ID e1 is already in use/);
});

Accept.run();
