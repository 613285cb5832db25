import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDirWith, createEmptyFile, exists, removeDirAtomically } from '../../src/checkpoint/durable-dirs.js';
import { removeDir, tempDir } from '../helpers.js';

const Dirs = suite<{ dir: string }>('durable directory operations', { dir: '' });
Dirs.before.each((context) => {
  context.dir = tempDir('ll-ddirs-');
});
Dirs.after.each((context) => removeDir(context.dir));

Dirs('creates a directory together with its content, and leaves an existing one alone', async ({ dir }) => {
  const target = path.join(dir, 'task');
  assert.ok(await createDirWith(target, (temp) => createEmptyFile(path.join(temp, 'task.updates'))));
  assert.ok(fs.existsSync(path.join(target, 'task.updates')));
  assert.not.ok(await createDirWith(target, () => assert.unreachable('populated an existing directory') as never));
  assert.equal(fs.readdirSync(dir), ['task'], 'no temp directory left behind');
});

Dirs('a failed populate leaves nothing behind', async ({ dir }) => {
  const target = path.join(dir, 'task');
  await createDirWith(target, () => Promise.reject(new Error('boom'))).then(
    () => assert.unreachable('a failed populate succeeded'),
    (error: Error) => assert.is(error.message, 'boom'),
  );
  assert.equal(fs.readdirSync(dir), []);
});

Dirs('removes a directory all at once; a missing one is fine', async ({ dir }) => {
  const target = path.join(dir, 'run');
  fs.mkdirSync(path.join(target, 'tasks'), { recursive: true });
  await removeDirAtomically(target);
  assert.not.ok(await exists(target));
  assert.equal(fs.readdirSync(dir), []);
  await removeDirAtomically(target);
});

Dirs.run();
