// A command task's process: its own process group, exit facts, SIGTERM then SIGKILL to the group.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskProcess } from '../../src/executor/task-process.js';
import { isAlive, removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';
import { liveGroupMembers, readPid } from './process-group.js';

interface Context {
  dir: string;
  processes: TaskProcess[];
}

const Task = suite<Context>('TaskProcess', { dir: '', processes: [] });

Task.before.each((context) => {
  context.dir = tempDir('ll-tp-');
  context.processes = [];
});

Task.after.each(async (context) => {
  for (const task of context.processes) {
    task.killNow();
    await withTimeout(task.exited, 5_000, 'task process exit in clean-up');
  }
  removeDir(context.dir);
});

function start(context: Context, command: string): TaskProcess {
  const task = new TaskProcess(command, { cwd: context.dir, env: { PATH: process.env.PATH } });
  context.processes.push(task);
  return task;
}

Task('runs /bin/sh -c in its own process group and reports the exit status as facts', async (context) => {
  const task = start(context, 'echo $$ > pid; ps -o pgid= -p $$ > pgid; exit 7');
  await task.spawned;
  assert.is(task.state, 'RUNNING');
  const exit = await withTimeout(task.exited, 5_000, 'exit');
  assert.equal(exit, { exitCode: 7, signal: null, killed: false });
  assert.is(task.state, 'EXITED');
  assert.is(readPid(path.join(context.dir, 'pid')), task.pid);
  assert.is(readPid(path.join(context.dir, 'pgid')), task.pid, 'its pid is its process group ID');
});

Task('kill() sends SIGTERM to the whole group', async (context) => {
  const task = start(context, 'sleep 30 & echo $! > child; wait');
  const child = await waitFor(() => readPid(path.join(context.dir, 'child')), { message: 'child pid' });
  task.kill(5_000);
  const exit = await withTimeout(task.exited, 5_000, 'exit');
  assert.equal(exit, { exitCode: null, signal: 'SIGTERM', killed: true });
  await waitFor(() => !isAlive(child), { message: 'the child to be gone' });
});

Task('kill() escalates to SIGKILL after the grace period; a second kill can shorten it', async (context) => {
  const task = start(context, 'trap "" TERM; echo ready > ready; while :; do sleep 1; done');
  await waitFor(() => fs.existsSync(path.join(context.dir, 'ready')), { message: 'trap installed' });
  task.kill(60_000);
  task.kill(100);
  const exit = await withTimeout(task.exited, 5_000, 'exit after escalation');
  assert.equal(exit, { exitCode: null, signal: 'SIGKILL', killed: true });
  await waitFor(() => liveGroupMembers(task.pid!).length === 0, { message: 'the group to be empty' });
});

Task('whatever the command leaves in its group is killed when it exits', async (context) => {
  const task = start(context, 'sleep 30 & echo $! > child; exit 0');
  const exit = await withTimeout(task.exited, 5_000, 'exit');
  assert.is(exit.exitCode, 0);
  const child = readPid(path.join(context.dir, 'child'))!;
  await waitFor(() => !isAlive(child), { message: 'the left-behind child to be gone' });
});

Task('a command that cannot be started reports the error', async (context) => {
  const task = new TaskProcess('true', { cwd: path.join(context.dir, 'missing'), env: {} });
  const exit = await withTimeout(task.exited, 5_000, 'exit');
  assert.is(exit.exitCode, null);
  assert.is(exit.signal, null);
  assert.match(exit.error?.message ?? '', /ENOENT/);
  try {
    await task.spawned;
    assert.unreachable('spawned should reject');
  } catch (error) {
    assert.match((error as Error).message, /ENOENT/);
  }
});

Task.run();
