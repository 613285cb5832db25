import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import { asCorrupt, listDir, lstatKind, readRegularFile } from '../../src/checkpoint/recover-fs.js';
import { removeDir, tempDir } from '../helpers.js';

const Guarded = suite<{ dir: string }>('guarded reads of the checkpoint', { dir: '' });
Guarded.before.each((context) => {
  context.dir = tempDir('ll-recfs-');
});
Guarded.after.each((context) => removeDir(context.dir));

Guarded('reads a regular file, and nothing for a missing one', async ({ dir }) => {
  fs.writeFileSync(path.join(dir, 'a'), 'hello');
  assert.is((await readRegularFile(path.join(dir, 'a'), 100))?.toString(), 'hello');
  assert.is(await readRegularFile(path.join(dir, 'missing'), 100), undefined);
});

Guarded('refuses a symlink, a directory and an oversized file as damage naming the file', async ({ dir }) => {
  fs.writeFileSync(path.join(dir, 'big'), 'x'.repeat(200));
  fs.symlinkSync(path.join(dir, 'big'), path.join(dir, 'link'));
  fs.mkdirSync(path.join(dir, 'sub'));
  for (const [name, pattern] of [['big', /more than the 100/], ['link', /symlink/], ['sub', /directory|expected a regular file/]] as const) {
    const error = await readRegularFile(path.join(dir, name), 100).then(
      () => assert.unreachable(`${name} was read`),
      (e: unknown) => e,
    );
    assert.instance(error, CheckpointCorruptError);
    assert.is((error as CheckpointCorruptError).file, path.join(dir, name));
    assert.match((error as Error).message, pattern);
  }
});

Guarded('lists a directory sorted with kinds; a missing one is empty; a file is damage', async ({ dir }) => {
  fs.writeFileSync(path.join(dir, 'b'), '');
  fs.mkdirSync(path.join(dir, 'a'));
  assert.equal([...listDir(dir)], [['a', 'directory'], ['b', 'file']]);
  assert.is(listDir(path.join(dir, 'missing')).size, 0);
  assert.throws(() => listDir(path.join(dir, 'b')), (error: unknown) => error instanceof CheckpointCorruptError);
  assert.is(await lstatKind(path.join(dir, 'a')), 'directory');
  assert.is(await lstatKind(path.join(dir, 'missing')), undefined);
});

Guarded('turns an fs error into damage of the file it names', () => {
  const error = asCorrupt(Object.assign(new Error('loop'), { code: 'ELOOP', path: '/x/y' }), '/x');
  assert.is(error.file, '/x/y');
  assert.match(error.message, /symlink/);
});

Guarded.run();
