import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openPathTo, runUser, switchesUsers, TaskUserError, userEnvironment } from '../../src/agent/task-user.js';
import { removeDir, tempDir } from '../helpers.js';

// As root the cases that switch to nobody run (CI runs as root); otherwise the refusal does.
const asRoot = process.getuid?.() === 0;
if (!asRoot && process.env.CI !== 'true') console.log('task-user: not root: the cases that switch to nobody are skipped (run the tests as root to include them)');

const User = suite<{ dir: string }>('the user a run starts as');
User.before.each((context) => {
  context.dir = tempDir('ll-user-');
});
User.after.each(({ dir }) => removeDir(dir));

User('is the agent\'s own without FrameworkInfo.user, with --switch_user=false, or when it names the agent\'s user', async () => {
  assert.is(await runUser({ switchUser: true }, undefined), undefined);
  assert.is(await runUser({ switchUser: false }, 'nobody'), undefined);
  assert.is(await runUser({ switchUser: true }, os.userInfo().username), undefined);
  assert.is(switchesUsers({ switchUser: false }), false);
});

User('refuses a user that does not exist, naming it and this host', async () => {
  if (!switchesUsers({ switchUser: true })) return;
  await runUser({ switchUser: true }, 'no-such-user-x2').then(
    () => assert.unreachable('accepted an unknown user'),
    (error: Error & { code?: string }) => {
      assert.instance(error, TaskUserError);
      assert.is(error.code, 'ERR_ENVIRONMENT');
      assert.match(error.message, new RegExp(`user "no-such-user-x2" \\(FrameworkInfo\\.user\\) does not exist on this agent \\(${os.hostname()}\\)`));
    },
  );
});

if (asRoot) {
  User('resolves nobody, gives it its sandbox and a way through to it (0711), and its HOME and USER', async ({ dir }) => {
    const user = await runUser({ switchUser: true }, 'nobody');
    assert.ok(user);
    assert.is(user!.uid, 65_534);
    const workDir = path.join(dir, 'work');
    const sandbox = path.join(workDir, 'sandboxes', 'a', 'runs', 'c');
    fs.mkdirSync(sandbox, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(workDir, 'meta'), { mode: 0o700 });
    await openPathTo(workDir, sandbox, user!);
    assert.is(fs.statSync(sandbox).uid, 65_534);
    assert.is(fs.statSync(sandbox).mode & 0o777, 0o700);
    for (const each of [workDir, path.join(workDir, 'sandboxes'), path.join(workDir, 'sandboxes', 'a', 'runs')]) assert.is(fs.statSync(each).mode & 0o777, 0o711, each);
    assert.is(fs.statSync(path.join(workDir, 'meta')).mode & 0o777, 0o700);
    assert.is(fs.statSync(dir).mode & 0o777, 0o700, 'nothing above the work dir is opened');
    assert.equal(userEnvironment(user!).USER, 'nobody');
  });
} else {
  User('refuses to switch users when the agent is not root, saying how to fix it', async () => {
    await runUser({ switchUser: true }, 'someone-else').then(
      () => assert.unreachable('accepted'),
      (error: Error) => assert.match(error.message, /not root; run the agent as root, or with --switch_user=false/),
    );
  });
}

User.run();
