// The work dir holds every checkpoint (meta/: task commands and data, token hashes) and every
// sandbox: other local users must not read or change any of it (issue 14, point 6). It is made
// 0700, so nothing below it is reachable by them, whatever the modes of the files inside.
import fs from 'node:fs/promises';
import type { Logger } from '../log.js';
import { RuntimeDirError } from './errors.js';

/**
 * Creates the work dir 0700, or narrows an existing one to 0700 (refusing one of another user).
 * `shared` (executors may run as other users): the search bit a launch as another user gave it
 * (0711: they pass through to their own 0700 sandboxes, task-user.ts) is kept, so that they can
 * still reach the socket after a restart; nothing else is, and meta/ stays 0700.
 */
export async function secureWorkDir(workDir: string, logger: Logger, shared = false): Promise<void> {
  await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
  const stat = await fs.stat(workDir);
  if (!stat.isDirectory()) throw new RuntimeDirError(`--work_dir ${workDir} is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : stat.uid;
  if (stat.uid !== uid) {
    throw new RuntimeDirError(`--work_dir ${workDir} belongs to uid ${stat.uid}, not to this agent's uid ${uid}; choose another --work_dir or change its owner`);
  }
  // Only a pass-through-only mode (0711, as openPathTo leaves it) counts as ours to keep; 0777 does not.
  const passThroughOnly = (stat.mode & 0o077) === 0o011;
  const wanted = (stat.mode & 0o7700) | (shared && passThroughOnly ? 0o011 : 0);
  if ((stat.mode & 0o7777) !== wanted) {
    await fs.chmod(workDir, wanted);
    logger.info({ workDir, was: (stat.mode & 0o7777).toString(8), now: wanted.toString(8) }, shared ? 'work dir made private (group and others may only pass through, to sandboxes of their own)' : 'work dir made private (no access for group and others)');
  }
}
