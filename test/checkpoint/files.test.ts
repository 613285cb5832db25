import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJson, writeJsonAtomic } from '../../src/checkpoint/atomic-write.js';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import {
  AgentFile,
  BOOT_ID_PATTERN,
  ExecutorFile,
  ForkedFile,
  FrameworkFile,
  TaskFile,
  taskFileValue,
  taskInfoFromFile,
  TOKEN_HASH_PATTERN,
} from '../../src/checkpoint/files.js';
import { ProtocolError, type TaskInfo } from '../../src/protocol/index.js';
import { removeDir, tempDir } from '../helpers.js';

const task: TaskInfo = { taskId: 't1', name: 'sleep', agentId: 'a1', resources: { cpus: 0.5, mem: 32 }, command: { value: 'sleep 1' } };

const files = suite('checkpoint/files');

let dir = '';
files.before.each(() => {
  dir = tempDir('ll-files-');
});
files.after.each(() => removeDir(dir));

/** Writes `text` to a file of the temp dir and reads it back through `schema`; returns the refusal. */
async function refusal(name: string, text: string, schema: Parameters<typeof readJson>[1]): Promise<CheckpointCorruptError> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  try {
    await readJson(file, schema);
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    assert.is((error as CheckpointCorruptError).file, file);
    return error as CheckpointCorruptError;
  }
  assert.unreachable(`expected ${name} holding ${text} to be refused`);
  throw new Error('unreachable');
}

files('stores a task\'s data as base64 in task.json and reads it back as the same bytes', async () => {
  const info: TaskInfo = { ...task, data: new Uint8Array([0, 1, 2, 250, 255]) };
  const file = path.join(dir, 'task.json');
  await writeJsonAtomic(file, taskFileValue(info));
  const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { data: string };
  assert.is(stored.data, Buffer.from([0, 1, 2, 250, 255]).toString('base64'));
  const back = taskInfoFromFile(await readJson(file, TaskFile));
  assert.instance(back.data, Uint8Array);
  assert.equal([...back.data!], [0, 1, 2, 250, 255]);
  assert.equal({ ...back, data: undefined }, { ...info, data: undefined });
});

files('encodes only the bytes a data view covers, not its whole buffer', () => {
  const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
  const value = taskFileValue({ ...task, data: backing.subarray(2, 5) });
  assert.is(value.data, Buffer.from([1, 2, 3]).toString('base64'));
});

files('writes a task without data without a data field', () => {
  const value = taskFileValue(task);
  assert.not.ok('data' in value);
  assert.equal(value, task);
});

files('refuses to write an invalid task, naming task.json and the field', () => {
  try {
    taskFileValue({ ...task, taskId: '../escape' });
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.instance(error, ProtocolError);
    assert.match((error as Error).message, /^invalid task\.json: field taskId .*"\.\.\/escape"/);
  }
});

files('refuses task.json data that is not base64', async () => {
  const base = JSON.stringify({ ...task, data: undefined });
  const withData = (data: string) => JSON.stringify({ ...JSON.parse(base), data });
  assert.match((await refusal('task.json', withData('abc'), TaskFile)).message, /field data must be base64 \(length a multiple of 4\): "abc"/);
  assert.match((await refusal('task.json', withData('ab!='), TaskFile)).message, /field data must be base64: "ab!="/);
});

files('agent.json and framework.json must hold their id, unlike the infos a peer sends', async () => {
  const agent = { hostname: 'node-1', resources: { cpus: 1, mem: 64, disk: 64 }, checkpoint: true };
  assert.match((await refusal('agent.json', JSON.stringify(agent), AgentFile)).message, /invalid agent\.json: field id/);
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ ...agent, id: 'a1' }));
  assert.is((await readJson(path.join(dir, 'agent.json'), AgentFile)).id, 'a1');
  assert.match((await refusal('framework.json', JSON.stringify({ name: 'fw' }), FrameworkFile)).message, /invalid framework\.json: field id/);
  fs.writeFileSync(path.join(dir, 'framework.json'), JSON.stringify({ id: 'f1', name: 'fw' }));
  assert.equal(await readJson(path.join(dir, 'framework.json'), FrameworkFile), { id: 'f1', name: 'fw', checkpoint: false });
});

files('executor.json reads as not generated unless it says so', async () => {
  const info = { executorId: 'e1', frameworkId: 'f1', command: { value: './exec' } };
  fs.writeFileSync(path.join(dir, 'executor.json'), JSON.stringify(info));
  assert.is((await readJson(path.join(dir, 'executor.json'), ExecutorFile)).generated, false);
  fs.writeFileSync(path.join(dir, 'executor.json'), JSON.stringify({ ...info, generated: true }));
  assert.is((await readJson(path.join(dir, 'executor.json'), ExecutorFile)).generated, true);
  assert.match((await refusal('executor.json', JSON.stringify({ ...info, generated: 'yes' }), ExecutorFile)).message, /field generated/);
});

files('forked.json holds a pid and a start time, and nothing else gets through', async () => {
  fs.writeFileSync(path.join(dir, 'forked.json'), JSON.stringify({ pid: 1234, startTime: 99, extra: 'dropped' }));
  assert.equal(await readJson(path.join(dir, 'forked.json'), ForkedFile), { pid: 1234, startTime: 99 });
  assert.match((await refusal('forked.json', JSON.stringify({ pid: 0, startTime: 1 }), ForkedFile)).message, /field pid/);
  assert.match((await refusal('forked.json', JSON.stringify({ pid: 1, startTime: -1 }), ForkedFile)).message, /field startTime/);
});

files('a token hash is 64 lowercase hex digits', () => {
  assert.ok(TOKEN_HASH_PATTERN.test('a'.repeat(64)));
  assert.ok(TOKEN_HASH_PATTERN.test('0123456789abcdef'.repeat(4)));
  for (const bad of ['a'.repeat(63), 'a'.repeat(65), 'A'.repeat(64), 'g'.repeat(64), '']) assert.not.ok(TOKEN_HASH_PATTERN.test(bad), bad);
});

files('a boot id is up to 128 ID-like characters', () => {
  assert.ok(BOOT_ID_PATTERN.test('3f2a1b4c-5d6e-7f80-91a2-b3c4d5e6f708'));
  assert.ok(BOOT_ID_PATTERN.test('x'.repeat(128)));
  for (const bad of ['', 'x'.repeat(129), 'a/b', 'id with space', 'id\n']) assert.not.ok(BOOT_ID_PATTERN.test(bad), JSON.stringify(bad));
});

files.run();
