// applyReregistration on a real Registry: what a re-registered agent's report does to the master's
// state (frameworks and tasks taken in, the ones it forgot TASK_LOST) and what it names to send
// back (held kills, tasks that must not run on, frameworks to shut down).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { Registry } from '../../src/master/registry.js';
import { applyReregistration } from '../../src/master/reregister-apply.js';
import type { ReregisterCall as Reregister, TaskState } from '../../src/protocol/index.js';

interface Ctx {
  registry: Registry;
}

const Apply = suite<Ctx>('master/reregister-apply: applyReregistration');

Apply.before.each((ctx) => {
  ctx.registry = new Registry();
});

const INFO = { id: 'a1', hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

function taskInfo(taskId: string, agentId = 'a1') {
  return { taskId, name: taskId, agentId, resources: { cpus: 1, mem: 16 }, command: { value: 'sleep 1' } };
}

function reported(frameworkId: string, taskId: string, state: TaskState = 'TASK_RUNNING') {
  return { frameworkId, executorId: taskId, state, task: taskInfo(taskId) };
}

function call(frameworks: Reregister['frameworks'], tasks: Reregister['tasks']): Reregister {
  return { type: 'REREGISTER', agentInfo: INFO, frameworks, executors: [], tasks };
}

Apply('frameworks and tasks a restarted master never saw are taken in, the frameworks DISCONNECTED', ({ registry }) => {
  registry.addAgent(INFO, 'a1');
  const result = applyReregistration({ registry, logger: silentLogger }, call([{ id: 'f1', name: 'one', checkpoint: true }], [reported('f1', 't1'), reported('f2', 't2')]), undefined);
  assert.equal(result, { pendingKills: [], kills: [], shutdown: new Set(), lost: [] });
  assert.is(registry.framework('f1')?.status, 'DISCONNECTED');
  assert.is(registry.framework('f2')?.checkpoint, true, 'a framework only its task names checkpoints');
  assert.equal(registry.tasksOn('a1').map((task) => [task.id, task.state]).sort(), [['t1', 'TASK_RUNNING'], ['t2', 'TASK_RUNNING']]);
});

Apply('a task the master placed there that the agent does not report is TASK_LOST', ({ registry }) => {
  registry.addAgent(INFO, 'a1');
  const framework = registry.addFramework({ id: 'f1', name: 'one', checkpoint: true });
  registry.addTask(framework.id, taskInfo('kept'), 'TASK_RUNNING');
  registry.addTask(framework.id, taskInfo('forgotten'), 'TASK_RUNNING');
  const { lost } = applyReregistration({ registry, logger: silentLogger }, call([], [reported('f1', 'kept')]), undefined);
  assert.equal(lost.map((update) => [update.status.taskId, update.status.state, update.status.reason]), [['forgotten', 'TASK_LOST', 'REASON_RECONCILIATION']]);
});

Apply('another agent\'s live task is not taken over but killed; a completed framework is shut down', ({ registry }) => {
  registry.addAgent(INFO, 'a1');
  registry.addAgent({ ...INFO, id: 'a2' }, 'a2');
  registry.addFramework({ id: 'f1', name: 'one', checkpoint: true });
  registry.addTask('f1', taskInfo('theirs', 'a2'), 'TASK_RUNNING');
  registry.addFramework({ id: 'done', name: 'done', checkpoint: true });
  registry.removeFramework('done');
  const result = applyReregistration({ registry, logger: silentLogger }, call([{ id: 'done', name: 'done', checkpoint: true }], [reported('f1', 'theirs'), reported('done', 'old')]), 'mallory');
  assert.equal(result.kills, [{ frameworkId: 'f1', taskId: 'theirs' }]);
  assert.equal([...result.shutdown], ['done']);
  assert.is(registry.task('f1', 'theirs')?.agentId, 'a2');
});

Apply('kills held while the agent was away are named once, for tasks still live', ({ registry }) => {
  const agent = registry.addAgent(INFO, 'a1');
  registry.addFramework({ id: 'f1', name: 'one', checkpoint: true });
  registry.addTask('f1', taskInfo('live'), 'TASK_RUNNING');
  registry.addTask('f1', taskInfo('ended'), 'TASK_FINISHED');
  agent.pendingKills.set('live', 'f1');
  agent.pendingKills.set('ended', 'f1');
  const { pendingKills } = applyReregistration({ registry, logger: silentLogger }, call([], [reported('f1', 'live'), reported('f1', 'ended', 'TASK_FINISHED')]), undefined);
  assert.equal(pendingKills, [{ frameworkId: 'f1', taskId: 'live' }]);
  assert.is(agent.pendingKills.size, 0);
});

Apply.run();
