// `.lifeline/shim.json` as the executor writes it: atomic, valid against the schema the agent reads
// it with, and rewritten (coalesced) whenever the task list changes.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJson } from '../../src/checkpoint/atomic-write.js';
import { ShimInfo } from '../../src/checkpoint/shim-info.js';
import { ShimFile } from '../../src/executor/shim-file.js';
import { removeDir, tempDir } from '../helpers.js';

interface Context {
  dir: string;
}

const ShimFileSuite = suite<Context>('ShimFile', { dir: '' });

ShimFileSuite.before.each((context) => {
  context.dir = tempDir('ll-shimfile-');
});

ShimFileSuite.after.each((context) => {
  removeDir(context.dir);
});

const IDENTITY = { pid: 4242, startTime: 123456, protocol: 1, executorId: 'executor-1', containerId: 'container-1' };

ShimFileSuite('writes the identity with an empty task list, valid for the agent that reads it back', async (context) => {
  const file = path.join(context.dir, 'shim.json');
  await new ShimFile(file, IDENTITY).write();
  assert.equal(await readJson(file, ShimInfo), { ...IDENTITY, tasks: [] });
});

ShimFileSuite('changes made while a write is under way are coalesced into the next write, and each caller sees its change durable', async (context) => {
  const file = path.join(context.dir, 'shim.json');
  const shim = new ShimFile(file, IDENTITY);
  const first = shim.write();
  const a = shim.setTask({ taskId: 'task-a', pgid: 100, startTime: 1 });
  const b = shim.setTask({ taskId: 'task-b', pgid: 200, startTime: 2 });
  assert.is(a, b, 'both changes wait for the same queued write');
  await first;
  await a;
  assert.equal((await readJson(file, ShimInfo)).tasks.map((task) => task.taskId), ['task-a', 'task-b']);
  await shim.deleteTask('task-a');
  assert.equal((await readJson(file, ShimInfo)).tasks, [{ taskId: 'task-b', pgid: 200, startTime: 2 }]);
  await shim.deleteTask('unknown');
  await shim.idle();
  assert.equal(fs.readdirSync(context.dir), ['shim.json'], 'no temp file left');
});

ShimFileSuite('a failed write rejects its callers and does not block the next one', async (context) => {
  const dir = path.join(context.dir, 'later');
  const shim = new ShimFile(path.join(dir, 'shim.json'), IDENTITY);
  let failed = false;
  await shim.write().catch(() => (failed = true));
  assert.ok(failed, 'no directory yet: the write fails');
  fs.mkdirSync(dir);
  await shim.setTask({ taskId: 'task-a', pgid: 100, startTime: 1 });
  assert.is((await readJson(path.join(dir, 'shim.json'), ShimInfo)).tasks.length, 1);
});

ShimFileSuite.run();
