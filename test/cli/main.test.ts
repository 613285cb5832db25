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
function lifelineSync(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const { status, signal, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env });
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

main('every command refuses a stray argument: exit 2, one line naming it', () => {
  const required: Record<string, string[]> = {
    master: [],
    agent: ['--master=127.0.0.1:1', '--work_dir=/nonexistent/ll'],
    run: ['--master=127.0.0.1:1', '--command=true'],
    shim: [],
    state: ['--master=127.0.0.1:1'],
    inspect: ['--work_dir=/nonexistent/ll'],
  };
  for (const command of COMMANDS) {
    const { code, stdout, stderr } = lifelineSync([command, ...required[command]!, 'stray']);
    assert.is(code, 2, `${command}: ${stderr}`);
    assert.is(stdout, '', command);
    assert.match(stderr, new RegExp(`^lifeline: unexpected argument "stray" for lifeline ${command} .*\\n$`), command);
  }
});

main('lifeline run --checkpoint false is refused with the --checkpoint=false hint, not run as a checkpointing framework', () => {
  const { code, stderr } = lifelineSync(['run', '--checkpoint', 'false', '--command=true', '--master=127.0.0.1:1']);
  assert.is(code, 2);
  assert.match(stderr, /^lifeline: unexpected argument "false" for lifeline run; .*--checkpoint=false/);
  assert.is(stderr.split('\n').filter(Boolean).length, 1, stderr);
});

main('a work dir that cannot be made is one line naming --work_dir, the path and the errno, exit 1', () => {
  dir = tempDir();
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const workDir = path.join(file, 'work');
  const env = { ...process.env, LIFELINE_LOG_LEVEL: 'silent' };
  const { code, stderr } = lifelineSync(['agent', '--master=127.0.0.1:1', `--work_dir=${workDir}`, '--port=0', '--resources=cpus:1;mem:64;disk:64'], env);
  assert.is(code, 1);
  // One line (no stack), naming the flag, the path and the errno (the work dir is checked before use).
  assert.is(stderr.split('\n').length, 2, stderr);
  assert.ok(stderr.startsWith(`lifeline: --work_dir=${workDir} cannot be used: `), stderr);
  assert.match(stderr, /ENOTDIR/);
});

main('a bad log level is refused in one line naming where it came from, exit 2', () => {
  const fromEnv = lifelineSync(['master', '--port=0'], { ...process.env, LIFELINE_LOG_LEVEL: 'verbose' });
  assert.is(fromEnv.code, 2);
  assert.match(fromEnv.stderr, /^lifeline: invalid value for LIFELINE_LOG_LEVEL: "verbose" \(expected one of INFO, WARNING, ERROR or .*\)\n$/);
  const fromFlag = lifelineSync(['agent', '--master=127.0.0.1:1', '--work_dir=/nonexistent/ll', '--logging_level=chatty']);
  assert.is(fromFlag.code, 2);
  assert.match(fromFlag.stderr, /^lifeline: invalid value for --logging_level: "chatty" .*\n$/);
});

main('a value a component refuses is reported under its flag, never its internal option name', () => {
  const { code, stderr } = lifelineSync(['master', '--agent_ping_timeout=0ms']);
  assert.is(code, 2);
  assert.is(stderr, 'lifeline: invalid value for --agent_ping_timeout: "0ms" (expected a duration from 1ms to 2147483647ms)\n');
  const agent = lifelineSync(['agent', '--master=127.0.0.1:1', '--work_dir=/nonexistent/ll', '--status_update_retry_interval_min=2mins']);
  assert.is(agent.code, 2);
  assert.match(agent.stderr, /^lifeline: invalid value for --status_update_retry_interval_max: .*--status_update_retry_interval_min/);
  assert.not.match(agent.stderr, /[a-z]+Ms\b/);
});

main.run();
