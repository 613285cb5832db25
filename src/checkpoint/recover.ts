// The checkpoint reader (DESIGN §5, §7): reads meta/ and each run's sandbox back into a
// RecoveredState without changing anything on disk. Everything on disk is untrusted: every file is
// validated, every fs call is guarded (truncated or empty files, garbage, symlink loops, FIFOs,
// files where directories should be), and the only error that ever leaves is CheckpointCorruptError.
// Strict: the first damage throws, naming the file (and offset) and the two ways out. Non-strict:
// the smallest damaged unit (a log's tail, a task, a run, an executor, a framework) is skipped and
// listed. Executor-written files (shim.json, outbox.log) are never fatal: they are noted and ignored.
// The file system calls are synchronous (DESIGN §10: 1,000 executors recovered and listening in
// < 1 s): a checkpoint is tens of thousands of small reads, and fs/promises costs ~70 µs of CPU and
// a thread-pool round trip each, ten times a sync call. The reader yields to the event loop after
// every executor, so the agent's HTTP endpoint (and a stop signal) are still served meanwhile.
import fs from 'node:fs';
import path from 'node:path';
import type * as v from 'valibot';
import { InvalidOptionError, isValidId, show, type TaskStatus } from '../protocol/index.js';
import { bootId as hostBootId } from '../process/index.js';
import { isTempFileName, parseJson } from './atomic-write.js';
import { CheckpointCorruptError } from './errors.js';
import { AgentFile, BOOT_ID_PATTERN, ExecutorFile, ForkedFile, FrameworkFile, TaskFile, taskInfoFromFile, TOKEN_HASH_PATTERN } from './files.js';
import {
  agentInfoPath,
  agentsDir,
  childPath,
  bootIdPath,
  executorInfoPath,
  executorsDir,
  forkedPath,
  frameworkInfoPath,
  frameworksDir,
  LATEST,
  latestAgentPath,
  latestRunPath,
  metaDir,
  outboxPath,
  runsDir,
  sandboxDir,
  sentinelPath,
  shimInfoPath,
  shimStateDir,
  taskInfoPath,
  tasksDir,
  taskUpdatesPath,
  tokenHashPath,
  type ExecutorRef,
  type FrameworkRef,
  type RunRef,
  type TaskRef,
} from './layout.js';
import { parseRecordLog } from './record-log.js';
import type { LogRecord } from './records.js';
import { ShimInfo } from './shim-info.js';
import type {
  LogRepair,
  RecoveredExecutor,
  RecoveredFramework,
  RecoveredRun,
  RecoveredState,
  RecoveredTask,
  RecoverOptions,
  RecoveryError,
} from './state.js';

/** Largest JSON file read back (a task.json holds at most a frame's worth of data, as base64). */
const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** Largest record log read back. */
const MAX_LOG_BYTES = 512 * 1024 * 1024;
/** boot_id, token.sha256, executor.sentinel. */
const MAX_SMALL_BYTES = 4096;
/** How deep the search for stray temp files goes (the layout itself is 10 levels deep). */
const MAX_WALK_DEPTH = 32;

// O_NOFOLLOW: a symlink where a file should be is damage, not something to follow. O_NONBLOCK: a
// FIFO planted where a file should be must not hang the reader (it is then refused by fstat).
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

type Kind = 'file' | 'directory' | 'symlink' | 'special file';

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function kindOf(stats: fs.Stats): Kind {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'special file';
}

function article(kind: Kind): string {
  return kind === 'file' ? 'a file' : kind === 'directory' ? 'a directory' : kind === 'symlink' ? 'a symlink' : 'a special file';
}

