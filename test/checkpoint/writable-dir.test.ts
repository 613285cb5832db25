// The agent's directory flags checked before anything is created (issue 13 point 6): an odd or
// unwritable --work_dir exits 1 at once with one line naming the flag and the path, and the
// signals work while the agent starts.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DirectoryUnusableError, ensureWritableDir } from '../../src/checkpoint/writable-dir.js';
import { lifeline, removeDir, tempDir, type Proc } from '../helpers.js';

const test = suite('the agent\'s directory flags');
let dir = '';
const procs: Proc[] = [];

test.before.each(() => {
  dir = tempDir('ll-wd-');
});

test.after.each(async () => {
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  removeDir(dir);
});

function agent(args: string[], options: Parameters<typeof lifeline>[1] = {}): Proc {
  const proc = lifeline(['agent', '--master=127.0.0.1:1', '--port=0', ...args], { env: { ...process.env, LIFELINE_LOG_LEVEL: 'info' }, ...options });
  procs.push(proc);
  return proc;
}

function refusal(fn: () => unknown): DirectoryUnusableError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, DirectoryUnusableError);
    return error as DirectoryUnusableError;
  }
  assert.unreachable('expected a DirectoryUnusableError');
  throw new Error('unreachable');
}

test('creates the missing components of a path one by one and checks it can be written', () => {
  const nested = path.join(dir, 'a', 'b', 'c');
  assert.is(ensureWritableDir(nested, 'work_dir'), nested);
  assert.ok(fs.statSync(nested).isDirectory());
  assert.equal(fs.readdirSync(nested), [], 'the write probe is removed');
  assert.is(ensureWritableDir(nested, 'work_dir'), nested, 'an existing directory is fine');
});

test('refuses /proc/foo, a regular file and a path through a file, naming the flag and the path', () => {
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  const proc = refusal(() => ensureWritableDir('/proc/foo', 'work_dir'));
  assert.is(proc.code, 'ERR_DIRECTORY');
  assert.match(proc.message, /^--work_dir=\/proc\/foo cannot be used: cannot create \/proc\/foo \(ENOENT/);
  assert.match(refusal(() => ensureWritableDir(file, 'work_dir')).message, `--work_dir=${file} cannot be used: ${file} is not a directory`);
  assert.match(refusal(() => ensureWritableDir(path.join(file, 'x'), 'runtime_dir')).message, /^--runtime_dir=.*ENOTDIR: a file where a directory should be/);
});

for (const [what, workDir] of [
  ['/proc/foo', () => '/proc/foo'],
  ['a regular file', () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    return path.join(dir, 'file');
  }],
] as const) {
  test(`lifeline agent --work_dir=<${what}> exits 1 at once with one line naming the flag and the path`, async () => {
    const target = workDir();
    const proc = agent([`--work_dir=${target}`]);
    assert.equal(await proc.waitForExit(5_000), { code: 1, signal: null });
    const lines = proc.stderr.trim().split('\n');
    assert.is(lines.length, 1, proc.stderr);
    assert.ok(lines[0]!.startsWith(`lifeline: --work_dir=${target} cannot be used:`), lines[0]);
  });
}

test('lifeline agent --work_dir=<a directory it may not write> exits 1 (run as nobody; root may write anywhere)', async () => {
  if (process.getuid?.() !== 0) {
    console.log('  (skipped: not root, so it cannot start the agent as another user)');
    return;
  }
  const locked = path.join(dir, 'locked');
  fs.mkdirSync(locked, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const proc = agent([`--work_dir=${path.join(locked, 'work')}`], { uid: 65534, gid: 65534 });
  assert.equal(await proc.waitForExit(5_000), { code: 1, signal: null }, proc.stderr);
  assert.match(proc.stderr.trim(), new RegExp(`^lifeline: --work_dir=${locked}/work cannot be used: cannot create ${locked}/work \\(EACCES: permission denied\\)`));
  assert.is(proc.stderr.trim().split('\n').length, 1, proc.stderr);
});

for (const signal of ['SIGTERM', 'SIGUSR1'] as const) {
  test(`${signal} during start-up stops the agent (exit 0)`, async () => {
    const proc = agent([`--work_dir=${path.join(dir, 'work')}`]);
    // As early as the agent says anything: the HTTP endpoint, before recovery and the master link.
    await proc.waitForOutput(/HTTP endpoint listening/);
    proc.child.kill(signal);
    assert.equal(await proc.waitForExit(10_000), { code: 0, signal: null }, proc.stderr.slice(-2000));
  });
}

test.run();
