import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StartupError, startupError } from '../../src/cli/startup-error.js';

function systemError(code: string, syscall: string, path: string, description: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${description}, ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
}

const test = suite('cli/startup-error');

test('names the flag whose directory holds the failed path, the path and the errno, in one line', () => {
  const error = startupError(systemError('EACCES', 'mkdir', '/srv/ll/meta', 'permission denied'), [['work_dir', '/srv/ll'], ['runtime_dir', '/run/ll']]);
  assert.instance(error, StartupError);
  assert.is((error as StartupError).message, '--work_dir=/srv/ll: cannot mkdir /srv/ll/meta: permission denied [EACCES]');
  assert.is((error as StartupError).code, 'EACCES');
});

test('prefers the deepest flag holding the path, then one whose directory lies under it', () => {
  const dirs = [['work_dir', '/srv/ll'], ['runtime_dir', '/srv/ll/run']] as const;
  assert.match((startupError(systemError('ENOSPC', 'open', '/srv/ll/run/x', 'no space left on device'), dirs) as Error).message, /^--runtime_dir=\/srv\/ll\/run: /);
  assert.match((startupError(systemError('ENOTDIR', 'mkdir', '/srv', 'not a directory'), dirs) as Error).message, /^--work_dir=\/srv\/ll: cannot mkdir \/srv: not a directory \[ENOTDIR\]$/);
});

test('describes a system error outside every flag without naming one, and leaves other errors alone', () => {
  assert.is((startupError(systemError('EROFS', 'open', '/etc/x', 'read-only file system'), [['work_dir', '/srv']]) as Error).message, 'cannot open /etc/x: read-only file system [EROFS]');
  const bug = new TypeError('x is undefined');
  assert.is(startupError(bug, [['work_dir', '/srv']]), bug);
});

test.run();
