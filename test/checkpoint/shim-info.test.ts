import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJson } from '../../src/checkpoint/atomic-write.js';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import { ShimInfo, ShimTask } from '../../src/checkpoint/shim-info.js';
import * as v from 'valibot';
import { removeDir, tempDir } from '../helpers.js';

const info = { pid: 4321, startTime: 123_456, protocol: 1, executorId: 'e1', containerId: 'c1', tasks: [{ taskId: 't1', pgid: 4330, startTime: 123_460 }] };

const shimInfo = suite('checkpoint/shim-info');

let dir = '';
shimInfo.before.each(() => {
  dir = tempDir('ll-shim-info-');
});
shimInfo.after.each(() => removeDir(dir));

/** Writes `value` as shim.json and returns the error reading it back (the file is untrusted input). */
async function refusal(value: unknown): Promise<string> {
  const file = path.join(dir, 'shim.json');
  fs.writeFileSync(file, JSON.stringify(value));
  try {
    await readJson(file, ShimInfo);
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    return (error as Error).message;
  }
  assert.unreachable(`expected shim.json holding ${JSON.stringify(value)} to be refused`);
  return '';
}

shimInfo('reads back the identity an executor wrote, without fields it does not know', async () => {
  const file = path.join(dir, 'shim.json');
  fs.writeFileSync(file, JSON.stringify({ ...info, injected: '$(rm -rf /)' }));
  assert.equal(await readJson(file, ShimInfo), info);
});

shimInfo('accepts an executor with no task yet', () => {
  assert.ok(v.is(ShimInfo, { ...info, tasks: [] }));
});

shimInfo('refuses pids and process groups outside 1 to 2^22, naming the field', async () => {
  assert.match(await refusal({ ...info, pid: 0 }), /field pid/);
  assert.match(await refusal({ ...info, pid: 2 ** 22 + 1 }), /field pid/);
  assert.match(await refusal({ ...info, pid: 1.5 }), /field pid invalid integer/);
  assert.match(await refusal({ ...info, tasks: [{ ...info.tasks[0], pgid: -1 }] }), /field tasks\.0\.pgid/);
  assert.ok(v.is(ShimTask, { taskId: 't', pgid: 2 ** 22, startTime: 0 }));
});

shimInfo('refuses a negative or unsafe start time', async () => {
  assert.match(await refusal({ ...info, startTime: -1 }), /field startTime/);
  assert.match(await refusal({ ...info, tasks: [{ ...info.tasks[0], startTime: 2 ** 53 }] }), /field tasks\.0\.startTime/);
});

shimInfo('refuses IDs that could escape a directory', async () => {
  assert.match(await refusal({ ...info, executorId: '../../etc' }), /field executorId/);
  assert.match(await refusal({ ...info, containerId: '' }), /field containerId/);
  assert.match(await refusal({ ...info, tasks: [{ ...info.tasks[0], taskId: 'a/b' }] }), /field tasks\.0\.taskId/);
});

shimInfo('refuses a protocol below 1 and more than 10,000 tasks', async () => {
  assert.match(await refusal({ ...info, protocol: 0 }), /field protocol/);
  const tasks = Array.from({ length: 10_001 }, (_, i) => ({ taskId: `t${i}`, pgid: 100, startTime: 1 }));
  assert.match(await refusal({ ...info, tasks }), /field tasks invalid length/);
});

shimInfo.run();
