import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskInfo } from '../../src/protocol/index.js';
import { IllegalStateError } from '../../src/protocol/index.js';
import { Registry } from '../../src/master/registry.js';

const AGENT = { hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

function task(taskId: string, agentId: string, cpus = 1): TaskInfo {
  return { taskId, name: taskId, agentId, resources: { cpus, mem: 128 }, command: { value: 'true' } };
}

/** A registry with one agent, a checkpointing and a non-checkpointing framework, one task each. */
function setup() {
  const registry = new Registry();
  const agent = registry.addAgent(AGENT);
  const durable = registry.addFramework({ name: 'durable', checkpoint: true });
  const plain = registry.addFramework({ name: 'plain', checkpoint: false });
  registry.addTask(durable.id, task('t-durable', agent.id));
  registry.addTask(plain.id, task('t-plain', agent.id));
  return { registry, agent, durable, plain };
}

const Agents = suite('Registry agents');

Agents('assigns agent IDs and starts agents ACTIVE', () => {
  const registry = new Registry();
  const a = registry.addAgent(AGENT);
  const b = registry.addAgent(AGENT);
  assert.is.not(a.id, b.id);
  assert.is(a.status, 'ACTIVE');
  assert.is(registry.addAgent(AGENT, 'kept-id').id, 'kept-id');
});

Agents('refuses illegal moves by name', () => {
  const { registry, agent } = setup();
  registry.removeAgent(agent.id, 'gone');
  assert.throws(() => agent.transition('ACTIVE'), (error: unknown) => error instanceof IllegalStateError && /cannot mark agent .* ACTIVE in REMOVED state/.test((error as Error).message));
});

Agents('counts non-terminal tasks as used', () => {
  const { registry, agent, durable } = setup();
  assert.equal(registry.unused(agent.id), { cpus: 2, mem: 3840, disk: 10_000 });
  registry.applyStatus(durable.id, { taskId: 't-durable', state: 'TASK_FINISHED', uuid: 'aaaaaaaa-0000', timestamp: 1 });
  assert.equal(registry.unused(agent.id), { cpus: 3, mem: 3968, disk: 10_000 });
});

Agents('on disconnection loses only the tasks of frameworks that do not checkpoint', () => {
  const { registry, agent, durable, plain } = setup();
  const updates = registry.disconnectAgent(agent.id);
  assert.is(agent.status, 'DISCONNECTED');
  assert.is(updates.length, 1);
  const [update] = updates;
  assert.is(update!.frameworkId, plain.id);
  assert.is(update!.status.taskId, 't-plain');
  assert.is(update!.status.state, 'TASK_LOST');
  assert.is(update!.status.reason, 'REASON_AGENT_DISCONNECTED');
  assert.is(update!.status.source, 'SOURCE_MASTER');
  assert.is(update!.status.agentId, agent.id);
  assert.ok(update!.status.uuid);
  assert.ok(plain.masterUuids.has(update!.status.uuid!), 'its acknowledgement ends at the master');
  assert.is(registry.task(durable.id, 't-durable')!.state, 'TASK_STAGING');
});

Agents('on removal loses every task still running, with REASON_AGENT_REMOVED', () => {
  const { registry, agent, durable } = setup();
  registry.disconnectAgent(agent.id);
  agent.pendingKills.set('t-durable', durable.id);
  const updates = registry.removeAgent(agent.id, 'did not re-register');
  assert.is(agent.status, 'REMOVED');
  assert.equal(updates.map((u) => [u.status.taskId, u.status.state, u.status.reason]), [['t-durable', 'TASK_LOST', 'REASON_AGENT_REMOVED']]);
  assert.is(agent.pendingKills.size, 0);
});

Agents('on removal also loses a task whose terminal update the framework has not acknowledged', () => {
  const registry = new Registry();
  const agent = registry.addAgent(AGENT);
  const framework = registry.addFramework({ name: 'durable', checkpoint: true });
  for (const id of ['t-forwarded', 't-acked', 't-reported']) registry.addTask(framework.id, task(id, agent.id));
  // Forwarded to the framework but never acknowledged (the agent died first, then never came back).
  registry.applyStatus(framework.id, { taskId: 't-forwarded', state: 'TASK_FINISHED', uuid: 'aaaaaaaa-0001', timestamp: 1 });
  // Forwarded and acknowledged: the framework knows how it ended.
  registry.applyStatus(framework.id, { taskId: 't-acked', state: 'TASK_FINISHED', uuid: 'aaaaaaaa-0002', timestamp: 1 });
  registry.acknowledge(framework.id, 't-acked', 'aaaaaaaa-0002');
  // Known terminal only from a REREGISTER: the update itself was never forwarded.
  registry.setState(registry.task(framework.id, 't-reported')!, 'TASK_FAILED');
  registry.disconnectAgent(agent.id);
  const updates = registry.removeAgent(agent.id, 'did not re-register');
  assert.equal(updates.map((u) => [u.status.taskId, u.status.state, u.status.reason]).sort(), [
    ['t-forwarded', 'TASK_LOST', 'REASON_AGENT_REMOVED'],
    ['t-reported', 'TASK_LOST', 'REASON_AGENT_REMOVED'],
  ]);
  assert.is(registry.task(framework.id, 't-forwarded')!.state, 'TASK_FINISHED', 'the recorded state stays the terminal one');
});

Agents('an acknowledgement of a non-terminal update does not count as knowing the end', () => {
  const registry = new Registry();
  const agent = registry.addAgent(AGENT);
  const framework = registry.addFramework({ name: 'durable', checkpoint: true });
  registry.addTask(framework.id, task('t', agent.id));
  registry.applyStatus(framework.id, { taskId: 't', state: 'TASK_RUNNING', uuid: 'aaaaaaaa-0001', timestamp: 1 });
  registry.acknowledge(framework.id, 't', 'aaaaaaaa-0001');
  registry.applyStatus(framework.id, { taskId: 't', state: 'TASK_FINISHED', uuid: 'aaaaaaaa-0002', timestamp: 2 });
  registry.acknowledge(framework.id, 't', 'aaaaaaaa-0001');
  assert.is(registry.removeAgent(agent.id, 'gone').length, 1);
});

Agents('a re-registering agent becomes ACTIVE with what it reports now', () => {
  const { registry, agent } = setup();
  registry.disconnectAgent(agent.id);
  registry.reactivateAgent(agent.id, { ...AGENT, hostname: 'node-1b' });
  assert.is(agent.status, 'ACTIVE');
  assert.is(agent.hostname, 'node-1b');
});

Agents.run();

const Frameworks = suite('Registry frameworks');

Frameworks('FrameworkInfo.checkpoint cannot change after registration', () => {
  const { durable } = setup();
  assert.throws(() => durable.updateInfo({ id: durable.id, name: 'renamed', checkpoint: false }), /checkpoint cannot change/);
  durable.updateInfo({ id: durable.id, name: 'renamed', checkpoint: true });
  assert.is(durable.info.name, 'renamed');
});

Frameworks('removal kills its tasks in the master state and names the agents to tell', () => {
  const { registry, agent, durable } = setup();
  assert.equal(registry.removeFramework(durable.id), [agent.id]);
  assert.is(durable.status, 'REMOVED');
  assert.not.ok(registry.framework(durable.id));
  assert.ok(registry.isCompleted(durable.id));
  const state = registry.toJSON();
  assert.equal(state.completedFrameworks.map((f) => [f.id, f.tasks[0]!.state]), [[durable.id, 'TASK_KILLED']]);
  assert.equal(registry.unused(agent.id), { cpus: 3, mem: 3968, disk: 10_000 }, 'its resources are free again');
  assert.throws(() => registry.addFramework({ id: durable.id, name: 'again', checkpoint: true }), /already registered/);
});

Frameworks('keeps a terminal state when a later update says otherwise', () => {
  const { registry, plain } = setup();
  registry.applyStatus(plain.id, { taskId: 't-plain', state: 'TASK_FAILED', uuid: 'aaaaaaaa-0001', timestamp: 1 });
  registry.applyStatus(plain.id, { taskId: 't-plain', state: 'TASK_RUNNING', uuid: 'aaaaaaaa-0002', timestamp: 2 });
  assert.is(registry.task(plain.id, 't-plain')!.state, 'TASK_FAILED');
});

Frameworks('renders /state as DESIGN §9 says', () => {
  const { registry, agent, durable } = setup();
  const state = registry.toJSON();
  // DESIGN §9's fields, plus what the web view and the operator verbs read (issue 15).
  assert.equal(state.agents, [
    { id: agent.id, hostname: 'node-1', checkpoint: true, status: 'ACTIVE', resources: { cpus: 4, mem: 4096, disk: 10_000 }, protocol: null, release: null, address: null, lastSeen: null, events: [] },
  ]);
  const framework = state.frameworks.find((f) => f.id === durable.id)!;
  const [staging] = framework.tasks[0]!.statuses;
  assert.equal(framework, {
    id: durable.id,
    name: 'durable',
    checkpoint: true,
    status: 'ACTIVE',
    tasks: [{ id: 't-durable', state: 'TASK_STAGING', agentId: agent.id, executorId: 't-durable', name: 't-durable', sandbox: null, statuses: [staging!] }],
  });
  assert.equal({ ...staging!, timestamp: 0 }, { state: 'TASK_STAGING', timestamp: 0, source: 'SOURCE_MASTER', reason: null, message: 'launched by the master', uuid: null });
  assert.equal(state.completedFrameworks, []);
});

Frameworks.run();

const Bounds = suite('Registry bounds');

Bounds('forgets the oldest terminal tasks past the per-framework limit, never a live one', () => {
  const registry = new Registry({ maxCompletedTasksPerFramework: 2 });
  const agent = registry.addAgent(AGENT);
  const framework = registry.addFramework({ name: 'busy', checkpoint: false });
  registry.addTask(framework.id, task('live', agent.id, 0));
  for (const id of ['a', 'b', 'c']) {
    registry.addTask(framework.id, task(id, agent.id, 0));
    registry.applyStatus(framework.id, { taskId: id, state: 'TASK_FINISHED', uuid: 'aaaaaaaa-0003', timestamp: 1 });
  }
  assert.equal([...framework.tasks.keys()], ['live', 'b', 'c']);
  assert.equal(registry.tasksOn(agent.id).map((t) => t.id), ['live', 'b', 'c']);
});

Bounds.run();
