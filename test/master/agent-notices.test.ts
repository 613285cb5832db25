// noticeAgent and agentSeen on a real Registry: what goes into an agent's history, which frameworks
// hear AGENT_STATUS (those with live tasks there, or an end not yet acknowledged), and when the
// agent counts as seen. The context's toFramework records what would be sent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { agentSeen, noticeAgent } from '../../src/master/agent-notices.js';
import { Allocator } from '../../src/master/allocator.js';
import type { MasterContext } from '../../src/master/context.js';
import { MasterMetrics } from '../../src/master/metrics.js';
import { Registry } from '../../src/master/registry.js';
import type { SchedulerEvent } from '../../src/protocol/index.js';

interface Ctx {
  ctx: MasterContext;
  registry: Registry;
  sent: Array<[string, SchedulerEvent]>;
}

const Notices = suite<Ctx>('master/agent-notices');

Notices.before.each((context) => {
  const registry = new Registry();
  const allocator = new Allocator();
  context.registry = registry;
  context.sent = [];
  context.ctx = {
    registry,
    allocator,
    metrics: new MasterMetrics(registry, allocator),
    logger: silentLogger,
    toAgent: () => true,
    toFramework: (frameworkId, event) => (context.sent.push([frameworkId, event]), true),
    sendUpdates: () => {},
    allocateSoon: () => {},
  };
});

const INFO = { hostname: 'node-7', resources: { cpus: 4, mem: 1024, disk: 1024 }, checkpoint: true };

function task(taskId: string, agentId: string) {
  return { taskId, name: taskId, agentId, resources: { cpus: 1, mem: 16 }, command: { value: 'true' } };
}

Notices('REGISTERED goes into the history and marks the agent seen, but no framework is told', ({ ctx, registry, sent }) => {
  const agent = registry.addAgent(INFO, 'a1');
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addTask(framework.id, task('t1', 'a1'), 'TASK_RUNNING');
  const before = Date.now();
  noticeAgent(ctx, 'a1', 'REGISTERED');
  assert.equal(agent.events.map((event) => event.type), ['REGISTERED']);
  assert.ok(agent.lastSeenAt !== undefined && agent.lastSeenAt >= before);
  assert.equal(sent, []);
});

Notices('DISCONNECTED tells each framework with a live task there once, with the re-registration timeout, and leaves lastSeen alone', ({ ctx, registry, sent }) => {
  const agent = registry.addAgent(INFO, 'a1');
  registry.addAgent({ ...INFO, hostname: 'elsewhere' }, 'a2');
  const two = registry.addFramework({ name: 'two tasks', checkpoint: true });
  const done = registry.addFramework({ name: 'ended and acknowledged', checkpoint: true });
  const other = registry.addFramework({ name: 'on another agent', checkpoint: true });
  registry.addTask(two.id, task('t1', 'a1'), 'TASK_RUNNING');
  registry.addTask(two.id, task('t2', 'a1'), 'TASK_STARTING');
  registry.addTask(done.id, task('t3', 'a1'), 'TASK_RUNNING');
  registry.applyStatus(done.id, { taskId: 't3', state: 'TASK_FINISHED', uuid: 'uuid-t3-end', timestamp: 1, agentId: 'a1', executorId: 't3' });
  registry.acknowledge(done.id, 't3', 'uuid-t3-end');
  registry.addTask(other.id, task('t4', 'a2'), 'TASK_RUNNING');
  agent.lastSeenAt = 42;

  noticeAgent(ctx, 'a1', 'DISCONNECTED', { reregisterTimeoutMs: 75_000 });
  assert.is(agent.lastSeenAt, 42, 'going away is not being seen');
  const entry = agent.events.at(-1)!;
  assert.equal([entry.type, entry.reregisterTimeoutMs], ['DISCONNECTED', 75_000]);
  assert.equal(sent.map(([id]) => id), [two.id], 'only the framework with live tasks there, once');
  const event = sent[0]![1];
  assert.equal(event, { type: 'AGENT_STATUS', agentId: 'a1', hostname: 'node-7', status: 'DISCONNECTED', timestamp: entry.timestamp, reregisterTimeoutMs: 75_000 });
});

