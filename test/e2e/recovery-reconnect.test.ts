// Agent recovery end to end, the paths where nothing is lost: kill -9 the agent, start it again, and
// the executors it left behind reconnect; updates made while it was away arrive exactly as if it
// had never gone. (Mesos: ReconnectExecutor, RecoverTaskStatusUpdateManager, ReconcileKillTask,
// MultipleFrameworks in src/tests/slave_recovery_tests.cpp.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive } from '../helpers.js';
import { customTask, scenario, waitingTask, type AgentState, type ScenarioContext } from './scenario.js';

const Reconnect = suite<ScenarioContext>('Recovery: reconnecting to live executors');

Reconnect.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

Reconnect(
  'reconnects to a live executor after kill -9 of the agent: same pid, and the task later finishes',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');
    const taskPgid = shim.tasks[0]!.pgid;

    await s.killAgent();
    assert.ok(isAlive(shim.pid), 'the shim survives the agent');
    assert.ok(isAlive(taskPgid), 'the task survives the agent');

    await s.startAgent();
    const agent = await s.waitAgentRunning();
    assert.is(agent.id, run.agentId, 'the agent keeps its ID');
    const executor = agent.frameworks.find((f) => f.id === fw.frameworkId)?.executors.find((e) => e.id === run.executorId);
    assert.ok(executor, `the recovered agent lists the executor: ${JSON.stringify(agent)}`);
    assert.is(executor.pid, shim.pid, 'the same executor process');
    assert.is(executor.containerId, run.containerId);
    assert.ok(isAlive(shim.pid) && isAlive(taskPgid));

    s.release(run);
    const finished = await fw.waitFor('t1', 'TASK_FINISHED');
    assert.is(finished.source, 'SOURCE_EXECUTOR');
    assert.equal(fw.terminals('t1').map((t) => t.state), ['TASK_FINISHED'], fw.describe('t1'));
    await s.expectDead([shim.pid, taskPgid], 'the shim and its task, after the task finished');
    await s.expectNoProcesses();
    assert.is(await s.masterAgentStatus(run.agentId), 'ACTIVE');
  }),
);

Reconnect(
  'resends an update that was lost between the executor and the agent when the agent died',
  scenario({}, async (s) => {
    const agent = await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    // A stopped agent accepts the executor's TASK_FINISHED into its socket buffer and never reads
    // it; kill -9 then loses it with the buffer.
    agent.child.kill('SIGSTOP');
    s.release(run);
    const sent = await s.outboxUpdate(run, 't1', 'TASK_FINISHED');
    await s.killAgent();
    assert.equal(fw.terminals('t1'), [], 'nothing reached the framework while the agent was stopped');
    assert.ok(isAlive(shim.pid), 'the shim waits to deliver its update');

    await s.startAgent();
    const finished = await fw.waitFor('t1', 'TASK_FINISHED');
    assert.is(finished.uuid, sent.uuid, 'the executor\'s own update, resent');
    assert.equal(fw.terminals('t1').map((t) => t.uuid), [sent.uuid], fw.describe('t1'));
    await s.expectDead([shim.pid], 'the shim, once its update is acknowledged');
    await s.expectNoProcesses();
  }),
);

Reconnect(
  'a task that finishes while the agent is down reports TASK_FINISHED after the restart',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');
    const taskPgid = shim.tasks[0]!.pgid;

    await s.killAgent();
    s.release(run);
    await s.expectDead([taskPgid], 'the task, finished while the agent is down');
    assert.ok(isAlive(shim.pid), 'the shim keeps the finished status until it is delivered');

    await s.startAgent();
    const finished = await fw.waitFor('t1', 'TASK_FINISHED');
    assert.is(finished.source, 'SOURCE_EXECUTOR');
    assert.equal(fw.terminals('t1').map((t) => t.state), ['TASK_FINISHED'], fw.describe('t1'));
    await s.expectDead([shim.pid], 'the shim');
    await s.expectNoProcesses();
  }),
);

