// context.ts is an interface only: what the agent and scheduler endpoints may use of the master.
// These tests hold it to that (no code of its own) and show that the master's real parts fit it.
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { Allocator } from '../../src/master/allocator.js';
import type { MasterContext } from '../../src/master/context.js';
import { MasterMetrics } from '../../src/master/metrics.js';
import { Registry, type GeneratedUpdate } from '../../src/master/registry.js';
import type { AgentEvent, SchedulerEvent } from '../../src/protocol/index.js';

const context = suite('master/context');

context('is a type only: the built module exports and imports nothing', async () => {
  const module = await import('../../src/master/context.js');
  assert.equal(Object.keys(module), []);
  const compiled = fs.readFileSync(new URL('../../src/master/context.js', import.meta.url), 'utf8');
  assert.not.match(compiled, /^\s*import\b/m);
});

context('the master\'s registry, allocator, metrics and a logger make a context the endpoints can use', async () => {
  const sentToAgents: Array<[string, AgentEvent]> = [];
  const sentToFrameworks: Array<[string, SchedulerEvent]> = [];
  const generated: GeneratedUpdate[] = [];
  let allocations = 0;
  const registry = new Registry();
  const allocator = new Allocator();
  const built = {
    registry,
    allocator,
    metrics: new MasterMetrics(registry, allocator),
    logger: silentLogger,
    toAgent: (agentId: string, event: AgentEvent) => (sentToAgents.push([agentId, event]), true),
    toFramework: (frameworkId: string, event: SchedulerEvent) => (sentToFrameworks.push([frameworkId, event]), false),
    sendUpdates: (updates: readonly GeneratedUpdate[]) => void generated.push(...updates),
    allocateSoon: () => void allocations++,
  } satisfies MasterContext;
  const ctx: MasterContext = built;

  // What an agent endpoint does when an agent without checkpointing frameworks disconnects.
  const agent = ctx.registry.addAgent({ hostname: 'n1', resources: { cpus: 1, mem: 64, disk: 64 }, checkpoint: false });
  const framework = ctx.registry.addFramework({ name: 'fw', checkpoint: false });
  ctx.registry.addTask(framework.id, { taskId: 't1', name: 't1', agentId: agent.id, resources: { cpus: 1, mem: 32 }, command: { value: 'true' } }, 'TASK_RUNNING');
  ctx.sendUpdates(ctx.registry.disconnectAgent(agent.id));
  ctx.allocateSoon();
  assert.is(ctx.toAgent(agent.id, { type: 'PING' }), true);
  assert.is(ctx.toFramework(framework.id, { type: 'HEARTBEAT' }), false);

  assert.equal(generated.map((update) => [update.frameworkId, update.status.state, update.status.reason]), [[framework.id, 'TASK_LOST', 'REASON_AGENT_DISCONNECTED']]);
  assert.is(allocations, 1);
  assert.is(sentToAgents.length, 1);
  assert.equal(sentToFrameworks, [[framework.id, { type: 'HEARTBEAT' }]]);
  assert.match((await ctx.metrics.text()).body, /^lifeline_master_agents\{status="DISCONNECTED"\} 1$/m);
});

context.run();
