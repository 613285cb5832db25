// Command tasks end to end on the agent's side: a real Agent in this process launches the real
// `lifeline shim` (built CLI), against a fake master that acknowledges every update.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent } from '../../src/agent/index.js';
import type { FrameworkInfo, TaskInfo } from '../../src/protocol/index.js';
import { isAlive, removeDir, tempDir, waitFor } from '../helpers.js';
import { FakeMaster } from './fakes.js';

const test = suite('Agent with lifeline shim');
let dir: string;
let master: FakeMaster | undefined;
let agent: Agent | undefined;

const FRAMEWORK: FrameworkInfo & { id: string } = { id: 'f1', name: 'shim test', checkpoint: false };

function commandTask(taskId: string, command: string, gracePeriodMs?: number): TaskInfo {
  return {
    taskId,
    name: taskId,
    agentId: 'agent-1',
    resources: { cpus: 0.1, mem: 32 },
    command: { value: command },
    ...(gracePeriodMs !== undefined && { killPolicy: { gracePeriodMs } }),
  };
}

test.before.each(async () => {
  dir = tempDir('ll-shim-');
  master = await FakeMaster.start();
  agent = new Agent({
    master: master.address,
    workDir: path.join(dir, 'work'),
    runtimeDir: path.join(dir, 'rt'),
    port: 0,
    resources: { cpus: 4, mem: 4096, disk: 10_000 },
    registrationBackoffFactorMs: 50,
    executorShutdownGracePeriodMs: 1_000,
  });
  await agent.start();
  await waitFor(() => agent!.status === 'RUNNING', { message: 'the agent to register' });
});

test.after.each(async () => {
  await master?.close();
  await agent?.shutdown();
  master = agent = undefined;
  removeDir(dir);
});

test('runs a command task to TASK_FINISHED, with its output in the sandbox', async () => {
  master!.send({ type: 'RUN_TASK', frameworkInfo: FRAMEWORK, task: commandTask('t1', 'echo hello from the task') });
  const finished = await master!.waitForStatus('t1', 'TASK_FINISHED', 20_000);
  assert.is(finished.executorId, 't1', 'a command task\'s executor ID is its task ID');
  assert.is(finished.source, 'SOURCE_EXECUTOR');
  const states = master!.statusUpdates().filter((s) => s.taskId === 't1').map((s) => s.state);
  assert.ok(states.includes('TASK_RUNNING'), states.join(','));
  assert.is(states.at(-1), 'TASK_FINISHED');
  const runs = path.join(dir, 'work', 'sandboxes', 'agent-1', 'frameworks', 'f1', 'executors', 't1', 'runs');
  const [containerId] = fs.readdirSync(runs);
  assert.match(fs.readFileSync(path.join(runs, containerId!, 'stdout'), 'utf8'), /hello from the task/);
  // The shim exits after its terminal update: no TASK_FAILED is invented for it.
  await waitFor(() => agent!.state().frameworks.length === 0, { message: 'the executor to be forgotten' });
  assert.is(master!.statusUpdates().filter((s) => s.taskId === 't1' && s.state === 'TASK_FAILED').length, 0);
});

test('reports TASK_FAILED with the exit code of a failing command', async () => {
  master!.send({ type: 'RUN_TASK', frameworkInfo: FRAMEWORK, task: commandTask('t3', 'exit 3') });
  const failed = await master!.waitForStatus('t3', 'TASK_FAILED', 20_000);
  assert.is(failed.source, 'SOURCE_EXECUTOR');
  assert.match(failed.message ?? '', /3/);
});

test('kills a running command task: TASK_KILLED, and its processes are gone', async () => {
  const pidFile = path.join(dir, 'task.pid');
  master!.send({ type: 'RUN_TASK', frameworkInfo: FRAMEWORK, task: commandTask('t9', `echo $$ > ${pidFile}; exec sleep 60`, 500) });
  await master!.waitForStatus('t9', 'TASK_RUNNING', 20_000);
  const shimPid = agent!.state().frameworks[0]!.executors[0]!.pid!;
  const taskPid = await waitFor(() => Number(fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()), { message: 'the task to start' });
  assert.ok(isAlive(taskPid));
  master!.send({ type: 'KILL_TASK', frameworkId: 'f1', taskId: 't9' });
  await master!.waitForStatus('t9', 'TASK_KILLED', 20_000);
  await waitFor(() => !isAlive(taskPid), { message: 'the task process to die' });
  await waitFor(() => !isAlive(shimPid), { message: 'the shim to exit' });
});

test.run();
