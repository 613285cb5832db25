import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Allocator } from '../../src/master/allocator.js';
import { MasterMetrics } from '../../src/master/metrics.js';
import { Registry } from '../../src/master/registry.js';
import type { TaskInfo } from '../../src/protocol/index.js';

const AGENT = { hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

function task(taskId: string, agentId: string): TaskInfo {
  return { taskId, name: taskId, agentId, resources: { cpus: 1, mem: 128 }, command: { value: 'true' } };
}

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

function setup() {
  const registry = new Registry();
  const allocator = new Allocator();
  return { registry, allocator, metrics: new MasterMetrics(registry, allocator) };
}

const metrics = suite('master/metrics');

metrics('serves Prometheus text with its content type, every status at 0 on a fresh master', async () => {
  const { metrics: master } = setup();
  const { contentType, body } = await master.text();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  for (const status of ['ACTIVE', 'DISCONNECTED', 'REMOVED']) assert.is(sample(body, `lifeline_master_agents{status="${status}"}`), 0, status);
  for (const status of ['ACTIVE', 'DISCONNECTED']) assert.is(sample(body, `lifeline_master_frameworks{status="${status}"}`), 0, status);
  assert.is(sample(body, 'lifeline_master_tasks{state="TASK_RUNNING"}'), 0);
  assert.is(sample(body, 'lifeline_master_tasks{state="TASK_ERROR"}'), 0);
  assert.is(sample(body, 'lifeline_master_offers_outstanding'), 0);
});

metrics('counts agents by status as the registry changes', async () => {
  const { registry, metrics: master } = setup();
  const a = registry.addAgent(AGENT);
  const b = registry.addAgent(AGENT);
  registry.addAgent(AGENT);
  registry.disconnectAgent(a.id);
  registry.disconnectAgent(b.id);
  registry.removeAgent(b.id, 'gone');
  const { body } = await master.text();
  assert.is(sample(body, 'lifeline_master_agents{status="ACTIVE"}'), 1);
  assert.is(sample(body, 'lifeline_master_agents{status="DISCONNECTED"}'), 1);
  assert.is(sample(body, 'lifeline_master_agents{status="REMOVED"}'), 1);
});

metrics('counts registered frameworks by status and tasks by their latest state', async () => {
  const { registry, metrics: master } = setup();
  const agent = registry.addAgent(AGENT);
  const active = registry.addFramework({ name: 'a', checkpoint: true });
  registry.addFramework({ name: 'b', checkpoint: true }, 'DISCONNECTED');
  const removed = registry.addFramework({ name: 'c', checkpoint: false });
  registry.addTask(active.id, task('t1', agent.id), 'TASK_RUNNING');
  registry.addTask(active.id, task('t2', agent.id), 'TASK_RUNNING');
  registry.addTask(active.id, task('t3', agent.id), 'TASK_FINISHED');
  registry.addTask(removed.id, task('t4', agent.id), 'TASK_RUNNING');
  registry.removeFramework(removed.id);
  const { body } = await master.text();
  assert.is(sample(body, 'lifeline_master_frameworks{status="ACTIVE"}'), 1);
  assert.is(sample(body, 'lifeline_master_frameworks{status="DISCONNECTED"}'), 1);
  assert.is(sample(body, 'lifeline_master_tasks{state="TASK_RUNNING"}'), 2, 'tasks of a removed framework are not counted');
  assert.is(sample(body, 'lifeline_master_tasks{state="TASK_FINISHED"}'), 1);
  assert.is(sample(body, 'lifeline_master_tasks{state="TASK_KILLED"}'), 0);
});

metrics('counts the offers the allocator has outstanding', async () => {
  const { registry, allocator, metrics: master } = setup();
  const agents = [registry.addAgent(AGENT), registry.addAgent({ ...AGENT, hostname: 'node-2' })];
  const framework = registry.addFramework({ name: 'fw', checkpoint: true });
  const made = allocator.allocate(
    agents.map((agent) => ({ id: agent.id, hostname: agent.hostname, checkpoint: agent.checkpoint, unused: registry.unused(agent.id) })),
    [{ id: framework.id, checkpoint: true }],
    Date.now(),
  );
  assert.is(made.length, 2);
  assert.is(sample((await master.text()).body, 'lifeline_master_offers_outstanding'), 2);
  allocator.take(framework.id, [made[0]!.id]);
  assert.is(sample((await master.text()).body, 'lifeline_master_offers_outstanding'), 1);
});

metrics('counts rejected frames by endpoint and code, and routed updates by source', async () => {
  const { metrics: master } = setup();
  master.framesRejected.inc({ endpoint: 'scheduler', code: 'ERR_PROTOCOL' });
  master.framesRejected.inc({ endpoint: 'scheduler', code: 'ERR_PROTOCOL' });
  master.framesRejected.inc({ endpoint: 'agent', code: 'ERR_FRAME_TOO_LARGE' });
  master.statusUpdates.inc({ source: 'SOURCE_MASTER' });
  const { body } = await master.text();
  assert.is(sample(body, 'lifeline_master_frames_rejected_total{endpoint="scheduler",code="ERR_PROTOCOL"}'), 2);
  assert.is(sample(body, 'lifeline_master_frames_rejected_total{endpoint="agent",code="ERR_FRAME_TOO_LARGE"}'), 1);
  assert.is(sample(body, 'lifeline_master_status_updates_total{source="SOURCE_MASTER"}'), 1);
});

metrics('two masters in one process keep separate metrics', async () => {
  const first = setup();
  const second = setup();
  first.registry.addAgent(AGENT);
  first.metrics.statusUpdates.inc({ source: 'SOURCE_AGENT' });
  const other = (await second.metrics.text()).body;
  assert.is(sample(other, 'lifeline_master_agents{status="ACTIVE"}'), 0);
  assert.is(sample(other, 'lifeline_master_status_updates_total{source="SOURCE_AGENT"}'), undefined);
  assert.is(sample((await first.metrics.text()).body, 'lifeline_master_agents{status="ACTIVE"}'), 1);
});

metrics('counts terminal tasks by state and reason ("none" without one), independent of live frameworks', async () => {
  const { metrics: master } = setup();
  master.taskEnded('TASK_FINISHED', undefined);
  master.taskEnded('TASK_LOST', 'REASON_AGENT_REMOVED');
  master.taskEnded('TASK_LOST', 'REASON_AGENT_REMOVED');
  const { body } = await master.text();
  assert.match(body, /^# TYPE lifeline_master_tasks_terminal_total counter$/m);
  assert.is(sample(body, 'lifeline_master_tasks_terminal_total{state="TASK_FINISHED",reason="none"}'), 1);
  assert.is(sample(body, 'lifeline_master_tasks_terminal_total{state="TASK_LOST",reason="REASON_AGENT_REMOVED"}'), 2);
});

metrics('says which release and protocol run, and adds process metrics only once started', async () => {
  const { metrics: master } = setup();
  let body = (await master.text()).body;
  assert.match(body, /^lifeline_build_info\{version="\d+\.\d+\.\d+[^"]*",protocol="\d+"\} 1$/m);
  assert.not.match(body, /^process_cpu_user_seconds_total/m);
  master.started();
  master.started();
  body = (await master.text()).body;
  assert.match(body, /^# TYPE process_cpu_user_seconds_total counter$/m);
  assert.match(body, /^# TYPE nodejs_heap_size_used_bytes gauge$/m);
});

metrics.run();
