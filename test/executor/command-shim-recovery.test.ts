// The built `lifeline shim` of a checkpointing framework while its agent is away: shim.json names
// the task's process group before TASK_RUNNING, a task that ends meanwhile has its terminal update
// waiting in the outbox for the restarted agent, and when the agent does not come back in time the
// shim takes its task down, records TASK_FAILED/REASON_EXECUTOR_RECOVERY_TIMEOUT and exits.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJsonSync } from '../../src/checkpoint/atomic-write.js';
import { outboxPath, shimInfoPath } from '../../src/checkpoint/layout.js';
import { parseRecordLog, readRecordLog } from '../../src/checkpoint/record-log.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { ShimInfo } from '../../src/checkpoint/shim-info.js';
import type { TaskStatus } from '../../src/protocol/index.js';
import { isAlive, lifeline, removeDir, tempDir, waitFor, type Proc } from '../helpers.js';
import { FakeAgent, commandTask, type FakeAgentOptions } from './fake-agent.js';
import { killLeftovers, liveGroupMembers, readPid } from './process-group.js';

interface Context {
  dir: string;
  sandbox: string;
  agents: FakeAgent[];
  shim: Proc | undefined;
}

const ShimRecovery = suite<Context>('lifeline shim recovery', { dir: '', sandbox: '', agents: [], shim: undefined });

ShimRecovery.before.each((context) => {
  context.dir = tempDir('ll-shimr-');
  context.sandbox = path.join(context.dir, 'sandbox');
  fs.mkdirSync(context.sandbox);
  context.agents = [];
  context.shim = undefined;
});

ShimRecovery.after.each(async (context) => {
  await context.shim?.stop(500);
  killLeftovers(readPid(path.join(context.sandbox, 'task.pid')), context.sandbox);
  for (const agent of context.agents) await agent.close();
  removeDir(context.dir);
});

/** A command that records its pid (= its process group) and a child's, then waits on the child. */
const SLEEPER = 'echo $$ > task.pid; sleep 30 & echo $! > sleep.pid; wait';
/** A command that records its pid and finishes (exit 0) once the test creates the file `go`. */
const WAITS_FOR_GO = 'echo $$ > task.pid; while [ ! -e go ]; do sleep 0.02; done';

const CHECKPOINTING = {
  LIFELINE_CHECKPOINT: '1',
  LIFELINE_RECOVERY_TIMEOUT: '30secs',
  LIFELINE_SUBSCRIPTION_BACKOFF_MAX: '100ms',
};

async function startShim(context: Context, options: FakeAgentOptions, env: Record<string, string> = CHECKPOINTING) {
  const agent = await FakeAgent.start(context.dir, options);
  context.agents.push(agent);
  const shim = lifeline(['shim'], { cwd: context.sandbox, env: { ...process.env, ...agent.env(context.sandbox, env) } });
  context.shim = shim;
  return { agent, shim };
}

async function restartAgent(context: Context, options: FakeAgentOptions = {}): Promise<FakeAgent> {
  const agent = await FakeAgent.start(context.dir, options);
  context.agents.push(agent);
  return agent;
}

function outbox(context: Context): LogRecord[] {
  const file = outboxPath(context.sandbox);
  return parseRecordLog(fs.readFileSync(file), { file }).records;
}

function outboxUpdates(context: Context): TaskStatus[] {
  return outbox(context).flatMap((record) => (record.kind === 'UPDATE' ? [record.status] : []));
}

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

ShimRecovery("shim.json names the task's process group before TASK_RUNNING reaches the agent", async (context) => {
  let atRunning: ShimInfo | undefined;
  const { agent, shim } = await startShim(context, {
    launch: commandTask('task-1', SLEEPER),
    onCall: (call) => {
      if (call.type === 'UPDATE' && call.status.state === 'TASK_RUNNING') atRunning = readJsonSync(shimInfoPath(context.sandbox), ShimInfo);
    },
  });
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  const pids = await sleeperPids(context);
  assert.ok(atRunning, 'shim.json was readable when TASK_RUNNING arrived');
  assert.is(atRunning!.pid, shim.pid, "the shim's own pid");
  assert.is(atRunning!.executorId, 'executor-1');
  assert.equal(atRunning!.tasks.map((task) => [task.taskId, task.pgid]), [['task-1', pids.task]]);
  const stat = fs.readFileSync(`/proc/${pids.task}/stat`, 'utf8');
  assert.is(atRunning!.tasks[0]!.startTime, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]), "the group leader's start time");
  agent.send({ type: 'KILL', taskId: 'task-1', gracePeriodMs: 1_000 });
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
  assert.equal(readJsonSync(shimInfoPath(context.sandbox), ShimInfo).tasks, [], 'the ended task is no longer listed');
});

