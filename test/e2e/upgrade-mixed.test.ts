// Mixed versions and rollback (issue 11), with the real 0.1.0 build frozen in
// test/fixtures/releases: executors launched by this build survive a rollback to the 0.1.0 agent
// and their updates still flow; a 0.1.0 `lifeline run` works against this build's master and agent;
// this build's agent and scheduler work against a 0.1.0 master.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getJson, isAlive } from '../helpers.js';
import { customTask, scenario, waitingTask, type ScenarioContext } from './scenario.js';
import { finishInOrder, NEW_DRIVER, numberedExecutor, OLD_CLI } from './upgrade.js';

const Mixed = suite<ScenarioContext>('Upgrade: rollback and mixed versions');

Mixed.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

Mixed(
  'rollback: executors of this build (its shim, its driver) survive kill -9 of this agent and a restart into the 0.1.0 agent, which serves them; updates still flow in order and the tasks finish',
  scenario({}, async (s) => {
    const current = await s.startAgent();
    const fw = await s.framework({ name: 'rollback' });
    const executor = numberedExecutor(s, NEW_DRIVER, 'new-numbered');
    await fw.launch([waitingTask('cmd'), customTask('numbered', 'numbered-executor', executor, fw.frameworkId)]);
    await fw.waitFor('cmd', 'TASK_RUNNING');
    await fw.waitFor('numbered', 'TASK_RUNNING', { where: (status) => status.message === 'seq 2' });
    const cmdRun = s.run(fw, 'cmd');
    const numberedRun = s.run(fw, 'numbered');
    const shims = [await s.shimWithTask(cmdRun, 'cmd'), s.shim(numberedRun)];

    await s.killAgent(current);
    await s.startAgent([], { cli: OLD_CLI });
    const executors = (await s.agentState()).frameworks.flatMap((f) => f.executors);
    assert.equal(executors.map((e) => [e.id, e.state]).sort(), [['cmd', 'RUNNING'], ['numbered-executor', 'RUNNING']], 'the 0.1.0 agent recovered both runs');
    assert.ok(shims.every((shim) => isAlive(shim.pid)), 'the executors of this build outlived the rollback');
    await finishInOrder(s, fw, cmdRun, numberedRun);
  }),
);

Mixed(
  "a 0.1.0 `lifeline run` against this build's master and agent runs its task to TASK_FINISHED",
  scenario({}, async (s) => {
    await s.startAgent();
    const run = s.spawn(process.execPath, [OLD_CLI, 'run', `--master=${s.masterAddress}`, '--command=echo from-0.1.0', '--name=old-run', '--json']);
    const exit = await run.waitForExit(20_000);
    assert.is(exit.code, 0, `0.1.0 run: ${run.stdout}\n${run.stderr}`);
    const states = run.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { status?: { state?: string } }).status?.state).filter(Boolean);
    assert.is(states.at(-1), 'TASK_FINISHED', run.stdout);
    assert.equal(states, ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'], 'every update reached the 0.1.0 scheduler, in order');
  }),
);

Mixed(
  "this build's agent and scheduler against a 0.1.0 master: registered at protocol 1, a task launched, its updates delivered, TASK_FINISHED",
  scenario({ masterCli: OLD_CLI }, async (s) => {
    const agent = await s.startAgent();
    const fw = await s.framework({ name: 'on-old-master' });
    await fw.launch([waitingTask('t1')]);
    await fw.waitFor('t1', 'TASK_RUNNING');
    s.release(s.run(fw, 't1'));
    assert.is((await fw.waitTerminal('t1')).state, 'TASK_FINISHED', fw.describe('t1'));
    assert.match(agent.stderr, /"protocol":1,"masterRelease":"0\.1\.0 or older","msg":"registered with the master"/);
    const version = await getJson(`http://${s.agentAddress}/version`);
    assert.equal(version, { status: 200, body: { version: '0.2.0', protocol: { current: 2, oldest: 1 }, formats: { checkpoint: 1, sandbox: 1 } } });
    await s.expectNoProcesses();
  }),
);

Mixed.run();
