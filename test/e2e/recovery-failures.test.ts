// Agent recovery end to end, the paths where something did not survive: an executor that died,
// hung, or timed out while the agent was away; a framework that does not checkpoint; a reboot; a
// recorded pid that now belongs to someone else; an agent the master gave up on. Each reports
// the state and reason DESIGN §5–§8 promise, and leaves no process behind. (Mesos:
// RecoverTerminatedExecutor, RecoverUnregisteredExecutor, RecoveryTimeout, NonCheckpointingFramework,
// Reboot, RebootWithExecutorPidReused, RegisterDisconnectedSlave.)
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readProcStat } from '../../src/process/index.js';
import { isAlive, waitFor } from '../helpers.js';
import { customTask, killHard, scenario, waitingTask, type ScenarioContext } from './scenario.js';

const Failures = suite<ScenarioContext>('Recovery: what did not survive');

Failures.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

Failures(
  'an executor killed while the agent is down: TASK_FAILED/REASON_EXECUTOR_TERMINATED, and its orphaned task is killed',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { shim } = await s.launchRunning(fw, 't1');
    const taskPgid = shim.tasks[0]!.pgid;

    await s.killAgent();
    killHard(shim.pid); // the shim only: its task lives on in its own process group
    await s.expectDead([shim.pid], 'the shim');
    assert.ok(isAlive(taskPgid), 'the task outlived its shim');

    await s.startAgent();
    const failed = await fw.waitTerminal('t1');
    assert.equal([failed.state, failed.reason, failed.source], ['TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', 'SOURCE_AGENT'], fw.describe('t1'));
    await s.expectDead([taskPgid], 'the task of the dead shim');
    await s.expectNoProcesses();
  }),
);

Failures(
  "an executor killed after its task finished while the agent was down: the outbox's real TASK_FINISHED is delivered",
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    await s.killAgent();
    s.release(run);
    const recorded = await s.outboxUpdate(run, 't1', 'TASK_FINISHED');
    killHard(shim.pid); // before it could deliver it
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the shim and its finished task');

    await s.startAgent();
    const terminal = await fw.waitTerminal('t1');
    assert.equal([terminal.state, terminal.uuid], ['TASK_FINISHED', recorded.uuid], fw.describe('t1'));
    assert.equal(fw.terminals('t1').map((t) => t.state), ['TASK_FINISHED'], `never an invented TASK_FAILED: ${fw.describe('t1')}`);
    await s.expectNoProcesses();
  }),
);

Failures(
  'an executor that never re-subscribes (SIGSTOPped) is killed with its task: TASK_LOST/REASON_EXECUTOR_REREGISTRATION_TIMEOUT; the others carry on',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    await fw.launch([waitingTask('hung'), waitingTask('fine')]);
    await fw.waitFor('hung', 'TASK_RUNNING');
    await fw.waitFor('fine', 'TASK_RUNNING');
    const hung = s.run(fw, 'hung');
    const fine = s.run(fw, 'fine');
    const hungShim = await s.shimWithTask(hung, 'hung');
    const fineShim = await s.shimWithTask(fine, 'fine');

    await s.killAgent();
    process.kill(hungShim.pid, 'SIGSTOP');
    await s.startAgent();
    const lost = await fw.waitTerminal('hung');
    assert.equal([lost.state, lost.reason, lost.source], ['TASK_LOST', 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', 'SOURCE_AGENT'], fw.describe('hung'));
    await s.expectDead([hungShim.pid, hungShim.tasks[0]!.pgid], 'the hung shim and its task');

    assert.ok(isAlive(fineShim.pid), 'the executor that came back is kept');
    s.release(fine);
    await fw.waitFor('fine', 'TASK_FINISHED');
    await s.expectNoProcesses();
  }),
);

Failures(
  'an agent down longer than --recovery_timeout: the shim kills its task and exits, and TASK_FAILED/REASON_EXECUTOR_RECOVERY_TIMEOUT is reported',
  scenario({}, async (s) => {
    await s.startAgent(); // --recovery_timeout=4secs
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    await s.killAgent();
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the shim and its task after the recovery timeout', 12_000);
    await s.expectNoProcesses();
    const recorded = await s.outboxUpdate(run, 't1', 'TASK_FAILED');
    assert.is(recorded.reason, 'REASON_EXECUTOR_RECOVERY_TIMEOUT');

    await s.startAgent();
    const terminal = await fw.waitTerminal('t1');
    assert.equal([terminal.state, terminal.reason, terminal.uuid], ['TASK_FAILED', 'REASON_EXECUTOR_RECOVERY_TIMEOUT', recorded.uuid], fw.describe('t1'));
    await s.expectNoProcesses();
  }),
);

