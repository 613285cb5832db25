// The built `lifeline shim` against a fake agent: it runs the launched command in the sandbox, in
// a process group of its own, reports how it ended, and takes the group down with it however it
// is stopped (KILL, SHUTDOWN, a signal, a lost agent).
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive, lifeline, removeDir, tempDir, waitFor, type Proc } from '../helpers.js';
import { FakeAgent, commandTask, type FakeAgentOptions } from './fake-agent.js';
import { killLeftovers, liveGroupMembers, readPid } from './process-group.js';

interface Context {
  dir: string;
  sandbox: string;
  agent: FakeAgent | undefined;
  shim: Proc | undefined;
}

const Shim = suite<Context>('lifeline shim', { dir: '', sandbox: '', agent: undefined, shim: undefined });

Shim.before.each((context) => {
  context.dir = tempDir('ll-shim-');
  context.sandbox = path.join(context.dir, 'sandbox');
  fs.mkdirSync(context.sandbox);
  context.agent = undefined;
  context.shim = undefined;
});

Shim.after.each(async (context) => {
  await context.shim?.stop(500);
  // Whatever happened in the test, no task process outlives it.
  killLeftovers(readPid(path.join(context.sandbox, 'task.pid')), context.sandbox);
  await context.agent?.close();
  removeDir(context.dir);
});

/** A command that records its pid (= its process group) and a child's, then waits on the child. */
const SLEEPER = 'echo $$ > task.pid; sleep 30 & echo $! > sleep.pid; wait';

async function startShim(context: Context, options: FakeAgentOptions, env: Record<string, string> = {}) {
  const agent = await FakeAgent.start(context.dir, options);
  context.agent = agent;
  const shim = lifeline(['shim'], { cwd: context.dir, env: { ...process.env, ...agent.env(context.sandbox, env) } });
  context.shim = shim;
  return { agent, shim };
}

/** The pids the SLEEPER task wrote, once it has written them. */
async function sleeperPids(context: Context) {
  return waitFor(
    () => {
      const task = readPid(path.join(context.sandbox, 'task.pid'));
      const sleep = readPid(path.join(context.sandbox, 'sleep.pid'));
      return task !== undefined && sleep !== undefined && { task, sleep };
    },
    { message: 'the task to write its pids' },
  );
}

async function assertGroupGone(pgid: number, sleepPid: number) {
  await waitFor(() => liveGroupMembers(pgid).length === 0, { message: `process group ${pgid} to be empty` });
  assert.not.ok(isAlive(pgid), 'the shell is gone');
  assert.not.ok(isAlive(sleepPid), "the shell's child is gone");
}

