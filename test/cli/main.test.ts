// The `lifeline` executable itself, run as users run it: usage, exit codes, and how errors thrown
// by a subcommand become one line on stderr.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, freePort, removeDir, tempDir } from '../helpers.js';

const COMMANDS = ['master', 'agent', 'run', 'shim', 'state', 'inspect'];

/** Runs the built CLI to its end (these commands exit at once; the timeout only guards a hang). */
function lifelineSync(args: string[]) {
  const { status, signal, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.is(signal, null, `lifeline ${args.join(' ')} was killed by ${signal}`);
  return { code: status, stdout, stderr };
}

const main = suite('cli/main');

let dir: string | undefined;
main.after.each(() => {
  if (dir) removeDir(dir);
  dir = undefined;
});

main('prints the usage with every command on stdout for --help, -h and help, and exits 0', () => {
  for (const flag of ['--help', '-h', 'help']) {
    const { code, stdout, stderr } = lifelineSync([flag]);
    assert.is(code, 0, flag);
    assert.is(stderr, '', flag);
    assert.match(stdout, /^Usage: lifeline <command> \[flags\]\n/);
    for (const command of COMMANDS) assert.match(stdout, new RegExp(`^  ${command} +\\S`, 'm'));
    assert.match(stdout, /Run `lifeline <command> --help` for the flags of a command\./);
  }
});

main('prints the usage and exits 2 when no command is given', () => {
  const { code, stdout, stderr } = lifelineSync([]);
  assert.is(code, 2);
  assert.match(stdout, /^Usage: lifeline <command>/);
  assert.is(stderr, '');
});

main('exits 2 with one line naming an unknown command', () => {
  const { code, stdout, stderr } = lifelineSync(['launch-missiles', '--now']);
  assert.is(code, 2);
  assert.is(stdout, '');
  assert.is(stderr, 'lifeline: unknown command "launch-missiles" (see lifeline --help)\n');
});

main('treats a flag in place of the command as an unknown command', () => {
  const { code, stderr } = lifelineSync(['--master=127.0.0.1:5050']);
  assert.is(code, 2);
  assert.is(stderr, 'lifeline: unknown command "--master=127.0.0.1:5050" (see lifeline --help)\n');
});

main('passes the rest of the arguments to the command: its --help exits 0', () => {
  for (const command of ['state', 'inspect', 'run']) {
    const { code, stdout } = lifelineSync([command, '--help']);
    assert.is(code, 0, command);
    assert.match(stdout, new RegExp(`lifeline ${command}`), command);
  }
});

main('turns a flag error of a command into one line without a stack, and exit code 2', () => {
  const { code, stdout, stderr } = lifelineSync(['state']);
  assert.is(code, 2);
  assert.is(stdout, '');
  assert.is(stderr, 'lifeline: flag --master or --agent is required for lifeline state\n');
  const unknown = lifelineSync(['inspect', '--work_dirr=/tmp']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /^lifeline: unknown flag --work_dirr for lifeline inspect/);
  assert.is(unknown.stderr.split('\n').filter(Boolean).length, 1, unknown.stderr);
});

main('turns any other lifeline error into one line with its code, and exit code 1', () => {
  dir = tempDir();
  const runtimeDir = path.join(dir, 'r'.repeat(120));
  const { code, stderr } = lifelineSync(['agent', '--master=127.0.0.1:1', `--work_dir=${dir}`, `--runtime_dir=${runtimeDir}`, '--resources=cpus:1;mem:64;disk:64']);
  assert.is(code, 1);
  assert.match(stderr, /^lifeline: socket path .* is \d+ bytes, over the 107-byte limit .*choose a shorter --runtime_dir \[ERR_SOCKET_PATH_TOO_LONG\]\n$/);
  assert.not.match(stderr, /\n\s+at /);
  assert.not.ok(fs.existsSync(path.join(dir, 'meta')), 'the agent wrote a checkpoint before its options were checked');
});

main('exits with the code a command returns', async () => {
  const port = await freePort();
  const { code, stderr } = lifelineSync(['state', `--master=127.0.0.1:${port}`]);
  assert.is(code, 1);
  assert.match(stderr, new RegExp(`^lifeline state: cannot reach master at 127\\.0\\.0\\.1:${port}`));
});

main('loads each command only when it runs (no static import of any command module)', () => {
  const compiled = fs.readFileSync(CLI, 'utf8');
  for (const command of COMMANDS) assert.not.match(compiled, new RegExp(`^import .*'\\./${command}\\.js'`, 'm'), command);
  assert.match(compiled, /import\('\.\/master\.js'\)/);
});

main.run();