Failures(
  'a framework that does not checkpoint: TASK_LOST/REASON_AGENT_DISCONNECTED at once, its executor dies with the agent, and nothing of it is on disk',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework({ checkpoint: false });
    const { run, shim } = await s.launchRunning(fw, 't1');
    assert.not.ok(fs.existsSync(path.join(s.workDir, 'meta', 'agents', run.agentId, 'frameworks', fw.frameworkId)), 'nothing checkpointed');

    await s.killAgent();
    const lost = await fw.waitTerminal('t1');
    assert.equal([lost.state, lost.reason, lost.source], ['TASK_LOST', 'REASON_AGENT_DISCONNECTED', 'SOURCE_MASTER'], fw.describe('t1'));
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the shim of a non-checkpointing framework and its task');

    await s.startAgent();
    const agent = await s.waitAgentRunning();
    assert.equal(agent.frameworks.flatMap((f) => f.executors.map((e) => e.id)), [], JSON.stringify(agent));
    await s.expectNoProcesses();
  }),
);

Failures(
  'after a reboot no recorded pid is trusted: TASK_FAILED/REASON_EXECUTOR_TERMINATED, the agent keeps its ID, and the process now holding the pid is left alone',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    // The "reboot": everything dies, a new process gets a recorded pid, and the boot id changes.
    await s.killAgent();
    killHard(shim.pid, { group: true });
    killHard(shim.tasks[0]!.pgid, { group: true });
    await s.expectNoProcesses();
    const stranger = s.spawn('sleep', ['60'], { detached: true });
    const identity = await waitFor(() => readProcStat(stranger.pid), { message: 'the stranger running' });
    // Even an identity that matches (pid AND start time) is not trusted after a reboot.
    rewriteIdentities(run, { pid: stranger.pid, startTime: identity.startTime });
    const bootIdFile = path.join(s.workDir, 'meta', 'boot_id');
    assert.ok(fs.existsSync(bootIdFile), 'the agent recorded the boot id');
    const hostBootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    fs.writeFileSync(bootIdFile, '00000000-0000-4000-8000-000000000000\n');

    await s.startAgent();
    const agent = await s.waitAgentRunning();
    assert.is(agent.id, run.agentId, 'same resources: the agent keeps its ID');
    const failed = await fw.waitTerminal('t1');
    assert.equal([failed.state, failed.reason, failed.source], ['TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', 'SOURCE_AGENT'], fw.describe('t1'));
    assert.ok(isAlive(stranger.pid), 'the process holding the recorded pid is left alone');
    assert.not.ok(fs.existsSync(path.join(run.meta, 'forked.json')), 'the untrustworthy forked.json is deleted');
    assert.is(fs.readFileSync(bootIdFile, 'utf8').trim(), hostBootId, 'the new boot id is recorded');
    await s.expectNoProcesses();
  }),
);

Failures(
  'a recorded pid reused by an unrelated process (another start time) is left alone: TASK_FAILED/REASON_EXECUTOR_TERMINATED',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    await s.killAgent();
    killHard(shim.pid, { group: true });
    killHard(shim.tasks[0]!.pgid, { group: true });
    await s.expectNoProcesses();
    const stranger = s.spawn('sleep', ['60'], { detached: true });
    const identity = await waitFor(() => readProcStat(stranger.pid), { message: 'the stranger running' });
    rewriteIdentities(run, { pid: stranger.pid, startTime: identity.startTime + 1 });

    await s.startAgent();
    const failed = await fw.waitTerminal('t1');
    assert.equal([failed.state, failed.reason, failed.source], ['TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', 'SOURCE_AGENT'], fw.describe('t1'));
    assert.ok(isAlive(stranger.pid), 'a pid with another start time is another process: not killed');
    // Nothing waits on it either: the agent holds that executor as ended, not running.
    const agent = await s.waitAgentRunning();
    const executor = agent.frameworks.find((f) => f.id === fw.frameworkId)?.executors.find((e) => e.id === run.executorId);
    assert.ok(executor === undefined || executor.state !== 'RUNNING', JSON.stringify(agent));
    await s.expectNoProcesses();
  }),
);

