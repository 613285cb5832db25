#!/usr/bin/env node
// The `lifeline` executable: one subcommand per module, each loaded only when it runs, so that
// `lifeline shim` (one per executor) does not pay for the master's or the agent's code.
import fs from 'node:fs';
import v8 from 'node:v8';
import { FlagError, LifelineError } from '../protocol/errors.js';

export interface Subcommand {
  /** Runs the subcommand; resolves to the process exit code (a long-running server never resolves). */
  main(argv: string[]): Promise<number>;
}

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<Subcommand> }> = {
  master: { summary: 'run a master', load: () => import('./master.js') },
  agent: { summary: 'run an agent (--master=HOST:PORT --work_dir=PATH)', load: () => import('./agent.js') },
  run: { summary: 'launch one task and follow it to a terminal state (--master=HOST:PORT --command=CMD)', load: () => import('./run.js') },
  shim: { summary: 'the command executor; launched by the agent, not by hand', load: loadShim },
  state: { summary: 'print /state of a master (--master=HOST:PORT) or an agent (--agent=HOST:PORT) as JSON', load: () => import('./state.js') },
  inspect: { summary: 'print the checkpointed state of a work dir (--work_dir=DIR)', load: () => import('./inspect.js') },
  version: { summary: 'print the release, protocol and on-disk format versions (also --version)', load: () => import('./version.js') },
  tasks: { summary: 'list the tasks the master knows (--master=HOST:PORT [--json])', load: () => import('./tasks.js') },
  agents: { summary: 'list the agents the master knows (--master=HOST:PORT [--json])', load: () => import('./agents.js') },
  kill: { summary: 'kill a task through the master (TASK_ID --master=HOST:PORT)', load: () => import('./kill.js') },
  logs: { summary: 'print a task\'s stdout or stderr from its sandbox (TASK_ID --master=HOST:PORT [--stderr] [--follow])', load: () => import('./logs.js') },
};

/**
 * `npm run build` bundles the shim into one file (scripts/bundle-shim.mjs): one shim runs per task,
 * and one parsed file starts much faster than ~30 modules loaded one by one. Without the bundle
 * (tsc run alone), or with one older than this file (tsc ran again after bundling, so it may be
 * stale), the shim falls back to its modules: the same code, slower to load.
 */
const SHIM_BUNDLE = new URL('./shim.bundle.js', import.meta.url);

function loadShim(): Promise<Subcommand> {
  // The shim turns V8's optimizing compiler off for itself (see shim.ts) before its code loads.
  v8.setFlagsFromString('--no-opt');
  return bundleIsFresh() ? import(SHIM_BUNDLE.href) : import('./shim.js');
}

function bundleIsFresh(): boolean {
  const bundle = fs.statSync(SHIM_BUNDLE, { throwIfNoEntry: false });
  return bundle !== undefined && bundle.mtimeMs >= fs.statSync(new URL(import.meta.url)).mtimeMs;
}

function usage(): string {
  const rows = Object.entries(SUBCOMMANDS).map(([name, { summary }]) => `  ${name.padEnd(8)} ${summary}`);
  return ['Usage: lifeline <command> [flags]', '', 'Commands:', ...rows, '', 'Run `lifeline <command> --help` for the flags of a command.', ''].join('\n');
}

async function run(argv: string[]): Promise<number> {
  const [given, ...rest] = argv;
  const name = given === '--version' || given === '-V' ? 'version' : given;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = SUBCOMMANDS[name];
  if (!entry) {
    process.stderr.write(`lifeline: unknown command ${JSON.stringify(name)} (see lifeline --help)\n`);
    return 2;
  }
  const command = await entry.load();
  return command.main(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof FlagError) {
      process.stderr.write(`lifeline: ${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof LifelineError) {
      process.stderr.write(`lifeline: ${error.message} [${error.code}]\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`lifeline: ${oneLine(error)}\n`);
      process.exitCode = 1;
    }
  },
);

/**
 * Any other error in one line, never a stack: a command's StartupError (startup-error.ts, which
 * names the flag) as it is; a failed system call as `cannot mkdir PATH: permission denied
 * [EACCES]`; anything else (a bug) by its message, with the stack only when LIFELINE_DEBUG is set.
 * (Inline rather than imported: every shim loads this file, and nothing else it need not.)
 */
function oneLine(error: unknown): string {
  if (error instanceof Error && error.name === 'StartupError') return error.message;
  const system = error as NodeJS.ErrnoException;
  if (error instanceof Error && typeof system.code === 'string' && /^E[A-Z0-9]+$/.test(system.code) && typeof system.syscall === 'string') {
    const what = /^E[A-Z0-9]+: ([^,]+)/.exec(error.message)?.[1] ?? error.message;
    return `cannot ${system.syscall}${system.path ? ` ${system.path}` : ''}: ${what} [${system.code}]`;
  }
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (process.env.LIFELINE_DEBUG) return `${message}\n${(error as Error)?.stack ?? ''}`;
  return `unexpected error: ${message} (LIFELINE_DEBUG=1 prints the stack)`;
}
