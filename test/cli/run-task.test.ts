// cli/run-task.ts: what `lifeline run` makes of its task beyond the flags: takeEnv (the one
// repeatable flag), envPrefix (checked by the /bin/sh that runs the task), and exitCodeOf (a
// terminal update as the exit code a shell would give).
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envPrefix, exitCodeOf, takeEnv } from '../../src/cli/run-task.js';
import { FlagError } from '../../src/protocol/index.js';

const Env = suite('cli/run-task takeEnv and envPrefix');

Env('takes every --env=KEY=VALUE and --env KEY=VALUE out of argv in order, leaving the rest in order', () => {
  const { env, rest } = takeEnv(['--name=x', '--env=A=1', '--command', 'echo', '--env', 'B=2', '--environment=kept', '--env=_C9=']);
  assert.equal(env, [['A', '1'], ['B', '2'], ['_C9', '']]);
  // --environment is another flag, left for the flag parser to refuse or take.
  assert.equal(rest, ['--name=x', '--command', 'echo', '--environment=kept']);
});

Env('keeps everything after the first = as the value', () => {
  assert.equal(takeEnv(['--env=URL=a=b&c=d']).env, [['URL', 'a=b&c=d']]);
  assert.equal(takeEnv(['--env', 'X= spaced out ']).env, [['X', ' spaced out ']]);
});

Env('a KEY given twice is kept twice, the shell keeping the last', () => {
  const { env } = takeEnv(['--env=A=1', '--env=A=2']);
  assert.equal(env, [['A', '1'], ['A', '2']]);
  assert.is(sh(`${envPrefix(env)}printf %s "$A"`), '2');
});

Env('refuses a value that is not KEY=VALUE with a variable name for KEY, echoing it', () => {
  for (const text of ['NOEQUALS', '=x', '1X=2', 'A-B=1', 'A B=1', 'É=1', '$A=1']) {
    try {
      takeEnv(['--env', text]);
      assert.unreachable(`${JSON.stringify(text)} was taken`);
    } catch (error) {
      assert.instance(error, FlagError, text);
      assert.is((error as Error).message, `invalid value for --env: ${JSON.stringify(text)} (expected KEY=VALUE, KEY a variable name such as MY_VAR)`);
    }
  }
});

Env('refuses --env as the last word, with no value', () => {
  assert.throws(() => takeEnv(['--name=x', '--env']), (error: Error) => error instanceof FlagError && error.message === 'flag --env needs a value (KEY=VALUE)');
});

Env('leaves an argv without --env as it is', () => {
  const argv = ['--master=m:1', '--command=true'];
  const { env, rest } = takeEnv(argv);
  assert.equal(env, []);
  assert.equal(rest, argv);
  assert.is.not(rest, argv, 'a copy');
  assert.is(envPrefix([]), '');
});

/** Runs `script` with /bin/sh -c, as the command shim runs a task's command; its stdout. */
function sh(script: string): string {
  const { status, stdout, stderr } = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.is(status, 0, stderr);
  return stdout;
}

Env('quotes each value so that /bin/sh sets it byte for byte, nothing expanded', () => {
  const values: Array<[string, string]> = [
    ['PLAIN', 'hello'],
    ['QUOTES', `it's "quoted" ''`],
    ['EXPANSIONS', '$HOME `id` $(id) ${PATH} \\n \\ * ?'],
    ['NEWLINES', 'line 1\nline 2\n'],
    ['EMPTY', ''],
    ['SEMICOLON', 'a; exit 3'],
  ];
  const prefix = envPrefix(values);
  assert.ok(prefix.endsWith('; '), 'ends ready for the command');
  // printf with NUL separators: every value comes back whole, newlines included.
  const out = sh(`${prefix}printf '%s\\0' ${values.map(([key]) => `"$${key}"`).join(' ')}`);
  assert.equal(out.split('\0').slice(0, -1), values.map(([, value]) => value));
  // Exported: the command's own children see them.
  assert.is(sh(`${envPrefix([['CHILD', 'seen']])}/bin/sh -c 'printf %s "$CHILD"'`), 'seen');
});

Env.run();

const Exit = suite('cli/run-task exitCodeOf');

Exit('is 0 for TASK_FINISHED, whatever its message', () => {
  assert.is(exitCodeOf({ state: 'TASK_FINISHED' }), 0);
  assert.is(exitCodeOf({ state: 'TASK_FINISHED', message: 'Command exited with status 7' }), 0);
});

Exit('is the command\'s exit status for TASK_FAILED', () => {
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command exited with status 1' }), 1);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command exited with status 3' }), 3);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command exited with status 255' }), 255);
});

Exit('is 1 for a failure whose status no exit code can carry: 0, or over 255', () => {
  // A failed task must not look like a success, nor wrap around.
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command exited with status 0' }), 1);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command exited with status 256' }), 1);
});

Exit('is 128 + the signal number for a command terminated by a signal, as a shell reports it', () => {
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGKILL' }), 128 + 9);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGTERM' }), 128 + 15);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGSEGV' }), 128 + 11);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGHUP' }), 128 + 1);
  // The number this platform's shell gives for a child killed by SIGTERM (Linux numbering).
  const shell = spawnSync('/bin/sh', ['-c', '/bin/sh -c "kill -TERM \\$\\$"; echo $?'], { encoding: 'utf8' });
  assert.is(shell.stdout.trim(), String(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGTERM' })));
});

Exit('is 1 for a signal it has no number for, and a failure without a status', () => {
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGWINCH' }), 1);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Failed to launch command: ENOENT' }), 1);
  assert.is(exitCodeOf({ state: 'TASK_FAILED' }), 1);
});

Exit('is 1 for every other end, even with a status in its message', () => {
  for (const state of ['TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE'] as const) {
    assert.is(exitCodeOf({ state, message: 'Command exited with status 3' }), 1, state);
  }
  assert.is(exitCodeOf({ state: 'TASK_KILLED', message: 'Command terminated with signal SIGTERM' }), 1);
});

Exit.run();
