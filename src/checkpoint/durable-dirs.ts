// Directory operations of the checkpoint that a crash at any moment cannot leave half done: a
// directory appears together with its content, and disappears all at once.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { syncDir, tempPathFor } from './atomic-write.js';

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Creates `dir` with its content in one step: `populate` fills a temp directory next to it, which
 * is fsynced and renamed into place, then the parent is fsynced. Returns false (and leaves nothing
 * behind) when `dir` already exists: the caller updates it in place.
 */
export async function createDirWith(dir: string, populate: (temp: string) => Promise<void>): Promise<boolean> {
  if (await exists(dir)) return false;
  const temp = tempPathFor(dir);
  await fsp.mkdir(temp, { mode: 0o700 });
  try {
    await populate(temp);
    await syncDir(temp);
    await fsp.rename(temp, dir);
  } catch (error) {
    await fsp.rm(temp, { recursive: true, force: true }).catch(() => {});
    // Lost a race with another creation of the same directory: it exists now, update it in place.
    if (errorCode(error) === 'ENOTEMPTY' || errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  await syncDir(path.dirname(dir));
  return true;
}

/**
 * Removes a directory of the checkpoint so that a crash at any moment leaves either all of it or
 * none: a recursive rm interrupted by kill -9 would leave, say, a task directory without its
 * task.json, which strict recovery rightly refuses. It is renamed to a temp name first (made
 * durable), then removed; a recovering agent removes a leftover temp directory as a stray.
 */
export async function removeDirAtomically(dir: string): Promise<void> {
  const temp = tempPathFor(dir);
  try {
    await fsp.rename(dir, temp);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  await syncDir(path.dirname(dir));
  await fsp.rm(temp, { recursive: true, force: true });
}

export async function createEmptyFile(file: string): Promise<void> {
  const handle = await fsp.open(file, 'wx', 0o600);
  await handle.close();
}
