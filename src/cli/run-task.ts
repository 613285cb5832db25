// What `lifeline run` makes of its task beyond the flags (issue 15): `--env` (the one repeatable
// flag, set by the task's shell) and the exit code a terminal update maps to.
import { FlagError, show, type RoutedTaskStatus } from '../protocol/index.js';

/**
 * Takes every `--env=KEY=VALUE` (or `--env KEY=VALUE`) out of argv, in order: the one repeatable
 * flag. A KEY must be a shell variable name, since the variables are set by the task's shell.
 */
export function takeEnv(argv: readonly string[]): { env: Array<[string, string]>; rest: string[] } {
  const env: Array<[string, string]> = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let text: string | undefined;
    if (arg === '--env') {
      if (i + 1 >= argv.length) throw new FlagError('flag --env needs a value (KEY=VALUE)');
      text = argv[++i]!;
    } else if (arg.startsWith('--env=')) {
      text = arg.slice('--env='.length);
    } else {
      rest.push(arg);
      continue;
    }
    const eq = text.indexOf('=');
    const key = eq === -1 ? text : text.slice(0, eq);
    if (eq === -1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new FlagError(`invalid value for --env: ${show(text)} (expected KEY=VALUE, KEY a variable name such as MY_VAR)`);
    }
    env.push([key, text.slice(eq + 1)]);
  }
  return { env, rest };
}

/** `export KEY='VALUE'; ` for each variable, quoted for /bin/sh. */
export function envPrefix(env: ReadonlyArray<[string, string]>): string {
  return env.map(([key, value]) => `export ${key}='${value.replace(/'/g, `'\\''`)}'; `).join('');
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/**
 * run's exit code for a terminal update: 0 for TASK_FINISHED; for TASK_FAILED the command's own
 * status ("Command exited with status 3" → 3, "terminated with signal SIGKILL" → 137, as a shell
 * reports it); 1 for any other end (killed, lost, dropped, an error, or a failure without a status).
 */
export function exitCodeOf(status: Pick<RoutedTaskStatus, 'state' | 'message'>): number {
  if (status.state === 'TASK_FINISHED') return 0;
  if (status.state !== 'TASK_FAILED') return 1;
  const exited = /exited with status (\d+)/.exec(status.message ?? '');
  if (exited) {
    const code = Number(exited[1]);
    return code >= 1 && code <= 255 ? code : 1;
  }
  const signal = /terminated with signal (SIG[A-Z0-9]+)/.exec(status.message ?? '');
  if (signal && SIGNALS[signal[1]!] !== undefined) return 128 + SIGNALS[signal[1]!]!;
  return 1;
}
