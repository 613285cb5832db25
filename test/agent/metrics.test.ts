import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentMetrics, type AgentGaugeSources } from '../../src/agent/metrics.js';

/** Gauge sources whose values the test sets. */
function sources(): AgentGaugeSources & { state: { registered: number; executors: Record<string, number>; pending: number; connections: number } } {
  const state = { registered: 0, executors: {} as Record<string, number>, pending: 0, connections: 0 };
  return {
    state,
    registered: () => state.registered,
    executors: () => state.executors,
    pendingUpdates: () => state.pending,
    executorConnections: () => state.connections,
  };
}

/** The value of one sample in Prometheus text (undefined when there is no such line). */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const metrics = suite('agent/metrics');

metrics('reads the gauges from the agent when scraped', async () => {
  const source = sources();
  const agent = new AgentMetrics(source);
  let text = await agent.registry.metrics();
  assert.is(sample(text, 'lifeline_agent_registered'), 0);
  source.state.registered = 1;
  source.state.pending = 3;
  source.state.connections = 2;
  text = await agent.registry.metrics();
  assert.is(sample(text, 'lifeline_agent_registered'), 1);
  assert.is(sample(text, 'lifeline_agent_status_updates_pending'), 3);
  assert.is(sample(text, 'lifeline_agent_executor_connections'), 2);
});

metrics('shows executors by state, and forgets a state no executor is in any more', async () => {
  const source = sources();
  const agent = new AgentMetrics(source);
  source.state.executors = { RUNNING: 2, TERMINATING: 1 };
  let text = await agent.registry.metrics();
  assert.is(sample(text, 'lifeline_agent_executors{state="RUNNING"}'), 2);
  assert.is(sample(text, 'lifeline_agent_executors{state="TERMINATING"}'), 1);
  source.state.executors = { RUNNING: 1 };
  text = await agent.registry.metrics();
  assert.is(sample(text, 'lifeline_agent_executors{state="RUNNING"}'), 1);
  assert.is(sample(text, 'lifeline_agent_executors{state="TERMINATING"}'), undefined);
});

metrics('counts with the labels the agent uses', async () => {
  const agent = new AgentMetrics(sources());
  agent.registrations.inc({ type: 'REGISTER' });
  agent.registrations.inc({ type: 'REREGISTER' });
  agent.registrations.inc({ type: 'REREGISTER' });
  agent.statusUpdatesReceived.inc({ source: 'SOURCE_EXECUTOR' });
  agent.statusUpdatesForwarded.inc({ resend: 'true' });
  agent.frameErrors.inc({ code: 'ERR_PROTOCOL' });
  agent.tasksLaunched.inc();
  agent.recoveryErrors.inc(4);
  const text = await agent.registry.metrics();
  assert.is(sample(text, 'lifeline_agent_registrations_total{type="REGISTER"}'), 1);
  assert.is(sample(text, 'lifeline_agent_registrations_total{type="REREGISTER"}'), 2);
  assert.is(sample(text, 'lifeline_agent_status_updates_total{source="SOURCE_EXECUTOR"}'), 1);
  assert.is(sample(text, 'lifeline_agent_status_updates_forwarded_total{resend="true"}'), 1);
  assert.is(sample(text, 'lifeline_agent_executor_frames_rejected_total{code="ERR_PROTOCOL"}'), 1);
  assert.is(sample(text, 'lifeline_agent_tasks_launched_total'), 1);
  assert.is(sample(text, 'lifeline_agent_recovery_errors_total'), 4);
  assert.is(sample(text, 'lifeline_agent_executors_launched_total'), 0);
});

metrics('gives every metric a help text', async () => {
  const text = await new AgentMetrics(sources()).registry.metrics();
  const names = [...text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram)$/gm)].map((match) => match[1]!);
  assert.ok(names.length >= 14, names.join(' '));
  for (const name of names) assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
  for (const name of names) assert.ok(name.startsWith('lifeline_agent_') || name === 'lifeline_build_info', name);
});

metrics('two agents in one process keep separate counters', async () => {
  const first = new AgentMetrics(sources());
  const second = new AgentMetrics(sources());
  first.tasksLaunched.inc(5);
  assert.is(sample(await first.registry.metrics(), 'lifeline_agent_tasks_launched_total'), 5);
  assert.is(sample(await second.registry.metrics(), 'lifeline_agent_tasks_launched_total'), 0);
});

metrics('histograms: recovery, fdatasync and group-commit batches (through the observer), acknowledgements, re-subscriptions', async () => {
  const agent = new AgentMetrics(sources());
  agent.groupCommitObserver.synced(0.004);
  agent.groupCommitObserver.committed(12);
  agent.updateAckDuration.observe(0.002);
  agent.executorResubscribed(); // before the socket listens: not counted
  agent.markListening();
  agent.executorResubscribed();
  agent.recovered(0.4);
  const text = await agent.registry.metrics();
  for (const name of ['lifeline_agent_recovery_duration_seconds', 'lifeline_agent_checkpoint_fdatasync_duration_seconds', 'lifeline_agent_checkpoint_group_commit_records', 'lifeline_agent_status_update_ack_duration_seconds', 'lifeline_agent_executor_resubscribe_duration_seconds']) {
    assert.match(text, new RegExp(`^# TYPE ${name} histogram$`, 'm'));
    assert.is(sample(text, `${name}_count`), 1, name);
  }
  assert.is(sample(text, 'lifeline_agent_checkpoint_group_commit_records_sum'), 12);
  assert.match(text, /^# TYPE process_cpu_user_seconds_total counter$/m, 'process metrics once recovered');
});

metrics('shows tasks by state from its source', async () => {
  const source = sources();
  const agent = new AgentMetrics({ ...source, tasks: () => ({ TASK_RUNNING: 2, TASK_FINISHED: 1 }) });
  const text = await agent.registry.metrics();
  assert.is(sample(text, 'lifeline_agent_tasks{state="TASK_RUNNING"}'), 2);
  assert.is(sample(text, 'lifeline_agent_tasks{state="TASK_FINISHED"}'), 1);
});

metrics.run();
