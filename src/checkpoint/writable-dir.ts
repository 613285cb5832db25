// A directory flag's path (the agent's --work_dir and --runtime_dir, the master's --work_dir)
// checked before anything is created in it (issue 13 point 6): Node's recursive mkdir loops without
// end on a path such as /proc/foo (its mkdir says ENOENT, the parent exists, and it tries again),
// which spun the agent at most of a core and hung the master's start. Here each missing component
// is made on its own, so any refusal is one clear error.
import fs from 'node:fs';
import path from 'node:path';
import { LifelineError } from '../protocol/errors.js';

/** A directory flag (`--work_dir`, `--runtime_dir`) that names a path this process cannot use. */
export class DirectoryUnusableError extends LifelineError {
  constructor(
    readonly flag: string,
    readonly dir: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super('ERR_DIRECTORY', `--${flag}=${dir} cannot be used: ${reason}`, options);
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'an unexpected error';
}

function explain(error: unknown): string {
  switch (codeOf(error)) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'a read-only file system';
    case 'ENOTDIR':
      return 'a file where a directory should be on the path';
    case 'ENOENT':
      return 'the file system there does not allow it';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ELOOP':
      return 'a symlink loop';
    default:
      return (error as Error | undefined)?.message ?? String(error);
  }
}

/**
 * Makes sure `dir` is a directory this process can write, creating the missing components one by
 * one (never a recursive mkdir). Synchronous: it runs once, before the agent or the master starts. Throws a
 * DirectoryUnusableError naming `flag` and the path.
 */
export function ensureWritableDir(dir: string, flag: string): string {
  const resolved = path.resolve(dir);
  const missing: string[] = [];
  for (let current = resolved; ; ) {
    let stats: fs.Stats | undefined;
    try {
      stats = fs.statSync(current, { throwIfNoEntry: false });
    } catch (error) {
      throw new DirectoryUnusableError(flag, dir, `${current} cannot be examined (${codeOf(error)}: ${explain(error)})`, { cause: error });
    }
    if (stats) {
      if (!stats.isDirectory()) throw new DirectoryUnusableError(flag, dir, `${current} is not a directory`);
      break;
    }
    missing.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const component of missing) {
    try {
      fs.mkdirSync(component, { mode: 0o755 });
    } catch (error) {
      if (codeOf(error) === 'EEXIST' && fs.statSync(component, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw new DirectoryUnusableError(flag, dir, `cannot create ${component} (${codeOf(error)}: ${explain(error)})`, { cause: error });
    }
  }
  // Permission bits do not tell the whole story (root, read-only mounts, /proc): write to find out.
  const probe = path.join(resolved, `.lifeline-probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (error) {
    throw new DirectoryUnusableError(flag, dir, `cannot write in ${resolved} (${codeOf(error)}: ${explain(error)})`, { cause: error });
  }
  return resolved;
}