Reconnect(
  'a kill asked for while the agent is down is delivered when it re-registers: TASK_KILLED',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    await s.killAgent();
    await s.waitMasterAgentStatus(run.agentId, 'DISCONNECTED');
    fw.driver.kill('t1');
    // The kill cannot reach anyone yet; the master remembers it.
    fw.driver.reconcile(['t1']);
    await fw.waitFor('t1', 'TASK_RUNNING', { where: (st) => st.reason === 'REASON_RECONCILIATION' });
    assert.ok(isAlive(shim.pid) && isAlive(shim.tasks[0]!.pgid));

    await s.startAgent();
    const killed = await fw.waitFor('t1', 'TASK_KILLED');
    assert.is(killed.source, 'SOURCE_EXECUTOR');
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the shim and its task');
    await s.expectNoProcesses();
  }),
);

Reconnect(
  'two frameworks and several executors (command shims and custom executors) recover together',
  scenario({}, async (s) => {
    await s.startAgent();
    const a = await s.framework({ name: 'framework-a' });
    const b = await s.framework({ name: 'framework-b' });
    const script = s.customExecutor;
    await a.launch([waitingTask('a1'), waitingTask('a2'), customTask('ac1', 'a-exec', script, a.frameworkId)]);
    await b.launch([waitingTask('b1'), customTask('bc1', 'b-exec', script, b.frameworkId)]);
    for (const [fw, id] of [[a, 'a1'], [a, 'a2'], [a, 'ac1'], [b, 'b1'], [b, 'bc1']] as const) await fw.waitFor(id, 'TASK_RUNNING');
    // A second task on the running custom executor of framework b.
    await b.launch([customTask('bc2', 'b-exec', script, b.frameworkId)]);
    await b.waitFor('bc2', 'TASK_RUNNING');

    const runs = { a1: s.run(a, 'a1'), a2: s.run(a, 'a2'), ac: s.run(a, 'ac1'), b1: s.run(b, 'b1'), bc: s.run(b, 'bc1') };
    for (const [name, run] of Object.entries(runs)) {
      if (name === 'a1' || name === 'a2' || name === 'b1') await s.shimWithTask(run, name);
      else s.shim(run);
    }
    // The agent's view of its executors (a custom executor's recorded pid is its `/bin/sh -c`).
    const executorPids = (state: AgentState) =>
      Object.fromEntries(state.frameworks.flatMap((f) => f.executors.map((e) => [`${f.id === a.frameworkId ? 'a' : 'b'}/${e.id}`, e.pid])));
    const before = executorPids(await s.agentState());
    assert.equal(Object.keys(before).sort(), ['a/a-exec', 'a/a1', 'a/a2', 'b/b-exec', 'b/b1']);
    // Process group leaders: every executor and every task has its own group. (The waiting tasks'
    // short-lived `sleep` children come and go inside their groups: left out.)
    const lasting = () => s.processes().filter((p) => p.pid === p.pgid).map((p) => p.pid).sort();
    const processes = lasting();

    await s.killAgent();
    await s.startAgent();
    const agent = await s.waitAgentRunning();
    assert.equal(executorPids(agent), before, `every executor reconnected with its pid: ${JSON.stringify(agent)}`);
    assert.equal(lasting(), processes, 'no process died and none was started');

    s.release(runs.a1);
    s.release(runs.a2);
    s.release(runs.b1);
    s.release(runs.ac, 'ac1');
    s.release(runs.bc, 'bc1');
    s.release(runs.bc, 'bc2');
    for (const [fw, id] of [[a, 'a1'], [a, 'a2'], [a, 'ac1'], [b, 'b1'], [b, 'bc1'], [b, 'bc2']] as const) {
      await fw.waitFor(id, 'TASK_FINISHED');
      assert.equal(fw.terminals(id).map((t) => t.state), ['TASK_FINISHED'], `${id}: ${fw.describe(id)}`);
      assert.not.ok(fw.of(id).some((st) => st.state === 'TASK_LOST' || st.state === 'TASK_FAILED'), `${id}: ${fw.describe(id)}`);
    }
    await s.expectNoProcesses();
  }),
);

Reconnect.run();