/** An fs error (or anything else unexpected) as damage of `file`. */
function asCorrupt(error: unknown, file: string): CheckpointCorruptError {
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
async function lstatKind(file: string): Promise<Kind | undefined> {
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
type Listing = ReadonlyMap<string, Kind>;
const EMPTY: Listing = new Map();

/**
 * The entries of a directory (whose kind the caller has checked), sorted; none when it does not
 * exist; damage when it is not a directory.
 */
function listDir(dir: string): Listing {
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
async function readRegularFile(file: string, max: number): Promise<Buffer | undefined> {
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

/** Lets the event loop run (HTTP requests, signals) between two executors of a long read. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function readJsonFile<S extends v.GenericSchema>(file: string, schema: S, required: true): Promise<v.InferOutput<S>>;
async function readJsonFile<S extends v.GenericSchema>(file: string, schema: S, required: false): Promise<v.InferOutput<S> | undefined>;
async function readJsonFile<S extends v.GenericSchema>(file: string, schema: S, required: boolean): Promise<v.InferOutput<S> | undefined> {
  const bytes = await readRegularFile(file, MAX_JSON_BYTES);
  if (bytes === undefined) {
    if (required) throw new CheckpointCorruptError(file, undefined, 'missing (every such directory must hold it)');
    return undefined;
  }
  return parseJson(file, bytes.toString('utf8'), schema);
}

function idMismatch(file: string, field: string, value: string, expected: string): CheckpointCorruptError {
  return new CheckpointCorruptError(file, undefined, `holds ${field} ${show(value)}, but it is stored under ${show(expected)}`);
}

/** Reads the checkpoint of `workDir` (see the module comment). Never writes anything. */
export async function recoverState(workDir: string, options: RecoverOptions): Promise<RecoveredState> {
  if (typeof workDir !== 'string' || workDir.length === 0) throw new InvalidOptionError('workDir', workDir, 'a non-empty path');
  const { strict, bootId } = options ?? ({} as RecoverOptions);
  if (typeof strict !== 'boolean') throw new InvalidOptionError('strict', strict, 'a boolean');
  if (bootId !== undefined && typeof bootId !== 'string') throw new InvalidOptionError('bootId', bootId, 'a string');
  let host = bootId;
  if (host === undefined) {
    try {
      host = hostBootId();
    } catch {
      host = undefined; // no /proc: a reboot cannot be detected, so none is assumed
    }
  }
  return new Reader(path.resolve(workDir), strict, host).read();
}

/** The message's tail in strict mode: what the operator can do about it. */
export function waysOut(workDir: string): string {
  return `recovery stops here; either restart with --strict=false to skip what is damaged and recover the rest, or remove ${latestAgentPath(workDir)} to start afresh as a new agent`;
}

class Reader {
  readonly #workDir: string;
  readonly #strict: boolean;
  readonly #hostBootId: string | undefined;
  readonly #errors: RecoveryError[] = [];
  readonly #repairs: LogRepair[] = [];
  readonly #strays: string[] = [];
  /** Every directory listed so far: each is read once, by the structured read and the stray search alike. */
  readonly #listings = new Map<string, Listing>();
  /** The error strict mode throws: rethrown as is by every enclosing unit. */
  #fatal: CheckpointCorruptError | undefined;

  constructor(workDir: string, strict: boolean, hostBoot: string | undefined) {
    this.#workDir = workDir;
    this.#strict = strict;
    this.#hostBootId = hostBoot;
  }

  async read(): Promise<RecoveredState> {
    try {
      return await this.#read();
    } catch (error) {
      if (error === this.#fatal) throw error;
      // Nothing should get here (every read is inside a unit); if something does, it is still
      // reported as the checkpoint error it is, never as a crash.
      throw this.#fail(asCorrupt(error, metaDir(this.#workDir)));
    }
  }

  async #read(): Promise<RecoveredState> {
    // meta/ and meta/agents/ must be real directories: through a symlink the whole checkpoint would
    // be read from (and stray temp files removed) outside the work dir, or silently found empty.
    const real = (await this.#unit(metaDir(this.#workDir), 'nothing under it was read: the agent starts afresh', () => this.#checkMetaDirs())) ?? false;
    const state = await this.#readAll(real);
    // Temp files left by interrupted writes anywhere under meta/, found in the listings the read
    // made (and in the directories it did not enter): one walk of meta/, not two.
    if (real) this.#findStrays(metaDir(this.#workDir), 0);
    return state;
  }

  async #readAll(real: boolean): Promise<RecoveredState> {
    const boot = real ? await this.#readBootId() : { damaged: false };
    const rebooted = boot.damaged || (boot.recorded !== undefined && this.#hostBootId !== undefined && boot.recorded !== this.#hostBootId);
    const state: RecoveredState = {
      rebooted,
      frameworks: [],
      errors: this.#errors,
      repairs: this.#repairs,
      strayTempFiles: this.#strays,
    };
    if (boot.recorded !== undefined) state.recordedBootId = boot.recorded;
    if (this.#hostBootId !== undefined) state.hostBootId = this.#hostBootId;
    const agent = real ? await this.#unit(latestAgentPath(this.#workDir), 'the agent was skipped: it starts afresh', () => this.#readAgent()) : undefined;
    if (!agent) return state;
    state.agentId = agent.id;
    state.agentInfo = agent.info;
    const dir = frameworksDir(this.#workDir, { agentId: agent.id });
    const names = (await this.#unit(dir, 'every framework was skipped', async () => this.#listDir(dir))) ?? EMPTY;
    for (const name of names.keys()) {
      if (isTempFileName(name)) continue;
      const framework = await this.#unit(childPath(dir, name), `framework ${show(name)} was skipped`, () =>
        this.#readFramework({ agentId: agent.id, frameworkId: name }, dir, rebooted),
      );
      if (framework) state.frameworks.push(framework);
    }
    return state;
  }

  /** True when meta/ and meta/agents/ are directories or absent; damage when either is anything else. */
  async #checkMetaDirs(): Promise<boolean> {
    for (const dir of [metaDir(this.#workDir), agentsDir(this.#workDir)]) {
      const kind = await lstatKind(dir);
      if (kind !== undefined && kind !== 'directory') throw new CheckpointCorruptError(dir, undefined, `expected a directory, found ${article(kind)}`);
    }
    return true;
  }

  // ---- damage ----

  /** Runs the read of one unit: damage in it is fatal (strict) or skips it, listed (non-strict). */
  async #unit<T>(file: string, consequence: string, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (error === this.#fatal) throw error;
      this.#damage(asCorrupt(error, file), consequence);
      return undefined;
    }
  }

  #damage(error: CheckpointCorruptError, consequence: string): void {
    if (this.#strict) throw this.#fail(error);
    const entry: RecoveryError = { file: error.file, message: `${error.detail} (${consequence})`, source: 'meta' };
    if (error.offset !== undefined) entry.offset = error.offset;
    this.#errors.push(entry);
  }

  #fail(error: CheckpointCorruptError): CheckpointCorruptError {
    this.#fatal = new CheckpointCorruptError(error.file, error.offset, `${error.detail}; ${waysOut(this.#workDir)}`, { cause: error });
    return this.#fatal;
  }

  /** Damaged executor-written data: listed, ignored, never fatal. */
  #note(error: unknown, file: string, consequence: string): void {
    const corrupt = asCorrupt(error, file);
    const entry: RecoveryError = { file: corrupt.file, message: `${corrupt.detail} (written by the executor, untrusted: ${consequence})`, source: 'sandbox' };
    if (corrupt.offset !== undefined) entry.offset = corrupt.offset;
    this.#errors.push(entry);
  }

  // ---- meta/ ----

  #findStrays(dir: string, depth: number): void {
    let listing = this.#listings.get(dir);
    if (!listing) {
      try {
        listing = listDir(dir);
      } catch {
        return; // whatever cannot be listed is reported by the structured read, if it matters
      }
    }
    for (const [name, kind] of listing) {
      const full = childPath(dir, name);
      if (isTempFileName(name)) this.#strays.push(full);
      else if (kind === 'directory' && depth < MAX_WALK_DEPTH) this.#findStrays(full, depth + 1);
    }
  }

  // ---- listings ----

  /** The listing of `dir`, whose kind the caller has checked: read once, then kept. */
  #list(dir: string): Listing {
    let listing = this.#listings.get(dir);
    if (!listing) {
      listing = listDir(dir);
      this.#listings.set(dir, listing);
    }
    return listing;
  }

  /** What is at `file`, from its directory's listing (no lstat of its own): undefined when nothing is. */
  #kindAt(file: string): Kind | undefined {
    const cut = file.lastIndexOf(path.sep);
    return this.#list(file.slice(0, cut)).get(file.slice(cut + 1));
  }

  /** The listing of directory `dir`: empty when it is absent, damage when it is something else. */
  #listDir(dir: string): Listing {
    const kind = this.#kindAt(dir);
    if (kind === undefined) return EMPTY;
    if (kind !== 'directory') throw new CheckpointCorruptError(dir, undefined, `expected a directory, found ${article(kind)}`);
    return this.#list(dir);
  }

  /** readJsonFile, without opening a file its directory's listing says is not there. */
  async #readJson<S extends v.GenericSchema>(file: string, schema: S, required: boolean): Promise<v.InferOutput<S> | undefined> {
    if (this.#kindAt(file) === undefined) {
      if (required) throw new CheckpointCorruptError(file, undefined, 'missing (every such directory must hold it)');
      return undefined;
    }
    return readJsonFile(file, schema, required as false);
  }

  async #readBootId(): Promise<{ recorded?: string; damaged: boolean }> {
    const file = bootIdPath(this.#workDir);
    const read = await this.#unit(file, 'the boot id is unknown, so a reboot is assumed and no recorded pid is trusted', async () => {
      const bytes = await readRegularFile(file, MAX_SMALL_BYTES);
      if (bytes === undefined) return {};
      const text = bytes.toString('utf8').trim();
      if (!BOOT_ID_PATTERN.test(text)) {
        throw new CheckpointCorruptError(file, undefined, text.length === 0 ? 'the file is empty' : `not a boot id: ${show(text)}`);
      }
      return { recorded: text };
    });
    return read ? { ...read, damaged: false } : { damaged: true };
  }

  /**
   * The ID a `latest` symlink in `dir` names, or undefined when there is no link. Anything but a
   * symlink to an existing sibling directory is damage (dangling, looping, a file, a bad target).
   */
  async #readLatest(link: string, dir: string): Promise<string | undefined> {
    const kind = this.#kindAt(link);
    if (kind === undefined) return undefined;
    if (kind !== 'symlink') throw new CheckpointCorruptError(link, undefined, `expected a symlink to an ID, found ${article(kind)}`);
    let target: string;
    try {
      target = fs.readlinkSync(link);
    } catch (error) {
      if (code(error) === 'ENOENT') return undefined;
      throw asCorrupt(error, link);
    }
    if (!isValidId(target)) throw new CheckpointCorruptError(link, undefined, `points to ${show(target)}, which is not an ID`);
    if (target === LATEST) throw new CheckpointCorruptError(link, undefined, 'points to itself (a symlink loop)');
    const targetKind = this.#kindAt(childPath(dir, target));
    if (targetKind === undefined) throw new CheckpointCorruptError(link, undefined, `dangling: points to ${target}, which does not exist`);
    if (targetKind !== 'directory') throw new CheckpointCorruptError(link, undefined, `points to ${target}, which is ${article(targetKind)}, not a directory`);
    return target;
  }

  async #readAgent(): Promise<{ id: string; info: AgentFile } | undefined> {
    const id = await this.#readLatest(latestAgentPath(this.#workDir), agentsDir(this.#workDir));
    if (id === undefined) return undefined;
    const file = agentInfoPath(this.#workDir, { agentId: id });
    const info = await readJsonFile(file, AgentFile, true);
    if (info.id !== id) throw idMismatch(file, 'id', info.id, id);
    return { id, info };
  }

  /** An entry of a directory of IDs must be a valid ID and a real directory. False: it vanished. */
  async #checkEntry(dir: string, name: string, field: string): Promise<boolean> {
    const file = childPath(dir, name);
    if (!isValidId(name)) throw new CheckpointCorruptError(file, undefined, `${show(name)} is not a valid ${field} (an ID must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$)`);
    const kind = this.#kindAt(file);
    if (kind === undefined) return false;
    if (kind !== 'directory') throw new CheckpointCorruptError(file, undefined, `expected the directory of ${field} ${name}, found ${article(kind)}`);
    return true;
  }

  async #readFramework(ref: FrameworkRef, dir: string, rebooted: boolean): Promise<RecoveredFramework | undefined> {
    if (!(await this.#checkEntry(dir, ref.frameworkId, 'frameworkId'))) return undefined;
    const file = frameworkInfoPath(this.#workDir, ref);
    const info = (await this.#readJson(file, FrameworkFile, true))!;
    if (info.id !== ref.frameworkId) throw idMismatch(file, 'id', info.id, ref.frameworkId);
    const executors: RecoveredExecutor[] = [];
    const executorsPath = executorsDir(this.#workDir, ref);
    const names = (await this.#unit(executorsPath, `every executor of framework ${ref.frameworkId} was skipped`, async () => this.#listDir(executorsPath))) ?? EMPTY;
    for (const name of names.keys()) {
      if (isTempFileName(name)) continue;
      await yieldToEventLoop();
      const executor = await this.#unit(childPath(executorsPath, name), `executor ${show(name)} of framework ${ref.frameworkId} was skipped`, () =>
        this.#readExecutor({ ...ref, executorId: name }, executorsPath, rebooted),
      );
      if (executor) executors.push(executor);
    }
    return { id: ref.frameworkId, info, executors };
  }

  async #readExecutor(ref: ExecutorRef, dir: string, rebooted: boolean): Promise<RecoveredExecutor | undefined> {
    if (!(await this.#checkEntry(dir, ref.executorId, 'executorId'))) return undefined;
    const file = executorInfoPath(this.#workDir, ref);
    const { generated, ...info } = (await this.#readJson(file, ExecutorFile, true))!;
    if (info.executorId !== ref.executorId) throw idMismatch(file, 'executorId', info.executorId, ref.executorId);
    if (info.frameworkId !== ref.frameworkId) throw idMismatch(file, 'frameworkId', info.frameworkId, ref.frameworkId);
    const runsPath = runsDir(this.#workDir, ref);
    const names = this.#listDir(runsPath);
    let latest = await this.#readLatest(latestRunPath(this.#workDir, ref), runsPath);
    const runs: RecoveredRun[] = [];
    for (const name of names.keys()) {
      if (name === LATEST || isTempFileName(name)) continue;
      const run = await this.#unit(childPath(runsPath, name), `run ${show(name)} of executor ${ref.executorId} was skipped`, () =>
        this.#readRun({ ...ref, containerId: name }, runsPath, rebooted),
      );
      if (run) runs.push(run);
    }
    // `latest`, when defined, names a run in `runs` (its run was skipped: the error is listed).
    if (latest !== undefined && !runs.some((run) => run.containerId === latest)) latest = undefined;
    const executor: RecoveredExecutor = { id: ref.executorId, info, generated, runs };
    if (latest !== undefined) executor.latest = latest;
    return executor;
  }

  async #readRun(ref: RunRef, dir: string, rebooted: boolean): Promise<RecoveredRun | undefined> {
    if (!(await this.#checkEntry(dir, ref.containerId, 'containerId'))) return undefined;
    const forked = await this.#readJson(forkedPath(this.#workDir, ref), ForkedFile, false);
    const tokenFile = tokenHashPath(this.#workDir, ref);
    const tokenBytes = this.#kindAt(tokenFile) === undefined ? undefined : await readRegularFile(tokenFile, MAX_SMALL_BYTES);
    // A run directory appears with its token.sha256 (docs/decisions.md): without it a live executor
    // could never re-subscribe, and its tasks would be lost without a word.
    if (tokenBytes === undefined) throw new CheckpointCorruptError(tokenFile, undefined, 'missing (every run directory is created with it)');
    let tokenHash: string | undefined;
    if (tokenBytes !== undefined) {
      tokenHash = tokenBytes.toString('utf8').trim();
      if (!TOKEN_HASH_PATTERN.test(tokenHash)) {
        throw new CheckpointCorruptError(tokenFile, undefined, tokenHash.length === 0 ? 'the file is empty' : 'not a SHA-256 in hex (64 lowercase hex digits)');
      }
    }
    const sentinel = sentinelPath(this.#workDir, ref);
    const sentinelKind = this.#kindAt(sentinel);
    if (sentinelKind !== undefined && sentinelKind !== 'file') {
      throw new CheckpointCorruptError(sentinel, undefined, `expected an empty file, found ${article(sentinelKind)}`);
    }
    const tasks: RecoveredTask[] = [];
    const tasksPath = tasksDir(this.#workDir, ref);
    for (const name of this.#listDir(tasksPath).keys()) {
      if (isTempFileName(name)) continue;
      const task = await this.#unit(childPath(tasksPath, name), `task ${show(name)} of run ${ref.containerId} was skipped`, () =>
        this.#readTask({ ...ref, taskId: name }, tasksPath),
      );
      if (task) tasks.push(task);
    }
    const sandbox = sandboxDir(this.#workDir, ref);
    const run: RecoveredRun = { containerId: ref.containerId, completed: sentinelKind === 'file', sandbox, tasks };
    // After a reboot no recorded pid is trusted: neither the agent's nor the executor's.
    if (forked && !rebooted) run.forked = forked;
    if (tokenHash !== undefined) run.tokenHash = tokenHash;
    if (!(await this.#sandboxDirsReal(sandbox))) return run;
    const shim = await this.#readShim(ref, sandbox);
    if (shim && !rebooted) run.shim = shim;
    const outbox = await this.#readOutbox(sandbox);
    if (outbox) run.outbox = outbox;
    return run;
  }

  async #readTask(ref: TaskRef, dir: string): Promise<RecoveredTask | undefined> {
    if (!(await this.#checkEntry(dir, ref.taskId, 'taskId'))) return undefined;
    const infoFile = taskInfoPath(this.#workDir, ref);
    const info = taskInfoFromFile((await this.#readJson(infoFile, TaskFile, true))!);
    if (info.taskId !== ref.taskId) throw idMismatch(infoFile, 'taskId', info.taskId, ref.taskId);
    const task: RecoveredTask = { id: ref.taskId, info, updates: [], acks: [] };
    const file = taskUpdatesPath(this.#workDir, ref);
    const bytes = await this.#unit(file, `task ${ref.taskId} is kept with no updates`, async () => {
      const read = this.#kindAt(file) === undefined ? undefined : await readRegularFile(file, MAX_LOG_BYTES);
      if (read === undefined) throw new CheckpointCorruptError(file, undefined, 'missing (it is created with task.json)');
      return read;
    });
    if (bytes === undefined) return task;
    const contents = parseRecordLog(bytes, { file, strict: false });
    let { records, validBytes } = contents;
    let corruption = contents.corruption;
    // Intact records of another task are damage too (the writer refuses them).
    const foreign = records.findIndex((record) => record.kind === 'UPDATE' && record.status.taskId !== ref.taskId);
    if (foreign >= 0) {
      const offset = contents.offsets[foreign]!;
      const status = (records[foreign] as Extract<LogRecord, { kind: 'UPDATE' }>).status;
      corruption = { offset, message: `an UPDATE record of task ${show(status.taskId)} in the log of task ${show(ref.taskId)}` };
      records = records.slice(0, foreign);
      validBytes = offset;
    }
    if (corruption) {
      this.#damage(
        new CheckpointCorruptError(file, corruption.offset, corruption.message),
        `the records from offset ${corruption.offset} on are dropped; the log is to be truncated to ${validBytes} bytes`,
      );
      this.#repairs.push({ file, length: validBytes, reason: 'corruption' });
    } else if (contents.tornTail) {
      this.#repairs.push({ file, length: validBytes, reason: 'torn-tail' });
    }
    const seenUpdates = new Set<string>();
    const seenAcks = new Set<string>();
    const updates: TaskStatus[] = [];
    for (const record of records) {
      if (record.kind === 'UPDATE') {
        if (seenUpdates.has(record.status.uuid)) continue;
        seenUpdates.add(record.status.uuid);
        updates.push(record.status);
      } else if (!seenAcks.has(record.uuid)) {
        seenAcks.add(record.uuid);
        task.acks.push(record.uuid);
      }
    }
    task.updates = updates;
    return task;
  }

  // ---- the sandbox: executor-written, untrusted, never fatal ----

  /**
   * The sandbox and its .lifeline/ must be directories (or absent): through a symlink the executor
   * files would be read from elsewhere, or silently found missing. Anything else is noted. False:
   * there is nothing to read (absent, or noted).
   */
  async #sandboxDirsReal(sandbox: string): Promise<boolean> {
    for (const dir of [sandbox, shimStateDir(sandbox)]) {
      try {
        const kind = await lstatKind(dir);
        if (kind === undefined) return false; // nothing there to read
        if (kind !== 'directory') throw new CheckpointCorruptError(dir, undefined, `expected a directory, found ${article(kind)}`);
      } catch (error) {
        this.#note(error, dir, 'shim.json and outbox.log are ignored');
        return false;
      }
    }
    return true;
  }

  async #readShim(ref: RunRef, sandbox: string): Promise<ShimInfo | undefined> {
    const file = shimInfoPath(sandbox);
    try {
      const bytes = await readRegularFile(file, MAX_JSON_BYTES);
      if (bytes === undefined) return undefined;
      const shim = parseJson(file, bytes.toString('utf8'), ShimInfo);
      if (shim.executorId !== ref.executorId || shim.containerId !== ref.containerId) {
        throw new CheckpointCorruptError(file, undefined, `names executor ${show(shim.executorId)} run ${show(shim.containerId)}, not ${show(ref.executorId)} run ${show(ref.containerId)}`);
      }
      return shim;
    } catch (error) {
      this.#note(error, file, 'the run is identified by forked.json alone');
      return undefined;
    }
  }

  async #readOutbox(sandbox: string): Promise<LogRecord[] | undefined> {
    const file = outboxPath(sandbox);
    try {
      const bytes = await readRegularFile(file, MAX_LOG_BYTES);
      if (bytes === undefined) return undefined;
      // A torn tail is what an executor killed mid-append leaves: not worth a note.
      const contents = parseRecordLog(bytes, { file, strict: false });
      if (contents.corruption) {
        this.#note(new CheckpointCorruptError(file, contents.corruption.offset, contents.corruption.message), file, 'the records from this offset on are ignored');
      }
      return contents.records;
    } catch (error) {
      this.#note(error, file, 'the outbox is ignored');
      return undefined;
    }
  }
}
