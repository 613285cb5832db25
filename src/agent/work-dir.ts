// The work dir holds every checkpoint (meta/: task commands and data, token hashes) and every
// sandbox: other local users must not read or change any of it (issue 14, point 6). It is made
// 0700, so nothing below it is reachable by them, whatever the modes of the files inside.
import fs from 'node:fs/promises';
import type { Logger } from '../log.js';
import { RuntimeDirError } from './errors.js';

/** Creates the work dir 0700, or narrows an existing one to 0700 (refusing one of another user). */
export async function secureWorkDir(workDir: string, logger: Logger): Promise<void> {
  await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
  const stat = await fs.stat(workDir);
  if (!stat.isDirectory()) throw new RuntimeDirError(`--work_dir ${workDir} is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : stat.uid;
  if (stat.uid !== uid) {
    throw new RuntimeDirError(`--work_dir ${workDir} belongs to uid ${stat.uid}, not to this agent's uid ${uid}; choose another --work_dir or change its owner`);
  }
  if ((stat.mode & 0o077) !== 0) {
    await fs.chmod(workDir, stat.mode & 0o7700);
    logger.info({ workDir, was: (stat.mode & 0o7777).toString(8), now: (stat.mode & 0o7700).toString(8) }, 'work dir made private (no access for group and others)');
  }
}
