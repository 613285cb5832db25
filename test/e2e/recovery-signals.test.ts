// How an agent is stopped decides what survives it (DESIGN §4): SIGTERM is the upgrade path
// (checkpointed executors keep running), SIGUSR1 shuts the node down (every executor, and the
// agent unregisters); and a framework removed while its agent was down is shut down when the
// agent comes back. (Mesos: ShutdownSlave, ShutdownSlaveSIGUSR1, ReconcileShutdownFramework.)
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive, waitFor } from '../helpers.js';
import { customTask, scenario, waitingTask, type ScenarioContext } from './scenario.js';

const Signals = suite<ScenarioContext>('Recovery: stopping the agent');

Signals.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

Signals(
  "SIGTERM stops the agent and leaves checkpointed executors running, which reconnect to the next agent; a non-checkpointing framework's executor is shut down",
  scenario({}, async (s) => {
    const agent = await s.startAgent();
    const durable = await s.framework({ name: 'durable', checkpoint: true });
    const plain = await s.framework({ name: 'plain', checkpoint: false });
    await durable.launch([waitingTask('d1')]);
    await plain.launch([waitingTask('p1')]);
    await durable.waitFor('d1', 'TASK_RUNNING');
    await plain.waitFor('p1', 'TASK_RUNNING');
    const durableRun = s.run(durable, 'd1');
    const plainRun = s.run(plain, 'p1');
    const durableShim = await s.shimWithTask(durableRun, 'd1');
    const plainShim = await s.shimWithTask(plainRun, 'p1');

    agent.signal('SIGTERM');
    const exit = await agent.waitForExit(15_000);
    assert.is(exit.code, 0, s.logs());
    await s.expectDead([plainShim.pid, plainShim.tasks[0]!.pgid], "the non-checkpointing framework's executor and task");
    const plainEnd = await plain.waitTerminal('p1');
    assert.ok(['TASK_LOST', 'TASK_KILLED'].includes(plainEnd.state), plain.describe('p1'));
    assert.ok(isAlive(durableShim.pid) && isAlive(durableShim.tasks[0]!.pgid), 'the checkpointed executor and its task survive SIGTERM');
    assert.ok(fs.existsSync(path.join(s.workDir, 'meta', 'agents', 'latest')), 'meta/agents/latest is kept');

    await s.startAgent();
    const state = await s.waitAgentRunning();
    assert.is(state.id, durableRun.agentId);
    assert.is(state.frameworks.find((f) => f.id === durable.frameworkId)?.executors.find((e) => e.id === durableRun.executorId)?.pid, durableShim.pid);
    s.release(durableRun);
    await durable.waitFor('d1', 'TASK_FINISHED');
    assert.equal(durable.terminals('d1').map((t) => t.state), ['TASK_FINISHED'], durable.describe('d1'));
    await s.expectNoProcesses();
  }),
);

Signals(
  'SIGUSR1 shuts everything down: executors and tasks killed, their TASK_KILLED forwarded, the agent unregistered and meta/agents/latest removed',
  scenario({}, async (s) => {
    const agent = await s.startAgent();
    const fw = await s.framework();
    await fw.launch([waitingTask('t1'), customTask('c1', 'custom', s.customExecutor, fw.frameworkId)]);
    await fw.waitFor('t1', 'TASK_RUNNING');
    await fw.waitFor('c1', 'TASK_RUNNING');
    const run = s.run(fw, 't1');
    const shim = await s.shimWithTask(run, 't1');
    const custom = s.shim(s.run(fw, 'c1'));

    agent.signal('SIGUSR1');
    const exit = await agent.waitForExit(15_000);
    assert.is(exit.code, 0, s.logs());
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid, custom.pid], 'every executor and task');
    await s.expectNoProcesses();
    for (const id of ['t1', 'c1']) {
      const terminal = await fw.waitTerminal(id);
      assert.equal([terminal.state, terminal.source], ['TASK_KILLED', 'SOURCE_EXECUTOR'], `${id}: ${fw.describe(id)}`);
    }
    await s.waitMasterAgentStatus(run.agentId, 'REMOVED');
    assert.not.ok(fs.existsSync(path.join(s.workDir, 'meta', 'agents', 'latest')), 'meta/agents/latest removed');
  }),
);

Signals(
  'a framework removed while the agent is down has its executors shut down when the agent re-registers',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework({ failoverTimeoutMs: 0 });
    const { shim } = await s.launchRunning(fw, 't1');

    await s.killAgent();
    await fw.stop(); // failover timeout 0: the master removes the framework at once
    await waitFor(async () => (await s.masterState()).completedFrameworks.some((f) => f.id === fw.frameworkId), { message: 'framework removed by the master' });
    assert.ok(isAlive(shim.pid));

    await s.startAgent();
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], "the removed framework's executor and task");
    await s.expectNoProcesses();
  }),
);

Signals.run();