ShimRecovery('the recovery timeout: the shim kills its task group, records TASK_FAILED/REASON_EXECUTOR_RECOVERY_TIMEOUT in the outbox and exits', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) }, { ...CHECKPOINTING, LIFELINE_RECOVERY_TIMEOUT: '2secs' });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  await agent.close();
  const exit = await shim.waitForExit(15_000);
  assert.is(exit.code, 1, `the terminal update could not be delivered\n${shim.stderr}`);
  await assertGroupGone(pids.task, pids.sleep);
  const last = outboxUpdates(context).at(-1)!;
  assert.is(last.taskId, 'task-1');
  assert.is(last.state, 'TASK_FAILED');
  assert.is(last.reason, 'REASON_EXECUTOR_RECOVERY_TIMEOUT');
  assert.match(last.message ?? '', /signal SIGTERM/);
  assert.match(shim.stderr, /recovery timeout/);
  const { tornTail } = await readRecordLog(outboxPath(context.sandbox));
  assert.is(tornTail, false);
});

ShimRecovery('a task that finishes while the agent is away: the restarted agent gets TASK_FINISHED in SUBSCRIBE and the shim exits 0 once it acknowledges', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', WAITS_FOR_GO) });
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  await waitFor(() => readPid(path.join(context.sandbox, 'task.pid')), { message: 'the task to start' });
  await agent.close();
  fs.writeFileSync(path.join(context.sandbox, 'go'), '');
  const recorded = await waitFor(() => outboxUpdates(context).find((status) => status.state === 'TASK_FINISHED'), {
    message: 'TASK_FINISHED in the outbox while the agent is away',
  });
  assert.is(shim.exit, undefined, 'the shim waits for the agent');
  const second = await restartAgent(context, { acknowledge: false });
  const subscribe = await second.waitForCall('SUBSCRIBE');
  assert.equal(
    subscribe.unacknowledgedUpdates.map((status) => status.uuid),
    [recorded.uuid],
    'TASK_FINISHED (the one unacknowledged update) is carried in SUBSCRIBE',
  );
  assert.is(subscribe.unacknowledgedUpdates[0]!.state, 'TASK_FINISHED');
  assert.is(shim.exit, undefined, 'no exit before the acknowledgement');
  second.acknowledge(subscribe.unacknowledgedUpdates[0]!);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
  assert.ok(
    outbox(context).some((record) => record.kind === 'ACK' && record.uuid === recorded.uuid),
    'the acknowledgement is recorded',
  );
});

ShimRecovery('the task keeps running while the agent is away and reports normally once it is back', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  await agent.close();
  const second = await restartAgent(context);
  await second.waitForCall('SUBSCRIBE');
  assert.ok(isAlive(pids.sleep), 'the task survived the agent');
  second.send({ type: 'KILL', taskId: 'task-1', gracePeriodMs: 1_000 });
  await second.waitForStatus('task-1', 'TASK_KILLED');
  await assertGroupGone(pids.task, pids.sleep);
  assert.equal(await shim.waitForExit(), { code: 0, signal: null }, shim.stderr);
});

ShimRecovery('SIGTERM while the agent is away: the task is killed, TASK_KILLED is recorded, and the shim exits without waiting', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  await agent.close();
  shim.signal('SIGTERM');
  const exit = await shim.waitForExit();
  assert.is(exit.code, 1, shim.stderr);
  await assertGroupGone(pids.task, pids.sleep);
  const last = outboxUpdates(context).at(-1)!;
  assert.is(last.state, 'TASK_KILLED');
  assert.is(last.reason, undefined);
});

ShimRecovery('not checkpointing: a lost agent shuts the shim down at once, with TASK_KILLED in the outbox', async (context) => {
  const { agent, shim } = await startShim(context, { launch: commandTask('task-1', SLEEPER) }, { LIFELINE_CHECKPOINT: '0' });
  const pids = await sleeperPids(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  agent.dropConnections();
  const exit = await shim.waitForExit();
  assert.is(exit.code, 1, shim.stderr);
  await assertGroupGone(pids.task, pids.sleep);
  assert.is(outboxUpdates(context).at(-1)!.state, 'TASK_KILLED');
  assert.is(agent.calls.filter((call) => call.type === 'SUBSCRIBE').length, 1, 'no attempt to re-subscribe');
});

ShimRecovery.run();