Shim('a command that exits 0: TASK_STARTING, TASK_RUNNING, TASK_FINISHED, and exit 0 once that is acknowledged', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', 'exit 0'), acknowledge: false });
  const finished = await agent.waitForStatus('task-1', 'TASK_FINISHED');
  assert.equal(agent.states('task-1'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  assert.is(finished.source, 'SOURCE_EXECUTOR');
  assert.is(finished.message, 'Command exited with status 0');
  assert.is(shim.exit, undefined, 'still running while TASK_FINISHED is unacknowledged');
  for (const status of agent.statuses()) agent.acknowledge(status);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
  assert.equal(agent.invalid, []);
});

Shim('a command that exits 3: TASK_FAILED with a message giving the status', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', 'exit 3') });
  const failed = await agent.waitForStatus('task-1', 'TASK_FAILED');
  assert.is(failed.message, 'Command exited with status 3');
  assert.equal(agent.states('task-1'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('a command killed by a signal: TASK_FAILED naming the signal', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', 'kill -USR1 $$') });
  const failed = await agent.waitForStatus('task-1', 'TASK_FAILED');
  assert.is(failed.message, 'Command terminated with signal SIGUSR1');
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('a command that cannot be started: TASK_FAILED with REASON_COMMAND_EXECUTOR_FAILED', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', 'echo a\0b') });
  const failed = await agent.waitForStatus('task-1', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_COMMAND_EXECUTOR_FAILED');
  assert.match(failed.message ?? '', /^Failed to launch command: /);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('the command runs in the sandbox directory and does not inherit the executor token', async (context) => {
  const { agent, shim } = await startShim(context, {
    launch: commandTask('task-1', 'pwd > where.txt && test -z "$LIFELINE_EXECUTOR_TOKEN" && test -n "$LIFELINE_EXECUTOR_ID"'),
  });
  const finished = await agent.waitForStatus('task-1', 'TASK_FINISHED');
  assert.is(finished.message, 'Command exited with status 0', 'the token is not in the task environment');
  assert.is(fs.readFileSync(path.join(context.sandbox, 'where.txt'), 'utf8').trim(), fs.realpathSync(context.sandbox));
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('KILL: TASK_KILLING, then TASK_KILLED once the whole process group is gone', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  assert.ok(isAlive(pids.sleep));
  agent.send({ type: 'KILL', taskId: 'task-1', gracePeriodMs: 5_000 });
  const killed = await agent.waitForStatus('task-1', 'TASK_KILLED');
  assert.equal(agent.states('task-1'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
  assert.is(killed.message, 'Command terminated with signal SIGTERM');
  await assertGroupGone(pids.task, pids.sleep);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('a task that ignores SIGTERM is SIGKILLed when the grace period ends', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', `trap "" TERM; ${SLEEPER}`) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  agent.send({ type: 'KILL', taskId: 'task-1', gracePeriodMs: 200 });
  const killed = await agent.waitForStatus('task-1', 'TASK_KILLED');
  assert.is(killed.message, 'Command terminated with signal SIGKILL');
  await assertGroupGone(pids.task, pids.sleep);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('SHUTDOWN kills the task group and reports TASK_KILLED', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  agent.send({ type: 'SHUTDOWN', gracePeriodMs: 3_000 });
  await agent.waitForStatus('task-1', 'TASK_KILLED');
  assert.equal(agent.states('task-1'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
  await assertGroupGone(pids.task, pids.sleep);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('SHUTDOWN before any LAUNCH: the shim exits 0', async (context) => {
  const { agent, shim } = await startShim(context, {});
  await agent.waitForCall('SUBSCRIBE');
  agent.send({ type: 'SHUTDOWN', gracePeriodMs: 1_000 });
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

Shim('a second LAUNCH gets TASK_ERROR and does not disturb the running task', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  agent.send({ type: 'LAUNCH', task: commandTask('task-2', 'true') });
  const error = await agent.waitForStatus('task-2', 'TASK_ERROR');
  assert.match(error.message ?? '', /task-1/);
  assert.equal(agent.states('task-2'), ['TASK_ERROR']);
  assert.ok(isAlive(pids.sleep), 'task-1 still runs');
  agent.send({ type: 'KILL', taskId: 'task-1', gracePeriodMs: 1_000 });
  await agent.waitForStatus('task-1', 'TASK_KILLED');
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  Shim(`${signal} to the shim kills the task group, reports TASK_KILLED and exits`, async (context) => {
    const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
    const pids = await sleeperPids(context);
    await agent.waitForStatus('task-1', 'TASK_RUNNING');
    shim.signal(signal);
    await agent.waitForStatus('task-1', 'TASK_KILLED');
    await assertGroupGone(pids.task, pids.sleep);
    assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
  });
}

Shim('a signal the shim does not handle still takes the task group down (the exit hook)', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  shim.signal('SIGUSR2');
  const exit = await shim.waitForExit();
  assert.is(exit.signal, 'SIGUSR2', shim.stderr);
  await assertGroupGone(pids.task, pids.sleep);
});

Shim('a lost agent connection shuts a non-checkpointing shim down with its task', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  agent.dropConnections();
  await assertGroupGone(pids.task, pids.sleep);
  const exit = await shim.waitForExit();
  assert.is(exit.code, 1, 'the terminal update could not be delivered');
});

Shim('a bad environment fails the shim with exit 1 and a message naming the variable', async (context) => {
  const { shim } = await startShim(context, {}, { LIFELINE_FRAMEWORK_ID: 'a/b' });
  assert.equal(await shim.waitForExit(), { code: 1, signal: null });
  assert.match(shim.stderr, /LIFELINE_FRAMEWORK_ID is "a\/b"/);
  assert.match(shim.stderr, /ERR_ENVIRONMENT/);
});

Shim.run();
