// A command that cannot start says so in one line naming the flag and the path (`--work_dir=/srv/ll:
// cannot mkdir /srv/ll/meta: permission denied [EACCES]`), never with a stack: what an operator
// needs is which flag to change, not where in lifeline the system call was made.
import path from 'node:path';

/** One line for the operator; main.ts prints it and exits 1. */
export class StartupError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
    this.code = code;
  }
}

/** A failed system call as Node reports it (fs, net): code, syscall, often a path. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((error as NodeJS.ErrnoException).code!) && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** `permission denied` out of `EACCES: permission denied, mkdir '/x'`. */
function describe(error: NodeJS.ErrnoException): string {
  return /^E[A-Z0-9]+: ([^,]+)/.exec(error.message)?.[1] ?? error.message;
}

/**
 * A system error as one line. `dirs` are the flags whose paths the command uses (`work_dir`,
 * `runtime_dir`): the one holding the failed path is named. Anything else is returned unchanged.
 */
export function startupError(error: unknown, dirs: ReadonlyArray<readonly [flag: string, dir: string | undefined]> = []): unknown {
  if (!isSystemError(error)) return error;
  const target = error.path ?? (error as { dest?: string }).dest;
  const what = `cannot ${error.syscall}${target ? ` ${target}` : ''}: ${describe(error)}`;
  let flag: string | undefined;
  if (target) {
    const resolved = path.resolve(target);
    const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer + path.sep);
    const given = dirs.filter((entry): entry is readonly [string, string] => entry[1] !== undefined).map(([name, dir]) => ({ name, dir, base: path.resolve(dir) }));
    // The flag whose directory holds the path (the deepest), else one whose directory is under it.
    const holding = given.filter(({ base }) => within(resolved, base)).sort((a, b) => b.base.length - a.base.length)[0];
    const under = given.filter(({ base }) => within(base, resolved)).sort((a, b) => a.base.length - b.base.length)[0];
    const found = holding ?? under;
    if (found) flag = `--${found.name}=${found.dir}`;
  }
  return new StartupError(`${flag ? `${flag}: ` : ''}${what} [${error.code}]`, error.code, { cause: error });
}
