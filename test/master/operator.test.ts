// operatorKill on a real Registry: the answers the HTTP layer gives an operator (400 for a bad ID,
// 404 unknown, 409 ambiguous or ended, 202 sent or kept for the agent's return) and the KILL_TASK
// it sends. The context's toAgent records what would be sent and says whether a connection took it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { Allocator } from '../../src/master/allocator.js';
import type { MasterContext } from '../../src/master/context.js';
import { MasterMetrics } from '../../src/master/metrics.js';
import { operatorKill } from '../../src/master/operator.js';
import { Registry } from '../../src/master/registry.js';
import type { AgentEvent } from '../../src/protocol/index.js';

interface Ctx {
  ctx: MasterContext;
  registry: Registry;
  sent: Array<[string, AgentEvent]>;
  /** Whether the agent's connection takes a frame (false: it just broke). */
  connected: boolean;
}

const Kill = suite<Ctx>('master/operator: operatorKill');

Kill.before.each((context) => {
  const registry = new Registry();
  const allocator = new Allocator();
  context.registry = registry;
  context.sent = [];
  context.connected = true;
  context.ctx = {
    registry,
    allocator,
    metrics: new MasterMetrics(registry, allocator),
    logger: silentLogger,
    toAgent: (agentId, event) => {
      if (!context.connected) return false;
      context.sent.push([agentId, event]);
      return true;
    },
    toFramework: () => true,
    sendUpdates: () => {},
    allocateSoon: () => {},
  };
});

const INFO = { hostname: 'node-1', resources: { cpus: 4, mem: 1024, disk: 1024 }, checkpoint: true };

function launch(registry: Registry, frameworkId: string, taskId: string, agentId: string, state: 'TASK_RUNNING' | 'TASK_FINISHED' = 'TASK_RUNNING') {
  return registry.addTask(frameworkId, { taskId, name: taskId, agentId, resources: { cpus: 1, mem: 16 }, command: { value: 'sleep 100' } }, state);
}

Kill('refuses an invalid task ID or framework ID with 400, quoting it', ({ ctx, sent }) => {
  assert.equal(operatorKill(ctx, '../etc', undefined), { status: 400, body: { error: 'invalid task ID "../etc"' } });
  assert.equal(operatorKill(ctx, 't1', 'a/b'), { status: 400, body: { error: 'invalid framework ID "a/b"' } });
  assert.equal(sent, []);
});

Kill('answers 404 for a task no live framework has, saying where it looked', ({ ctx, registry }) => {
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addAgent(INFO, 'a1');
  launch(registry, framework.id, 't1', 'a1');
  assert.equal(operatorKill(ctx, 'nope', undefined), { status: 404, body: { error: 'no task nope in any live framework' } });
  assert.equal(operatorKill(ctx, 't1', 'other-framework'), { status: 404, body: { error: 'no task t1 in framework other-framework' } });
  registry.removeFramework(framework.id);
  assert.is(operatorKill(ctx, 't1', undefined).status, 404, 'a removed framework\'s task is not live');
});

Kill('sends KILL_TASK to an active agent and answers 202 with where the task runs', ({ ctx, registry, sent }) => {
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addAgent(INFO, 'a1');
  launch(registry, framework.id, 't1', 'a1');
  const answer = operatorKill(ctx, 't1', undefined);
  assert.equal(answer, { status: 202, body: { taskId: 't1', frameworkId: framework.id, agentId: 'a1', state: 'TASK_RUNNING', sent: true } });
  assert.equal(sent, [['a1', { type: 'KILL_TASK', frameworkId: framework.id, taskId: 't1' }]]);
  assert.equal([...registry.agent('a1')!.pendingKills], [], 'sent, so not kept');
});

Kill('a task ID two frameworks use is 409 naming both, until framework_id says which', ({ ctx, registry, sent }) => {
  const first = registry.addFramework({ name: 'f1', checkpoint: true });
  const second = registry.addFramework({ name: 'f2', checkpoint: true });
  registry.addAgent(INFO, 'a1');
  launch(registry, first.id, 'web', 'a1');
  launch(registry, second.id, 'web', 'a1');
  const ambiguous = operatorKill(ctx, 'web', undefined);
  assert.is(ambiguous.status, 409);
  assert.is(ambiguous.body.error, `task ID web is used by frameworks ${first.id}, ${second.id}; say which with ?framework_id=`);
  assert.equal(sent, []);
  assert.is(operatorKill(ctx, 'web', second.id).status, 202);
  assert.equal(sent, [['a1', { type: 'KILL_TASK', frameworkId: second.id, taskId: 'web' }]]);
});

Kill('a task that has already ended is 409 with its state, and nothing is sent', ({ ctx, registry, sent }) => {
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addAgent(INFO, 'a1');
  launch(registry, framework.id, 't1', 'a1', 'TASK_FINISHED');
  assert.equal(operatorKill(ctx, 't1', undefined), {
    status: 409,
    body: { taskId: 't1', frameworkId: framework.id, agentId: 'a1', state: 'TASK_FINISHED', error: 'task t1 is already TASK_FINISHED' },
  });
  assert.equal(sent, []);
});

Kill('the kill of a task on a disconnected agent is kept for its re-registration (202, sent false)', ({ ctx, registry, sent }) => {
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addAgent(INFO, 'a1');
  launch(registry, framework.id, 't1', 'a1');
  registry.disconnectAgent('a1');
  const answer = operatorKill(ctx, 't1', undefined);
  assert.equal([answer.status, answer.body.sent], [202, false]);
  assert.equal(sent, [], 'nothing is sent to an agent that is away');
  assert.equal([...registry.agent('a1')!.pendingKills], [['t1', framework.id]]);
});

Kill('an active agent whose connection does not take the frame gets the kill kept too', (context) => {
  const { ctx, registry } = context;
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addAgent(INFO, 'a1');
  launch(registry, framework.id, 't1', 'a1');
  context.connected = false;
  assert.equal(operatorKill(ctx, 't1', framework.id).body.sent, false);
  assert.equal([...registry.agent('a1')!.pendingKills], [['t1', framework.id]]);
});

Kill.run();
