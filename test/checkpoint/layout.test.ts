import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  agentDir,
  agentInfoPath,
  bootIdPath,
  CheckpointCorruptError,
  executorDir,
  executorInfoPath,
  forkedPath,
  frameworkDir,
  frameworkInfoPath,
  isTempFileName,
  latestAgentPath,
  latestRunPath,
  outboxPath,
  readLatestSymlink,
  removeLatestSymlink,
  runDir,
  sandboxDir,
  sentinelPath,
  shimInfoPath,
  stderrPath,
  stdoutPath,
  taskDir,
  taskInfoPath,
  taskUpdatesPath,
  tokenHashPath,
  writeLatestSymlink,
} from '../../src/checkpoint/index.js';
import { InvalidIdError } from '../../src/protocol/index.js';
import { removeDir, tempDir } from '../helpers.js';

const W = '/var/lib/lifeline';
const ref = { agentId: 'a1', frameworkId: 'f1', executorId: 'e1', containerId: 'c1', taskId: 't1' };
const meta = `${W}/meta/agents/a1`;
const run = `${meta}/frameworks/f1/executors/e1/runs/c1`;

const layout = suite('checkpoint layout');

layout('puts every meta/ file where DESIGN §5 says', () => {
  assert.is(bootIdPath(W), `${W}/meta/boot_id`);
  assert.is(latestAgentPath(W), `${W}/meta/agents/latest`);
  assert.is(agentDir(W, ref), meta);
  assert.is(agentInfoPath(W, ref), `${meta}/agent.json`);
  assert.is(frameworkDir(W, ref), `${meta}/frameworks/f1`);
  assert.is(frameworkInfoPath(W, ref), `${meta}/frameworks/f1/framework.json`);
  assert.is(executorDir(W, ref), `${meta}/frameworks/f1/executors/e1`);
  assert.is(executorInfoPath(W, ref), `${meta}/frameworks/f1/executors/e1/executor.json`);
  assert.is(latestRunPath(W, ref), `${meta}/frameworks/f1/executors/e1/runs/latest`);
  assert.is(runDir(W, ref), run);
  assert.is(forkedPath(W, ref), `${run}/forked.json`);
  assert.is(tokenHashPath(W, ref), `${run}/token.sha256`);
  assert.is(sentinelPath(W, ref), `${run}/executor.sentinel`);
  assert.is(taskDir(W, ref), `${run}/tasks/t1`);
  assert.is(taskInfoPath(W, ref), `${run}/tasks/t1/task.json`);
  assert.is(taskUpdatesPath(W, ref), `${run}/tasks/t1/task.updates`);
});

layout('puts the sandbox and the executor’s own files where DESIGN §5 says', () => {
  const sandbox = sandboxDir(W, ref);
  assert.is(sandbox, `${W}/sandboxes/a1/frameworks/f1/executors/e1/runs/c1`);
  assert.is(stdoutPath(sandbox), `${sandbox}/stdout`);
  assert.is(stderrPath(sandbox), `${sandbox}/stderr`);
  assert.is(shimInfoPath(sandbox), `${sandbox}/.lifeline/shim.json`);
  assert.is(outboxPath(sandbox), `${sandbox}/.lifeline/outbox.log`);
});

layout('refuses an ID that could escape its directory, naming the field', () => {
  for (const [field, bad] of [['agentId', '..'], ['frameworkId', 'a/b'], ['executorId', '.hidden'], ['containerId', ''], ['taskId', 'x\ny']] as const) {
    try {
      taskUpdatesPath(W, { ...ref, [field]: bad });
      assert.unreachable(`expected ${field} ${JSON.stringify(bad)} to be refused`);
    } catch (error) {
      assert.instance(error, InvalidIdError);
      assert.match((error as Error).message, new RegExp(`invalid ${field}`));
    }
  }
  assert.throws(() => sandboxDir(W, { ...ref, containerId: '../../etc' }), /invalid containerId/);
});

layout.run();

const latest = suite('latest symlinks');
let dir = '';
latest.before.each(() => {
  dir = tempDir('ll-latest-');
});
latest.after.each(() => removeDir(dir));

latest('writes, replaces, reads and removes a latest symlink, leaving no temp file', async () => {
  const link = path.join(dir, 'latest');
  assert.is(await readLatestSymlink(link), undefined);
  fs.mkdirSync(path.join(dir, 'c1'));
  await writeLatestSymlink(link, 'c1');
  assert.is(fs.readlinkSync(link), 'c1');
  assert.ok(fs.statSync(link).isDirectory(), 'the link resolves to its sibling directory');
  await writeLatestSymlink(link, 'c2');
  assert.is(await readLatestSymlink(link), 'c2');
  assert.equal(fs.readdirSync(dir).filter(isTempFileName), []);
  await removeLatestSymlink(link);
  assert.is(await readLatestSymlink(link), undefined);
  await removeLatestSymlink(link);
});

latest('refuses to point a latest symlink at something that is not an ID', async () => {
  try {
    await writeLatestSymlink(path.join(dir, 'latest'), '../elsewhere');
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.instance(error, InvalidIdError);
  }
  assert.equal(fs.readdirSync(dir), []);
});

latest('reports a latest link with a foreign target, or a plain file, as corrupt', async () => {
  const link = path.join(dir, 'latest');
  fs.symlinkSync('/etc', link);
  try {
    await readLatestSymlink(link);
    assert.unreachable('expected corruption');
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    assert.is((error as CheckpointCorruptError).file, link);
  }
  fs.unlinkSync(link);
  fs.writeFileSync(link, 'a1');
  try {
    await readLatestSymlink(link);
    assert.unreachable('expected corruption');
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    assert.match((error as Error).message, /expected a symlink/);
  }
});

latest.run();
