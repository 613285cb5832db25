// Local trust of the executor socket (issue 14, point 6): another local user who can write any
// directory on the way to agent.sock can plant a socket of their own there and receive every
// executor's token. The agent checks the path before it listens, the executor before it connects.
// Synchronous on purpose: a few lstat calls, and the executor's connector is synchronous.
import fs from 'node:fs';
import path from 'node:path';

/** The uid of this process (0 where there is none, as on Windows). */
export function ownUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Why `dir` and its ancestors cannot be trusted to hold a socket for `uid`, or undefined. Walking
 * up from `dir`, each directory must be owned by `uid` or root and writable by no one else, up to
 * the first root-owned sticky directory (such as /tmp: others may create entries there but not
 * replace ours) or `/`. The resolved path (symlinks followed) is checked the same way.
 */
export function untrustedDirProblem(dir: string, uid = ownUid()): string | undefined {
  const literal = walk(path.resolve(dir), uid, 'lstat');
  if (literal !== undefined) return literal;
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch (error) {
    return `${dir} cannot be resolved (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  return real === path.resolve(dir) ? undefined : walk(real, uid, 'stat');
}

function walk(start: string, uid: number, how: 'lstat' | 'stat'): string | undefined {
  for (let current = start; ; current = path.dirname(current)) {
    let stat: fs.Stats;
    try {
      stat = how === 'lstat' ? fs.lstatSync(current) : fs.statSync(current);
    } catch (error) {
      return `${current} cannot be examined (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
    }
    const trustedOwner = stat.uid === uid || stat.uid === 0;
    if (stat.isSymbolicLink()) {
      // Its target is checked by the resolved walk; the link itself only needs a trusted owner.
      if (!trustedOwner) return `${current} is a symlink owned by uid ${stat.uid}, not by uid ${uid} or root`;
    } else if (!stat.isDirectory()) {
      return `${current} is not a directory`;
    } else if (stat.uid === 0 && (stat.mode & 0o1000) !== 0) {
      return undefined; // root-owned and sticky: nobody else can replace what we put there
    } else if (!trustedOwner) {
      return `${current} belongs to uid ${stat.uid}, not to uid ${uid} or root (another user could replace what is in it)`;
    } else if ((stat.mode & 0o022) !== 0) {
      return `${current} is writable by ${(stat.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${octal(stat.mode)}) and not sticky`;
    }
    if (current === path.dirname(current)) return undefined;
  }
}

/**
 * Why the executor must not connect (and send its token) to `socketPath`, or undefined: it must be
 * a socket owned by this process's uid or root, in a trusted directory (untrustedDirProblem). A
 * missing socket is not a problem here: connecting fails with ENOENT and is retried as before.
 */
export function untrustedSocketProblem(socketPath: string, uid = ownUid()): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `${socketPath} cannot be examined (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  if (!stat.isSocket()) return `${socketPath} is not a socket`;
  if (stat.uid !== uid && stat.uid !== 0) return `${socketPath} belongs to uid ${stat.uid}, not to this executor's uid ${uid} or root`;
  return untrustedDirProblem(path.dirname(socketPath), uid);
}
