// The guarded file system calls of the checkpoint reader: everything on disk is untrusted, so
// every read refuses symlinks, FIFOs, oversized files and files where directories should be, and
// every fs error leaves as the CheckpointCorruptError naming the file. Synchronous on purpose:
// see recover.ts.
import fs from 'node:fs';
import type * as v from 'valibot';
import { parseJson } from './atomic-write.js';
import { CheckpointCorruptError } from './errors.js';

/** Largest JSON file read back (a task.json holds at most a frame's worth of data, as base64). */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** Largest record log read back. */
export const MAX_LOG_BYTES = 512 * 1024 * 1024;
/** boot_id, token.sha256, executor.sentinel. */
export const MAX_SMALL_BYTES = 4096;
// O_NOFOLLOW: a symlink where a file should be is damage, not something to follow. O_NONBLOCK: a
// FIFO planted where a file should be must not hang the reader (it is then refused by fstat).
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

export type Kind = 'file' | 'directory' | 'symlink' | 'special file';

export function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function kindOf(stats: fs.Stats): Kind {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'special file';
}

export function article(kind: Kind): string {
  return kind === 'file' ? 'a file' : kind === 'directory' ? 'a directory' : kind === 'symlink' ? 'a symlink' : 'a special file';
}

/** An fs error (or anything else unexpected) as damage of `file`. */
export function asCorrupt(error: unknown, file: string): CheckpointCorruptError {
  if (error instanceof CheckpointCorruptError) return error;
  const errno = error as NodeJS.ErrnoException | undefined;
  const where = typeof errno?.path === 'string' ? errno.path : file;
  switch (code(error)) {
    case 'ELOOP':
      return new CheckpointCorruptError(where, undefined, 'a symlink (or a symlink loop) where a regular file or directory should be', { cause: error });
    case 'ENOTDIR':
      return new CheckpointCorruptError(where, undefined, 'a file where a directory should be on the path', { cause: error });
    case 'EISDIR':
      return new CheckpointCorruptError(where, undefined, 'a directory where a file should be', { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new CheckpointCorruptError(where, undefined, `cannot be read: permission denied (${code(error)})`, { cause: error });
    default: {
      const message = error instanceof Error ? error.message : String(error);
      const detail = code(error) ? `cannot be read (${message})` : `unexpected error while reading it (${message})`;
      return new CheckpointCorruptError(where, undefined, detail, { cause: error });
    }
  }
}

/** What is at `file` (not following a symlink), or undefined when nothing is. */
export async function lstatKind(file: string): Promise<Kind | undefined> {
  try {
    // throwIfNoEntry: an absent file (a sentinel, a sandbox) is common, and a thrown error costs ~20 µs.
    const stats = fs.lstatSync(file, { throwIfNoEntry: false });
    return stats && kindOf(stats);
  } catch (error) {
    throw asCorrupt(error, file);
  }
}

function direntKind(entry: fs.Dirent): Kind {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'directory';
  if (entry.isSymbolicLink()) return 'symlink';
  return 'special file';
}

/** Names and kinds of a directory's entries. */
export type Listing = ReadonlyMap<string, Kind>;
export const EMPTY: Listing = new Map();

/**
 * The entries of a directory (whose kind the caller has checked), sorted; none when it does not
 * exist; damage when it is not a directory.
 */
export function listDir(dir: string): Listing {
  let entries: fs.Dirent[];
  try {
    // withFileTypes: the kind of each entry comes with the listing (Node lstats an entry only
    // when the file system does not say), which saves an lstat per framework, executor, run, task.
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (code(error) === 'ENOENT') return EMPTY;
    throw asCorrupt(error, dir);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return new Map(entries.map((entry) => [entry.name, direntKind(entry)]));
}

/** The bytes of a regular file of at most `max` bytes; undefined when it does not exist. */
export async function readRegularFile(file: string, max: number): Promise<Buffer | undefined> {
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw asCorrupt(error, file);
  }
  try {
    const stats = fs.fstatSync(fd);
    if (!stats.isFile()) throw new CheckpointCorruptError(file, undefined, `expected a regular file, found ${article(kindOf(stats))}`);
    if (stats.size > max) throw new CheckpointCorruptError(file, undefined, `${stats.size} bytes, more than the ${max} such a file may have`);
    const bytes = fs.readFileSync(fd);
    if (bytes.length > max) throw new CheckpointCorruptError(file, undefined, `more than the ${max} bytes such a file may have`);
    return bytes;
  } catch (error) {
    throw asCorrupt(error, file);
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // nothing to do about a failed close of a file only read
    }
  }
}

export async function readJsonFile<S extends v.GenericSchema>(file: string, schema: S, required: true): Promise<v.InferOutput<S>>;
export async function readJsonFile<S extends v.GenericSchema>(file: string, schema: S, required: false): Promise<v.InferOutput<S> | undefined>;
export async function readJsonFile<S extends v.GenericSchema>(file: string, schema: S, required: boolean): Promise<v.InferOutput<S> | undefined> {
  const bytes = await readRegularFile(file, MAX_JSON_BYTES);
  if (bytes === undefined) {
    if (required) throw new CheckpointCorruptError(file, undefined, 'missing (every such directory must hold it)');
    return undefined;
  }
  return parseJson(file, bytes.toString('utf8'), schema);
}
