// What operators see of a real cluster across a kill -9 of the agent (issue 15): /metrics of a real
// agent and a real master read by a real exposition-format parser (the families a Prometheus user
// looks for, with the right types), /health as a readiness probe, and log lines that strict JSON
// consumers take (one `component` key), with the recovery summary and every status update at info.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metricFamilies, type MetricFamily as Family } from '../../harness/lib/metrics-text.js';
import { getJson } from '../helpers.js';
import { scenario, type ScenarioContext } from './scenario.js';

async function families(address: string): Promise<Map<string, Family>> {
  const response = await fetch(`http://${address}/metrics`);
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return metricFamilies(await response.text());
}

function family(all: Map<string, Family>, name: string, type: Family['type']): Family {
  const found = all.get(name);
  assert.ok(found, `${name} in /metrics (have: ${[...all.keys()].join(' ')})`);
  assert.is(found.type, type, name);
  assert.ok(found.help.length > 0, `${name} has a help text`);
  return found;
}

function histogramCount(found: Family): number {
  return found.metrics.reduce((sum, metric) => sum + Number(metric.count ?? 0), 0);
}

/** Every JSON line of a process's stderr, each checked to hold every key once. */
function jsonLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      // pino writes the base and child keys (level, time, pid, name, component) itself: a record
      // or a child binding that repeats one makes a second key of the same name.
      for (const key of ['level', 'time', 'pid', 'name', 'component', 'msg']) {
        const count = line.split(`"${key}":`).length - 1;
        assert.ok(count <= 1, `key ${key} ${count} times in ${line}`);
      }
      return JSON.parse(line) as Record<string, unknown>;
    });
}

const test = suite<ScenarioContext>('Operators see it: metrics, readiness and logs');

test.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

test(
  'a kill -9 and restart of the agent shows in its histograms, the master counts the finished task, and the logs say it at info',
  scenario({}, async (s) => {
    await s.startAgent(['--logging_level=info']);
    const fw = await s.framework();
    const { run } = await s.launchRunning(fw, 't1');
    await s.killAgent();
    const agent = await s.startAgent(['--logging_level=info']);
    assert.equal(await getJson(`http://${s.agentAddress}/health`), { status: 200, body: { status: 'ok' } });
    s.release(run);
    await fw.waitFor('t1', 'TASK_FINISHED');

    const a = await families(s.agentAddress);
    assert.ok(histogramCount(family(a, 'lifeline_agent_recovery_duration_seconds', 'HISTOGRAM')) >= 1);
    assert.is(histogramCount(family(a, 'lifeline_agent_executor_resubscribe_duration_seconds', 'HISTOGRAM')), 1, 'one executor re-subscribed');
    assert.ok(histogramCount(family(a, 'lifeline_agent_checkpoint_fdatasync_duration_seconds', 'HISTOGRAM')) > 0, 'the TASK_FINISHED was synced');
    assert.ok(histogramCount(family(a, 'lifeline_agent_checkpoint_group_commit_records', 'HISTOGRAM')) > 0);
    assert.ok(histogramCount(family(a, 'lifeline_agent_status_update_ack_duration_seconds', 'HISTOGRAM')) > 0);
    const tasks = family(a, 'lifeline_agent_tasks', 'GAUGE');
    assert.ok(tasks.metrics.some((m) => m.labels?.state === 'TASK_FINISHED' && Number(m.value) === 1), JSON.stringify(tasks.metrics));
    const build = family(a, 'lifeline_build_info', 'GAUGE');
    assert.match(build.metrics[0]!.labels?.version ?? '', /^\d+\.\d+\.\d+/);
    assert.match(build.metrics[0]!.labels?.protocol ?? '', /^\d+$/);
    family(a, 'lifeline_agent_status_updates_total', 'COUNTER');
    family(a, 'process_cpu_user_seconds_total', 'COUNTER');
    family(a, 'nodejs_eventloop_lag_seconds', 'GAUGE');
    for (const name of a.keys()) {
      if (a.get(name)!.type === 'COUNTER') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
    }

    const m = await families(s.masterAddress);
    const ended = family(m, 'lifeline_master_tasks_terminal_total', 'COUNTER');
    assert.ok(ended.metrics.some((x) => x.labels?.state === 'TASK_FINISHED' && Number(x.value) === 1), JSON.stringify(ended.metrics));
    family(m, 'lifeline_build_info', 'GAUGE');
    family(m, 'process_resident_memory_bytes', 'GAUGE');

    const agentLines = jsonLines(agent.stderr);
    const summary = agentLines.find((line) => typeof line.msg === 'string' && line.msg.startsWith('recovered in '));
    assert.ok(summary, `a recovery summary line in\n${agent.stderr.slice(-3000)}`);
    assert.match(summary.msg as string, /^recovered in \d+ ms: 1 executor re-subscribed, 0 gone, 0 tasks lost$/);
    assert.is(summary.level, 'info');
    const finished = agentLines.find((line) => line.state === 'TASK_FINISHED' && line.level === 'info');
    assert.ok(finished, 'the agent logs TASK_FINISHED at info');
    assert.is(finished.taskId, 't1');
    assert.is(finished.frameworkId, fw.frameworkId);
    assert.is(finished.executorId, run.executorId);
    const masterFinished = jsonLines(s.master.stderr).find((line) => line.state === 'TASK_FINISHED' && line.level === 'info');
    assert.ok(masterFinished, `the master logs TASK_FINISHED at info\n${s.master.stderr.slice(-2000)}`);
    assert.is(masterFinished.executorId, run.executorId);
    assert.is(masterFinished.frameworkId, fw.frameworkId);
  }),
);

test.run();
