// Atomic files for the checkpoint (DESIGN §5): a crash at any moment leaves either the old file or
// the new one in place, never a half-written one. Temp file in the same directory (rename is atomic
// only within one filesystem), fsync it, rename it over the target, fsync the directory so the
// rename itself survives a power cut. Files read back are untrusted: parsed, then validated.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type * as v from 'valibot';
import { validate } from '../protocol/codec.js';
import { InvalidOptionError, ProtocolError } from '../protocol/errors.js';
import { CheckpointCorruptError } from './errors.js';

/**
 * The moments of an atomic write, in order, as seen by the crash tests: `created` (empty temp file),
 * `written`, `synced` (temp file durable), `renamed` (target replaced, directory not yet synced), `done`.
 */
export type AtomicWriteStep = 'created' | 'written' | 'synced' | 'renamed' | 'done';

export interface AtomicWriteOptions {
  /** Permission bits of the file, set exactly (not masked by the umask), e.g. `0o600` for secrets. */
  mode?: number;
  /**
   * @internal For crash tests only: called synchronously after each step with the temp file's path,
   * so that a fixture can SIGKILL itself at that exact point.
   */
  onStep?: (step: AtomicWriteStep, tempPath: string) => void;
}

/** Without a `mode`, files are 0600 and new directories 0700: checkpoints hold task commands and data (issue 14). */
const PRIVATE_FILE = 0o600;

/** Temp files are `.<name>.tmp-<12 hex digits>` next to their target: hidden and recognisable. */
const TEMP_PATTERN = /^\..+\.tmp-[0-9a-f]{12}$/;

/** The path of a fresh temp file for `file`, in the same directory. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
}

export function isTempFileName(name: string): boolean {
  return TEMP_PATTERN.test(name);
}

function checkOptions(options: AtomicWriteOptions): void {
  const { mode, onStep } = options;
  if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
    throw new InvalidOptionError('mode', mode, 'an integer permission mode such as 0o600');
  }
  if (onStep !== undefined && typeof onStep !== 'function') throw new InvalidOptionError('onStep', onStep, 'a function');
}

function jsonBytes(value: unknown): Buffer {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new TypeError(`cannot write ${typeof value} as JSON`);
  return Buffer.from(`${text}\n`);
}

/** Writes `value` as JSON to `file` atomically and durably. */
export async function writeJsonAtomic(file: string, value: unknown, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, jsonBytes(value), options);
}

/** Writes `value` as JSON to `file` atomically and durably, blocking (for exit paths). */
export function writeJsonAtomicSync(file: string, value: unknown, options: AtomicWriteOptions = {}): void {
  writeFileAtomicSync(file, jsonBytes(value), options);
}

/** Writes bytes or text to `file` atomically and durably; the temp file is removed on error. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  checkOptions(options);
  const { mode, onStep } = options;
  const temp = tempPathFor(file);
  let handle: fsp.FileHandle | undefined;
  let renamed = false;
  try {
    handle = await fsp.open(temp, 'wx', mode ?? PRIVATE_FILE);
    if (mode !== undefined) await handle.chmod(mode);
    onStep?.('created', temp);
    await handle.writeFile(data);
    onStep?.('written', temp);
    await handle.sync();
    onStep?.('synced', temp);
    await handle.close();
    handle = undefined;
    await fsp.rename(temp, file);
    renamed = true;
    onStep?.('renamed', temp);
    await syncDir(path.dirname(file));
    onStep?.('done', temp);
  } catch (error) {
    await handle?.close().catch(() => {});
    if (!renamed) await fsp.rm(temp, { force: true }).catch(() => {});
    throw error;
  }
}

/** The blocking twin of writeFileAtomic. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  checkOptions(options);
  const { mode, onStep } = options;
  const temp = tempPathFor(file);
  let fd: number | undefined;
  let renamed = false;
  try {
    fd = fs.openSync(temp, 'wx', mode ?? PRIVATE_FILE);
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    onStep?.('created', temp);
    fs.writeFileSync(fd, data);
    onStep?.('written', temp);
    fs.fsyncSync(fd);
    onStep?.('synced', temp);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
    renamed = true;
    onStep?.('renamed', temp);
    syncDirSync(path.dirname(file));
    onStep?.('done', temp);
  } catch (error) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing: the first error is the one to report
      }
    }
    if (!renamed) fs.rmSync(temp, { force: true });
    throw error;
  }
}

// A filesystem that cannot fsync a directory (EINVAL on some FUSE and network filesystems) offers
// no stronger guarantee to ask for; every other error is real.
function ignorableDirSyncError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'ENOTSUP';
}

/** fsyncs a directory, making the creations, renames and removals of its entries durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!ignorableDirSyncError(error)) throw error;
  } finally {
    await handle.close();
  }
}

export function syncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } catch (error) {
    if (!ignorableDirSyncError(error)) throw error;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates `dir` and its missing parents, durably: each directory created, and the parent of the
 * first one, is fsynced, so the new entries survive a power cut.
 */
export async function makeDirDurable(dir: string): Promise<void> {
  const first = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  const stop = path.dirname(path.resolve(first));
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    await syncDir(current);
    if (current === stop || current === path.dirname(current)) break;
  }
}

/** Reads a JSON checkpoint file and validates it; a missing file rejects with the fs error (ENOENT). */
export async function readJson<S extends v.GenericSchema>(file: string, schema: S): Promise<v.InferOutput<S>> {
  return parseJson(file, await fsp.readFile(file, 'utf8'), schema);
}

export function readJsonSync<S extends v.GenericSchema>(file: string, schema: S): v.InferOutput<S> {
  return parseJson(file, fs.readFileSync(file, 'utf8'), schema);
}

/**
 * Parses the text of a JSON checkpoint file (read by the caller) and validates it: anything wrong
 * is a CheckpointCorruptError naming `file`.
 */
export function parseJson<S extends v.GenericSchema>(file: string, text: string, schema: S): v.InferOutput<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const detail = text.length === 0 ? 'the file is empty' : `not valid JSON (${(cause as Error).message})`;
    throw new CheckpointCorruptError(file, undefined, detail, { cause });
  }
  // Every JSON file of the checkpoint holds an object; saying so beats the codec's frame wording.
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CheckpointCorruptError(file, undefined, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : String(value === null ? 'null' : typeof value)}`);
  }
  try {
    return validate(schema, value, path.basename(file));
  } catch (cause) {
    if (!(cause instanceof ProtocolError)) throw cause;
    throw new CheckpointCorruptError(file, undefined, cause.message, { cause });
  }
}

/**
 * Removes the temp files a crash left behind in `dir` (and, with `recursive`, below it; symlinks are
 * not followed). Returns the paths removed. A missing `dir` has nothing to clean.
 */
export async function removeStrayTempFiles(dir: string, { recursive = false }: { recursive?: boolean } = {}): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (!entry.isDirectory() && isTempFileName(entry.name)) {
      await fsp.rm(full, { force: true });
      removed.push(full);
    } else if (recursive && entry.isDirectory()) {
      removed.push(...(await removeStrayTempFiles(full, { recursive })));
    }
  }
  return removed;
}
