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
// Here: the walk of meta/ and what damage does; the guarded fs calls, the listings, the task logs and
// the sandbox files are in recover-fs.ts, recover-listings.ts, recover-logs.ts, recover-sandbox.ts.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidOptionError, isValidId, show } from '../protocol/index.js';
import { bootId as hostBootId } from '../process/index.js';
import { isTempFileName } from './atomic-write.js';
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
  runsDir,
  sandboxDir,
  sentinelPath,
  taskInfoPath,
  tasksDir,
  taskUpdatesPath,
  tokenHashPath,
  type ExecutorRef,
  type FrameworkRef,
  type RunRef,
  type TaskRef,
} from './layout.js';
import {
  article,
  asCorrupt,
  code,
  EMPTY,
  listDir,
  lstatKind,
  MAX_LOG_BYTES,
  MAX_SMALL_BYTES,
  readJsonFile,
  readRegularFile,
} from './recover-fs.js';
import { Listings } from './recover-listings.js';
import { readTaskLog } from './recover-logs.js';
import { NEWER_FORMAT, readOutbox, readShim, sandboxDirsReal } from './recover-sandbox.js';
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

/** How deep the search for stray temp files goes (the layout itself is 10 levels deep). */
const MAX_WALK_DEPTH = 32;

/** Lets the event loop run (HTTP requests, signals) between two executors of a long read. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
  readonly #listings = new Listings();
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
    const names = (await this.#unit(dir, 'every framework was skipped', async () => this.#listings.listDir(dir))) ?? EMPTY;
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
    let listing = this.#listings.cached(dir);
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
    const kind = this.#listings.kindAt(link);
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
    const targetKind = this.#listings.kindAt(childPath(dir, target));
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
    const kind = this.#listings.kindAt(file);
    if (kind === undefined) return false;
    if (kind !== 'directory') throw new CheckpointCorruptError(file, undefined, `expected the directory of ${field} ${name}, found ${article(kind)}`);
    return true;
  }

  async #readFramework(ref: FrameworkRef, dir: string, rebooted: boolean): Promise<RecoveredFramework | undefined> {
    if (!(await this.#checkEntry(dir, ref.frameworkId, 'frameworkId'))) return undefined;
    const file = frameworkInfoPath(this.#workDir, ref);
    const info = (await this.#listings.readJson(file, FrameworkFile, true))!;
    if (info.id !== ref.frameworkId) throw idMismatch(file, 'id', info.id, ref.frameworkId);
    const executors: RecoveredExecutor[] = [];
    const executorsPath = executorsDir(this.#workDir, ref);
    const names = (await this.#unit(executorsPath, `every executor of framework ${ref.frameworkId} was skipped`, async () => this.#listings.listDir(executorsPath))) ?? EMPTY;
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
    const { generated, ...info } = (await this.#listings.readJson(file, ExecutorFile, true))!;
    if (info.executorId !== ref.executorId) throw idMismatch(file, 'executorId', info.executorId, ref.executorId);
    if (info.frameworkId !== ref.frameworkId) throw idMismatch(file, 'frameworkId', info.frameworkId, ref.frameworkId);
    const runsPath = runsDir(this.#workDir, ref);
    const names = this.#listings.listDir(runsPath);
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
    const forked = await this.#listings.readJson(forkedPath(this.#workDir, ref), ForkedFile, false);
    const tokenFile = tokenHashPath(this.#workDir, ref);
    const tokenBytes = this.#listings.kindAt(tokenFile) === undefined ? undefined : await readRegularFile(tokenFile, MAX_SMALL_BYTES);
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
    const sentinelKind = this.#listings.kindAt(sentinel);
    if (sentinelKind !== undefined && sentinelKind !== 'file') {
      throw new CheckpointCorruptError(sentinel, undefined, `expected an empty file, found ${article(sentinelKind)}`);
    }
    const tasks: RecoveredTask[] = [];
    const tasksPath = tasksDir(this.#workDir, ref);
    for (const name of this.#listings.listDir(tasksPath).keys()) {
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
    // The sandbox is executor-written: untrusted, never fatal.
    const note = (error: unknown, file: string, consequence: string): void => this.#note(error, file, consequence);
    if (!(await sandboxDirsReal(sandbox, note))) return run;
    const shim = await readShim(ref, sandbox, note);
    if (shim === NEWER_FORMAT) return run;
    if (shim && !rebooted) run.shim = shim;
    const outbox = await readOutbox(sandbox, note);
    if (outbox) run.outbox = outbox;
    return run;
  }

  async #readTask(ref: TaskRef, dir: string): Promise<RecoveredTask | undefined> {
    if (!(await this.#checkEntry(dir, ref.taskId, 'taskId'))) return undefined;
    const infoFile = taskInfoPath(this.#workDir, ref);
    const info = taskInfoFromFile((await this.#listings.readJson(infoFile, TaskFile, true))!);
    if (info.taskId !== ref.taskId) throw idMismatch(infoFile, 'taskId', info.taskId, ref.taskId);
    const task: RecoveredTask = { id: ref.taskId, info, updates: [], acks: [] };
    const file = taskUpdatesPath(this.#workDir, ref);
    const bytes = await this.#unit(file, `task ${ref.taskId} is kept with no updates`, async () => {
      const read = this.#listings.kindAt(file) === undefined ? undefined : await readRegularFile(file, MAX_LOG_BYTES);
      if (read === undefined) throw new CheckpointCorruptError(file, undefined, 'missing (it is created with task.json)');
      return read;
    });
    if (bytes === undefined) return task;
    const log = readTaskLog(bytes, file, ref.taskId);
    if (log.corruption) {
      this.#damage(
        new CheckpointCorruptError(file, log.corruption.offset, log.corruption.message),
        `the records from offset ${log.corruption.offset} on are dropped; the log is to be truncated to ${log.validBytes} bytes`,
      );
      this.#repairs.push({ file, length: log.validBytes, reason: 'corruption' });
    } else if (log.tornTail) {
      this.#repairs.push({ file, length: log.validBytes, reason: 'torn-tail' });
    }
    task.acks.push(...log.acks);
    task.updates = log.updates;
    return task;
  }
}