Failures(
  'past --agent_reregister_timeout the master removes the agent (TASK_LOST/REASON_AGENT_REMOVED) and, when it comes back, tells it to shut down',
  scenario({ masterFlags: ['--agent_reregister_timeout=2secs'], agentFlags: ['--recovery_timeout=20secs'] }, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    await s.killAgent();
    const lost = await fw.waitTerminal('t1');
    assert.equal([lost.state, lost.reason, lost.source], ['TASK_LOST', 'REASON_AGENT_REMOVED', 'SOURCE_MASTER'], fw.describe('t1'));
    assert.is(await s.masterAgentStatus(run.agentId), 'REMOVED');
    assert.ok(isAlive(shim.pid), 'the executor still waits for its agent (long --recovery_timeout)');

    const agent = await s.startAgent([], { waitRunning: false });
    const exit = await agent.waitForExit(15_000);
    assert.is(exit.code, 0, `the agent told to shut down exits 0\n${s.logs()}`);
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the executor and task of the removed agent');
    assert.not.ok(fs.existsSync(path.join(s.workDir, 'meta', 'agents', 'latest')), 'meta/agents/latest removed: the next start is a new agent');
    await s.expectNoProcesses();

    // Started again, it registers as a new agent.
    await s.startAgent();
    const fresh = await s.waitAgentRunning();
    assert.is.not(fresh.id, run.agentId);
  }),
);

Failures(
  'a task the agent recorded but its executor never received: TASK_LOST/REASON_AGENT_RESTARTED; the executor\'s other task runs on',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    await fw.launch([customTask('c1', 'custom', s.customExecutor, fw.frameworkId)]);
    await fw.waitFor('c1', 'TASK_RUNNING');
    const run = s.run(fw, 'c1');
    const executor = s.shim(run);

    // As if the agent had died between checkpointing a second task and handing it to the executor.
    await s.killAgent();
    const c1Dir = path.join(run.meta, 'tasks', 'c1');
    const ghostDir = path.join(run.meta, 'tasks', 'ghost');
    fs.mkdirSync(ghostDir);
    const info = JSON.parse(fs.readFileSync(path.join(c1Dir, 'task.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(ghostDir, 'task.json'), JSON.stringify({ ...info, taskId: 'ghost', name: 'ghost' }));
    fs.writeFileSync(path.join(ghostDir, 'task.updates'), '');

    await s.startAgent();
    const lost = await fw.waitTerminal('ghost');
    assert.equal([lost.state, lost.reason, lost.source], ['TASK_LOST', 'REASON_AGENT_RESTARTED', 'SOURCE_AGENT'], fw.describe('ghost'));
    assert.ok(isAlive(executor.pid), 'the executor itself carries on');
    s.release(run, 'c1');
    await fw.waitFor('c1', 'TASK_FINISHED');
    await s.expectNoProcesses();
  }),
);

Failures(
  'a run whose forked.json is missing is identified by its shim.json: a hung executor is still found and killed with its task',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, shim } = await s.launchRunning(fw, 't1');

    // As if the agent had died between spawning the executor and recording it.
    await s.killAgent();
    fs.rmSync(path.join(run.meta, 'forked.json'));
    process.kill(shim.pid, 'SIGSTOP');

    await s.startAgent();
    const lost = await fw.waitTerminal('t1');
    assert.equal([lost.state, lost.reason], ['TASK_LOST', 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT'], fw.describe('t1'));
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the executor known only from shim.json, and its task');
    await s.expectNoProcesses();
  }),
);

Failures.run();

/** Points forked.json and shim.json (executor pid and task group) at another process. */
function rewriteIdentities(run: { meta: string; sandbox: string }, identity: { pid: number; startTime: number }): void {
  const forked = path.join(run.meta, 'forked.json');
  assert.ok(fs.existsSync(forked), `forked.json exists at ${forked}`);
  fs.writeFileSync(forked, JSON.stringify(identity));
  const shimFile = path.join(run.sandbox, '.lifeline', 'shim.json');
  const shim = JSON.parse(fs.readFileSync(shimFile, 'utf8')) as { pid: number; startTime: number; tasks: Array<{ pgid: number; startTime: number }> };
  shim.pid = identity.pid;
  shim.startTime = identity.startTime;
  for (const task of shim.tasks) {
    task.pgid = identity.pid;
    task.startTime = identity.startTime;
  }
  fs.writeFileSync(shimFile, JSON.stringify(shim));
}
