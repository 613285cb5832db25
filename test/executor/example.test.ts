// examples/custom-executor.mjs, run as the agent runs a custom executor (`/bin/sh -c`, in the
// sandbox), against a fake agent: its progress updates arrive in order and it exits by itself.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Proc, ROOT, removeDir, tempDir } from '../helpers.js';
import { FakeAgent, IDS } from './fake-agent.js';

interface Context {
  dir: string;
  agent: FakeAgent | undefined;
  proc: Proc | undefined;
}

const Example = suite<Context>('examples/custom-executor.mjs', { dir: '', agent: undefined, proc: undefined });

Example.before.each((context) => {
  context.dir = tempDir('ll-exa-');
  context.agent = undefined;
  context.proc = undefined;
});

Example.after.each(async (context) => {
  await context.proc?.stop(500);
  await context.agent?.close();
  removeDir(context.dir);
});

const EXAMPLE = path.join(ROOT, 'examples', 'custom-executor.mjs');

function customTask(taskId: string, data?: string) {
  return {
    taskId,
    name: taskId,
    agentId: IDS.agentId,
    resources: { cpus: 0.1, mem: 32 },
    executor: { executorId: IDS.executorId, frameworkId: IDS.frameworkId, command: { value: `node ${EXAMPLE}` } },
    ...(data === undefined ? {} : { data: Buffer.from(data) }),
  };
}

async function runExample(context: Context, data?: string) {
  const sandbox = path.join(context.dir, 'sandbox');
  fs.mkdirSync(sandbox);
  const agent = await FakeAgent.start(context.dir, { launch: customTask('task-1', data) });
  context.agent = agent;
  const proc = new Proc('/bin/sh', ['-c', `node ${EXAMPLE}`], { cwd: sandbox, env: { ...process.env, ...agent.env(sandbox) } });
  context.proc = proc;
  return { agent, proc };
}

Example('reports TASK_RUNNING, five progress updates with the task data, TASK_FINISHED, and exits by itself', async (context) => {
  const { agent, proc } = await runExample(context, 'hello');
  assert.equal(await proc.waitForExit(), { code: 0, signal: null }, proc.stderr);
  const statuses = agent.statuses().filter((status) => status.taskId === 'task-1');
  assert.equal(
    statuses.map((status) => `${status.state}${status.message ? ` ${status.message}` : ''}`),
    [
      'TASK_RUNNING',
      'TASK_RUNNING progress 1/5: hello',
      'TASK_RUNNING progress 2/5: hello',
      'TASK_RUNNING progress 3/5: hello',
      'TASK_RUNNING progress 4/5: hello',
      'TASK_RUNNING progress 5/5: hello',
      'TASK_FINISHED done: 5 steps',
    ],
  );
  assert.equal(agent.invalid, []);
});

Example('without task data the progress messages are plain', async (context) => {
  const { agent, proc } = await runExample(context);
  assert.equal(await proc.waitForExit(), { code: 0, signal: null }, proc.stderr);
  assert.equal(
    agent.statuses().map((status) => status.message).filter(Boolean).slice(0, 2),
    ['progress 1/5', 'progress 2/5'],
  );
});

Example('KILL: the task reports TASK_KILLED and the executor exits', async (context) => {
  const { agent, proc } = await runExample(context);
  await agent.waitForStatus('task-1', 'TASK_RUNNING');
  agent.send({ type: 'KILL', taskId: 'task-1' });
  await agent.waitForStatus('task-1', 'TASK_KILLED');
  assert.equal(await proc.waitForExit(), { code: 0, signal: null }, proc.stderr);
  assert.not.ok(agent.states('task-1').includes('TASK_FINISHED'));
});

Example.run();