Notices('a framework whose task ended unacknowledged still hears it', ({ ctx, registry, sent }) => {
  registry.addAgent(INFO, 'a1');
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addTask(framework.id, task('t1', 'a1'), 'TASK_RUNNING');
  registry.applyStatus(framework.id, { taskId: 't1', state: 'TASK_FAILED', uuid: 'uuid-t1-end', timestamp: 1, agentId: 'a1', executorId: 't1' });
  noticeAgent(ctx, 'a1', 'REMOVED');
  assert.equal(sent.map(([id, event]) => [id, event.type, (event as { status: string }).status]), [[framework.id, 'AGENT_STATUS', 'REMOVED']]);
});

Notices('REREGISTERED says how long the agent was away, in its history and to the frameworks', ({ ctx, registry, sent }) => {
  const agent = registry.addAgent(INFO, 'a1');
  const framework = registry.addFramework({ name: 'f', checkpoint: true });
  registry.addTask(framework.id, task('t1', 'a1'), 'TASK_RUNNING');
  noticeAgent(ctx, 'a1', 'DISCONNECTED', { reregisterTimeoutMs: 1000 });
  agent.events.at(-1)!.timestamp -= 5_000; // it went away five seconds ago
  noticeAgent(ctx, 'a1', 'REREGISTERED');
  const entry = agent.events.at(-1)!;
  assert.is(entry.type, 'REREGISTERED');
  assert.ok(entry.awayMs! >= 5_000 && entry.awayMs! < 6_000, `awayMs ${entry.awayMs}`);
  assert.is(entry.reregisterTimeoutMs, undefined, 'the timeout belongs to DISCONNECTED only');
  const event = sent.at(-1)![1] as Extract<SchedulerEvent, { type: 'AGENT_STATUS' }>;
  assert.equal([event.status, event.awayMs, event.reregisterTimeoutMs], ['REREGISTERED', entry.awayMs, undefined]);
  assert.is(agent.lastSeenAt, entry.timestamp);
});

Notices('a REREGISTERED without a DISCONNECTED before it has no awayMs', ({ ctx, registry }) => {
  const agent = registry.addAgent(INFO, 'a1');
  noticeAgent(ctx, 'a1', 'REGISTERED');
  noticeAgent(ctx, 'a1', 'REREGISTERED');
  assert.is(agent.events.at(-1)!.awayMs, undefined);
});

Notices('an agent\'s recovery is recorded once, however many re-registrations repeat it', ({ ctx, registry }) => {
  const agent = registry.addAgent(INFO, 'a1');
  const recovery = { recoveredAt: 1_000, durationMs: 30, executors: 2, resubscribed: 2 };
  noticeAgent(ctx, 'a1', 'REREGISTERED', { recovery });
  noticeAgent(ctx, 'a1', 'REREGISTERED', { recovery: { ...recovery } });
  noticeAgent(ctx, 'a1', 'REREGISTERED', { recovery: { ...recovery, recoveredAt: 2_000 } });
  assert.equal(agent.events.map((event) => event.recovery?.recoveredAt), [1_000, undefined, 2_000]);
  recovery.executors = 99;
  assert.is(agent.events[0]!.recovery!.executors, 2, 'kept as a copy');
});

Notices('an agent the registry does not hold is ignored', ({ ctx, sent }) => {
  noticeAgent(ctx, 'nobody', 'DISCONNECTED', { reregisterTimeoutMs: 1 });
  agentSeen(ctx, 'nobody');
  assert.equal(sent, []);
});

Notices('agentSeen marks a known agent seen now, and ignores a connection not yet registered', ({ ctx, registry }) => {
  const agent = registry.addAgent(INFO, 'a1');
  agentSeen(ctx, undefined);
  assert.is(agent.lastSeenAt, undefined);
  const before = Date.now();
  agentSeen(ctx, 'a1');
  assert.ok(agent.lastSeenAt! >= before);
  assert.equal(agent.events, [], 'being seen is no event');
});

Notices.run();
