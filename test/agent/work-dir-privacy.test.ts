import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { secureWorkDir } from '../../src/agent/work-dir-privacy.js';
import { silentLogger } from '../../src/log.js';
import { removeDir, tempDir } from '../helpers.js';

// Giving a directory to another user takes root; CI runs as root, so the case runs there.
const asRoot = process.getuid?.() === 0;
if (!asRoot) console.log('work-dir: not root: the case of a work dir of another user is skipped (run the tests as root to include it)');

const WorkDir = suite<{ dir: string }>('the work dir is private to the agent');

WorkDir.before.each((context) => {
  context.dir = tempDir('ll-wd-');
});
WorkDir.after.each(({ dir }) => removeDir(dir));

WorkDir('creates a missing work dir with mode 0700', async ({ dir }) => {
  const workDir = path.join(dir, 'a', 'work');
  await secureWorkDir(workDir, silentLogger);
  assert.is(fs.statSync(workDir).mode & 0o777, 0o700);
});

WorkDir('narrows an existing 0755 work dir to 0700, keeping what is in it', async ({ dir }) => {
  const workDir = path.join(dir, 'work');
  fs.mkdirSync(workDir, { mode: 0o755 });
  fs.chmodSync(workDir, 0o755);
  fs.writeFileSync(path.join(workDir, 'keep'), 'x');
  await secureWorkDir(workDir, silentLogger);
  assert.is(fs.statSync(workDir).mode & 0o777, 0o700);
  assert.is(fs.readFileSync(path.join(workDir, 'keep'), 'utf8'), 'x');
});

WorkDir('keeps the pass-through bit a launch as another user gave it, only when users are switched', async ({ dir }) => {
  const workDir = path.join(dir, 'work');
  fs.mkdirSync(workDir, { mode: 0o700 });
  fs.chmodSync(workDir, 0o711);
  await secureWorkDir(workDir, silentLogger, true);
  assert.is(fs.statSync(workDir).mode & 0o777, 0o711);
  fs.chmodSync(workDir, 0o777);
  await secureWorkDir(workDir, silentLogger, true);
  assert.is(fs.statSync(workDir).mode & 0o777, 0o700, 'a world-writable work dir is not a pass-through one');
  fs.chmodSync(workDir, 0o711);
  await secureWorkDir(workDir, silentLogger, false);
  assert.is(fs.statSync(workDir).mode & 0o777, 0o700);
});

WorkDir('refuses a work dir that is a file', async ({ dir }) => {
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  await secureWorkDir(file, silentLogger).then(
    () => assert.unreachable('accepted a file'),
    (error: Error & { code?: string }) => assert.match(error.message, /(not a directory|EEXIST|ENOTDIR)/),
  );
});

if (asRoot) {
  WorkDir('refuses a work dir of another user, naming its uid', async ({ dir }) => {
    const workDir = path.join(dir, 'theirs');
    fs.mkdirSync(workDir, { mode: 0o700 });
    fs.chownSync(workDir, 65_534, 65_534);
    await secureWorkDir(workDir, silentLogger).then(
      () => assert.unreachable('accepted a work dir of nobody'),
      (error: Error & { code?: string }) => {
        assert.is(error.code, 'ERR_ENVIRONMENT');
        assert.match(error.message, /belongs to uid 65534, not to this agent's uid 0/);
      },
    );
  });
}

WorkDir.run();
