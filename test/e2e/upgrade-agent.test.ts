// Upgrading the agent under running tasks (issue 11), with the real 0.1.0 build frozen in
// test/fixtures/releases: command tasks (0.1.0's shim) and a custom executor linked with 0.1.0's
// ExecutorDriver, launched by a 0.1.0 agent, keep running when that agent is killed (kill -9, or
// SIGTERM, the upgrade path) and this build's agent takes over the same work dir; every numbered
// update reaches the framework in order, the new agent launches beside them and kills on request.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, isAlive } from '../helpers.js';
import { customTask, scenario, waitingTask, type ScenarioContext } from './scenario.js';
import { assertInOrder, finishInOrder, numberedExecutor, OLD_CLI, OLD_DRIVER, sequence, snapshot } from './upgrade.js';

const Upgrade = suite<ScenarioContext>('Upgrade: a 0.1.0 agent replaced by this build');

Upgrade.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

Upgrade(
  'kill -9 of a 0.1.0 agent, this build started on its work dir: its checkpoint is read (inspect changes no byte), old executors re-subscribe at protocol 1, updates arrive in order, new tasks run beside old ones, an old one is killed, the rest finish',
  scenario({}, async (s) => {
    const old = await s.startAgent([], { cli: OLD_CLI });
    const fw = await s.framework({ name: 'upgrade' });
    const executor = numberedExecutor(s, OLD_DRIVER, 'old-numbered');
    await fw.launch([waitingTask('cmd-finish'), waitingTask('cmd-kill'), customTask('numbered', 'numbered-executor', executor, fw.frameworkId)]);
    for (const id of ['cmd-finish', 'cmd-kill']) await fw.waitFor(id, 'TASK_RUNNING');
    await fw.waitFor('numbered', 'TASK_RUNNING', { where: (status) => status.message === 'seq 3' });
    const finishRun = s.run(fw, 'cmd-finish');
    const killRun = s.run(fw, 'cmd-kill');
    const numberedRun = s.run(fw, 'numbered');
    const shims = [await s.shimWithTask(finishRun, 'cmd-finish'), await s.shimWithTask(killRun, 'cmd-kill'), s.shim(numberedRun)];
    const masterAgent = (await s.masterState()).agents.find((agent) => agent.id === finishRun.agentId) as unknown as { protocol: number; release: string | null };
    assert.equal([masterAgent.protocol, masterAgent.release], [1, '0.1.0'], 'this master serves the 0.1.0 agent at protocol 1');

    await s.killAgent(old);
    assert.ok(shims.every((shim) => isAlive(shim.pid)), 'every executor outlives the 0.1.0 agent');
    // This build's inspect reads the 0.1.0 checkpoint and leaves every byte of it as it was.
    const before = snapshot(path.join(s.workDir, 'meta'));
    const text = execFileSync(process.execPath, [CLI, 'inspect', `--work_dir=${s.workDir}`], { encoding: 'utf8' });
    assert.match(text, /checkpoint format 1 \(no meta\/format: written by lifeline 0\.1\.0/);
    assert.match(text, /cmd-finish/);
    assert.equal(snapshot(path.join(s.workDir, 'meta')), before, 'inspect changed nothing in meta/');

    await s.startAgent();
    await s.waitAgentRunning();
    const executors = (await s.agentState()).frameworks.flatMap((f) => f.executors) as unknown as Array<{ id: string; state: string; protocol: number | null; release: string | null }>;
    assert.equal(
      executors.map((e) => [e.id, e.state, e.protocol, e.release]).sort(),
      [['cmd-finish', 'RUNNING', 1, '0.1.0'], ['cmd-kill', 'RUNNING', 1, '0.1.0'], ['numbered-executor', 'RUNNING', 1, '0.1.0']],
      'every 0.1.0 executor re-subscribed to this build, served at protocol 1',
    );
    assert.ok(shims.every((shim) => isAlive(shim.pid)), 'the same executor processes');

    // New tasks beside the old ones (this build's shim), and a kill of an old one.
    await fw.launch([waitingTask('cmd-new')]);
    await fw.waitFor('cmd-new', 'TASK_RUNNING');
    fw.driver.kill('cmd-kill');
    assert.is((await fw.waitTerminal('cmd-kill')).state, 'TASK_KILLED', fw.describe('cmd-kill'));

    const before2 = sequence(fw, 'numbered').length;
    await fw.waitFor('numbered', 'TASK_RUNNING', { where: (status) => status.message === `seq ${before2 + 3}`, timeoutMs: 15_000 });
    s.release(finishRun);
    s.release(s.run(fw, 'cmd-new'));
    s.release(numberedRun, 'numbered');
    for (const id of ['cmd-finish', 'cmd-new', 'numbered']) {
      const terminal = await fw.waitTerminal(id, 15_000);
      assert.is(terminal.state, 'TASK_FINISHED', `${id}: ${fw.describe(id)}`);
    }
    assertInOrder(fw, 'numbered', before2 + 3);
    await s.expectNoProcesses();
  }),
);

Upgrade(
  'SIGTERM of a 0.1.0 agent (the upgrade path), this build started: its command task and custom executor keep running and finish, every numbered update in order',
  scenario({}, async (s) => {
    const old = await s.startAgent([], { cli: OLD_CLI });
    const fw = await s.framework({ name: 'upgrade-term' });
    const executor = numberedExecutor(s, OLD_DRIVER, 'old-numbered');
    await fw.launch([waitingTask('cmd'), customTask('numbered', 'numbered-executor', executor, fw.frameworkId)]);
    await fw.waitFor('cmd', 'TASK_RUNNING');
    await fw.waitFor('numbered', 'TASK_RUNNING', { where: (status) => status.message === 'seq 2' });
    const cmdRun = s.run(fw, 'cmd');
    const numberedRun = s.run(fw, 'numbered');
    const shims = [await s.shimWithTask(cmdRun, 'cmd'), s.shim(numberedRun)];

    old.signal('SIGTERM');
    assert.is((await old.waitForExit(15_000)).code, 0, s.logs());
    assert.ok(shims.every((shim) => isAlive(shim.pid)), 'the executors outlive SIGTERM of the 0.1.0 agent');
    await s.startAgent();
    await finishInOrder(s, fw, cmdRun, numberedRun);
  }),
);

Upgrade.run();
