// The agent's checkpoint writer (DESIGN §5): every file of meta/ written so that a crash at any
// moment leaves something recoverState() can read. JSON files are atomic; a directory appears
// together with its info file (built under a temp name, then renamed into place), so a directory
// without its framework.json / executor.json / task.json is damage, never a crash window. Status
// updates go to one open record log per task, through a GroupCommitter (group commit by default).
import fsp from 'node:fs/promises';
import path from 'node:path';
import { IllegalStateError, InvalidOptionError, validate, type AgentInfo, type ExecutorInfo, type FrameworkInfo, type TaskInfo } from '../protocol/index.js';
import type { ProcessIdentity } from '../process/index.js';
import { isTempFileName, makeDirDurable, syncDir, tempPathFor, writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { AgentFile, BOOT_ID_PATTERN, ExecutorFile, ForkedFile, FrameworkFile, taskFileValue, TOKEN_HASH_PATTERN } from './files.js';
import {
  agentDir,
  agentInfoPath,
  agentsDir,
  bootIdPath,
  executorDir,
  executorInfoPath,
  executorsDir,
  forkedPath,
  frameworkDir,
  frameworkInfoPath,
  frameworksDir,
  latestAgentPath,
  latestRunPath,
  metaDir,
  removeLatestSymlink,
  runDir,
  runsDir,
  sandboxDir,
  sentinelPath,
  taskDir,
  taskInfoPath,
  tasksDir,
  taskUpdatesPath,
  tokenHashPath,
  writeLatestSymlink,
  type AgentRef,
  type FrameworkRef,
  type RunRef,
  type TaskRef,
} from './layout.js';
import { GroupCommitter, RecordLog, repairRecordLog, type GroupCommitStats } from './record-log.js';
import { checkRecord, type LogRecord } from './records.js';
import type { LogRepair } from './state.js';

export interface CheckpointerOptions {
  /** The agent's `--work_dir`. */
  workDir: string;
  /** true (default): group commit. false: one fdatasync per record (the benchmark's baseline). */
  batching?: boolean;
  /**
   * At most this many task.updates files are kept open (least recently used ones are closed when
   * idle and reopened on the next append). Default 256.
   */
  maxOpenLogs?: number;
}

export interface CheckpointerStats extends GroupCommitStats {
  /** task.updates files open right now. */
  openLogs: number;
}

type CheckpointerState = 'OPEN' | 'CLOSED';
const TRANSITIONS: Readonly<Record<CheckpointerState, readonly CheckpointerState[]>> = {
  OPEN: ['CLOSED'],
  CLOSED: [],
};

/** One task.updates file, open (or opening) for appending. */
interface LogEntry {
  file: string;
  /** runDir of the task's run: markCompleted and gc close a run's logs. */
  run: string;
  opening: Promise<RecordLog>;
  log?: RecordLog;
  /** appendRecords calls using it right now: an entry is only closed when idle. */
  users: number;
  closeWhenIdle: boolean;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

async function exists(file: string): Promise<boolean> {
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
async function createDirWith(dir: string, populate: (temp: string) => Promise<void>): Promise<boolean> {
  if (await exists(dir)) return false;
  const temp = tempPathFor(dir);
  await fsp.mkdir(temp);
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
async function removeDirAtomically(dir: string): Promise<void> {
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

async function createEmptyFile(file: string): Promise<void> {
  const handle = await fsp.open(file, 'wx');
  await handle.close();
}

function mismatch(field: string, value: unknown, expected: string): InvalidOptionError {
  return new InvalidOptionError(field, value, `${JSON.stringify(expected)} (the ID of the ref it is checkpointed under)`);
}

/**
 * Writes the agent's checkpoint under `<workDir>/meta` (DESIGN §5). Every method resolves once what
 * it wrote is durable. Parents first: the agent before its frameworks, a framework before its
 * executors, an executor before its runs, a run before its tasks (each refuses otherwise, naming
 * the missing parent). Call checkpointExecutor again before each new run of an executor.
 */
export class Checkpointer {
  readonly workDir: string;
  #state: CheckpointerState = 'OPEN';
  #batching: boolean;
  #maxOpenLogs: number;
  #committer: GroupCommitter;
  /** task.updates path → entry, least recently used first. */
  #logs = new Map<string, LogEntry>();
  #closing = new Set<Promise<void>>();
  /** appendRecords calls not settled yet: close() lets them finish. */
  #appending = new Set<Promise<void>>();
  /** Per-executor chains: creating runs and removing them do not interleave. */
  #locks = new Map<string, Promise<unknown>>();
  /** Executors checkpointed for a run that checkpointRun has not created yet: gc keeps their directory. */
  #awaitingRun = new Set<string>();

  constructor(options: CheckpointerOptions) {
    const { workDir, batching = true, maxOpenLogs = 256 } = options ?? ({} as CheckpointerOptions);
    if (typeof workDir !== 'string' || workDir.length === 0) throw new InvalidOptionError('workDir', workDir, 'a non-empty path');
    if (typeof batching !== 'boolean') throw new InvalidOptionError('batching', batching, 'a boolean');
    if (!Number.isSafeInteger(maxOpenLogs) || maxOpenLogs < 1) throw new InvalidOptionError('maxOpenLogs', maxOpenLogs, 'a positive integer');
    this.workDir = path.resolve(workDir);
    this.#batching = batching;
    this.#maxOpenLogs = maxOpenLogs;
    this.#committer = new GroupCommitter({ batching });
  }

  get state(): CheckpointerState {
    return this.#state;
  }

  get batching(): boolean {
    return this.#batching;
  }

  /** Batches, fdatasyncs and records committed so far, and the logs open now. */
  get stats(): CheckpointerStats {
    return { ...this.#committer.stats, openLogs: this.#logs.size };
  }

  /** `meta/boot_id`: the host's boot id, written at every recovery. */
  async writeBootId(bootId: string): Promise<void> {
    this.#check('write the boot id');
    if (typeof bootId !== 'string' || !BOOT_ID_PATTERN.test(bootId)) throw new InvalidOptionError('bootId', bootId, `a boot id matching ${BOOT_ID_PATTERN}`);
    await makeDirDurable(metaDir(this.workDir));
    await writeFileAtomic(bootIdPath(this.workDir), `${bootId}\n`);
  }

  /** `agents/<id>/agent.json`, then `agents/latest -> <id>`. */
  async checkpointAgent(info: AgentInfo & { id: string }): Promise<void> {
    this.#check('checkpoint the agent');
    const value = validate(AgentFile, info, 'agent.json');
    const ref: AgentRef = { agentId: value.id };
    await makeDirDurable(agentsDir(this.workDir));
    await this.#writeInfo(agentDir(this.workDir, ref), 'agent.json', value);
    await writeLatestSymlink(latestAgentPath(this.workDir), value.id);
  }

  /** Removes `agents/latest`: the next start is a new agent (missing is fine). */
  async removeLatestAgent(): Promise<void> {
    this.#check('remove the latest agent');
    await removeLatestSymlink(latestAgentPath(this.workDir));
  }

  /** `frameworks/<id>/framework.json`. */
  async checkpointFramework(ref: AgentRef, info: FrameworkInfo & { id: string }): Promise<void> {
    this.#check('checkpoint a framework');
    const value = validate(FrameworkFile, info, 'framework.json');
    const frameworkRef: FrameworkRef = { agentId: ref.agentId, frameworkId: value.id };
    frameworkDir(this.workDir, frameworkRef); // validates the IDs before anything is touched
    await this.#requireParent(agentInfoPath(this.workDir, ref), `agent ${ref.agentId}`, 'its frameworks');
    await makeDirDurable(frameworksDir(this.workDir, ref));
    await this.#writeInfo(frameworkDir(this.workDir, frameworkRef), 'framework.json', value);
  }

  /** `executors/<id>/executor.json`: ExecutorInfo + `generated` (a command task's `lifeline shim`). */
  async checkpointExecutor(ref: FrameworkRef & { executorId: string }, info: ExecutorInfo, options: { generated: boolean }): Promise<void> {
    this.#check('checkpoint an executor');
    const generated = options?.generated;
    if (typeof generated !== 'boolean') throw new InvalidOptionError('generated', generated, 'a boolean');
    const dir = executorDir(this.workDir, ref);
    const value = validate(ExecutorFile, { ...info, generated }, 'executor.json');
    if (value.executorId !== ref.executorId) throw mismatch('executorId', value.executorId, ref.executorId);
    if (value.frameworkId !== ref.frameworkId) throw mismatch('frameworkId', value.frameworkId, ref.frameworkId);
    await this.#withLock(dir, async () => {
      await this.#requireParent(frameworkInfoPath(this.workDir, ref), `framework ${ref.frameworkId}`, 'its executors');
      await makeDirDurable(executorsDir(this.workDir, ref));
      await this.#writeInfo(dir, 'executor.json', value);
      this.#awaitingRun.add(dir);
    });
  }

  /** `runs/<containerId>/token.sha256` (mode 0600), then `runs/latest -> <containerId>`. */
  async checkpointRun(ref: RunRef, options: { tokenHash: string }): Promise<void> {
    this.#check('checkpoint a run');
    const tokenHash = options?.tokenHash;
    if (typeof tokenHash !== 'string' || !TOKEN_HASH_PATTERN.test(tokenHash)) {
      throw new InvalidOptionError('tokenHash', tokenHash, 'a SHA-256 as 64 lowercase hex digits');
    }
    const dir = runDir(this.workDir, ref);
    const executor = executorDir(this.workDir, ref);
    const data = `${tokenHash}\n`;
    await this.#withLock(executor, async () => {
      await this.#requireParent(executorInfoPath(this.workDir, ref), `executor ${ref.executorId}`, 'its runs');
      await makeDirDurable(runsDir(this.workDir, ref));
      const created = await createDirWith(dir, (temp) => writeFileAtomic(path.join(temp, 'token.sha256'), data, { mode: 0o600 }));
      if (!created) await writeFileAtomic(tokenHashPath(this.workDir, ref), data, { mode: 0o600 });
      await writeLatestSymlink(latestRunPath(this.workDir, ref), ref.containerId);
      this.#awaitingRun.delete(executor);
    });
  }

  /** `forked.json`: `{pid, startTime}` of the executor process, written right after spawn. */
  async checkpointForked(ref: RunRef, identity: ProcessIdentity): Promise<void> {
    this.#check('checkpoint a forked executor');
    const value = validate(ForkedFile, identity, 'forked.json');
    const file = forkedPath(this.workDir, ref);
    await this.#requireParent(runDir(this.workDir, ref), `run ${ref.containerId}`, 'its forked.json');
    await writeJsonAtomic(file, { pid: value.pid, startTime: value.startTime });
  }

  /**
   * `tasks/<taskId>/task.json` and an empty `task.updates`, appearing together and durably. Call it
   * before the task is launched; the task's log stays open for appendRecords.
   */
  async checkpointTask(ref: TaskRef, info: TaskInfo): Promise<void> {
    this.#check('checkpoint a task');
    const dir = taskDir(this.workDir, ref);
    const value = taskFileValue(info);
    if (value.taskId !== ref.taskId) throw mismatch('taskId', value.taskId, ref.taskId);
    await this.#requireParent(runDir(this.workDir, ref), `run ${ref.containerId}`, 'its tasks');
    await makeDirDurable(tasksDir(this.workDir, ref));
    const created = await createDirWith(dir, async (temp) => {
      await writeJsonAtomic(path.join(temp, 'task.json'), value);
      await createEmptyFile(path.join(temp, 'task.updates'));
    });
    if (!created) await writeJsonAtomic(taskInfoPath(this.workDir, ref), value);
    // Open the log now (creating it if an older task dir lacks it), so the first append is fast.
    const entry = this.#acquire(ref);
    try {
      await entry.opening;
    } finally {
      this.#release(entry);
    }
  }

  /**
   * Appends UPDATE/ACK records to the tasks' task.updates; resolves once every one of them is
   * durable (fdatasync'd). With batching, the records of one event-loop turn (across every call
   * and every task) share one fdatasync per file. An invalid record rejects the call before
   * anything is written.
   */
  appendRecords(entries: ReadonlyArray<{ ref: TaskRef; record: LogRecord }>): Promise<void> {
    const groups = new Map<string, { ref: TaskRef; records: LogRecord[] }>();
    try {
      this.#check('append records');
      if (!Array.isArray(entries)) throw new InvalidOptionError('entries', entries, 'an array of {ref, record}');
      for (const { ref, record } of entries) {
        const checked = checkRecord(record);
        if (checked.kind === 'UPDATE' && checked.status.taskId !== ref.taskId) throw mismatch('status.taskId', checked.status.taskId, ref.taskId);
        const file = taskUpdatesPath(this.workDir, ref);
        const group = groups.get(file);
        if (group) group.records.push(record);
        else groups.set(file, { ref, records: [record] });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (groups.size === 0) return Promise.resolve();
    const appended = this.#batching ? this.#appendBatched([...groups.values()]) : this.#appendOneByOne([...groups.values()]);
    const tracked = appended.catch(() => {}).finally(() => this.#appending.delete(tracked));
    this.#appending.add(tracked);
    return appended;
  }

  // Appends are handed to the committer synchronously when the logs are open, so that every
  // record of this turn lands in the same batch.
  #appendBatched(groups: Array<{ ref: TaskRef; records: LogRecord[] }>): Promise<void> {
    const appends = groups.map(({ ref, records }) => {
      const entry = this.#acquire(ref);
      const appended = entry.log ? this.#committer.append(entry.log, records) : entry.opening.then((log) => this.#committer.append(log, records));
      return appended.finally(() => this.#release(entry));
    });
    return Promise.all(appends).then(() => undefined);
  }

  // The baseline: every record appended and fdatasync'd on its own, in order.
  async #appendOneByOne(groups: Array<{ ref: TaskRef; records: LogRecord[] }>): Promise<void> {
    for (const { ref, records } of groups) {
      const entry = this.#acquire(ref);
      try {
        const log = await entry.opening;
        // Queued together (each written and synced on its own): a later call cannot cut in.
        await Promise.all(records.map((record) => this.#committer.append(log, record)));
      } finally {
        this.#release(entry);
      }
    }
  }

  /** `executor.sentinel`: the run has completed. Its task logs are closed (reopened if appended to). */
  async markCompleted(ref: RunRef): Promise<void> {
    this.#check('mark a run completed');
    const dir = runDir(this.workDir, ref);
    await this.#requireParent(dir, `run ${ref.containerId}`, 'its executor.sentinel');
    await writeFileAtomic(sentinelPath(this.workDir, ref), '');
    await this.#closeRunLogs(dir);
  }

  /**
   * Truncates task.updates files as recovery said (torn tails; damage in non-strict mode). Apply
   * them before anything is appended to those logs again.
   */
  async applyRepairs(repairs: readonly LogRepair[]): Promise<void> {
    this.#check('apply repairs');
    for (const repair of repairs) {
      const file = this.#insideMeta(repair?.file, 'repair.file');
      if (path.basename(file) !== 'task.updates') throw new InvalidOptionError('repair.file', repair.file, 'a task.updates file');
      await this.#closeLog(file);
      try {
        await repairRecordLog(file, repair.length);
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
  }

  /** Removes stray temp files and directories listed by recovery (only temp names under meta/). */
  async removeStrayTempFiles(files: readonly string[]): Promise<void> {
    this.#check('remove stray temp files');
    const dirs = new Set<string>();
    for (const name of files) {
      const file = this.#insideMeta(name, 'file');
      if (!isTempFileName(path.basename(file))) throw new InvalidOptionError('file', name, 'a temp file name (.<name>.tmp-<12 hex>)');
      await fsp.rm(file, { recursive: true, force: true });
      dirs.add(path.dirname(file));
    }
    for (const dir of dirs) await syncDir(dir).catch(() => {});
  }

  /**
   * Removes a run's meta directory and its sandbox (after gc_delay). When `runs/latest` named it,
   * the link goes too; when it was the executor's last run, so does the executor's directory.
   */
  async gc(ref: RunRef): Promise<void> {
    this.#check('garbage collect a run');
    const dir = runDir(this.workDir, ref);
    const sandbox = sandboxDir(this.workDir, ref);
    const executor = executorDir(this.workDir, ref);
    await this.#withLock(executor, async () => {
      await this.#closeRunLogs(dir);
      const latest = latestRunPath(this.workDir, ref);
      const target = await fsp.readlink(latest).catch(() => undefined);
      if (target === ref.containerId) await removeLatestSymlink(latest);
      // The sandbox first: the meta directory is what lets a restarted agent find (and gc) it.
      await fsp.rm(sandbox, { recursive: true, force: true });
      await removeDirAtomically(dir);
      if (this.#awaitingRun.has(executor)) return;
      const remaining = await fsp.readdir(runsDir(this.workDir, ref)).catch(() => [] as string[]);
      if (remaining.some((name) => !isTempFileName(name))) return;
      await removeDirAtomically(executor);
      // sandboxes/<a>/frameworks/<f>/executors/<e>: the parent of runs/<cid>.
      const sandboxExecutor = path.dirname(path.dirname(sandbox));
      const sandboxRuns = await fsp.readdir(path.join(sandboxExecutor, 'runs')).catch(() => [] as string[]);
      if (sandboxRuns.length === 0) await fsp.rm(sandboxExecutor, { recursive: true, force: true });
    });
  }

  /** Closes every open log (after pending appends are committed). Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'CLOSED') {
      await Promise.all([...this.#closing]);
      return;
    }
    this.#transition('CLOSED');
    await Promise.all([...this.#appending]);
    await this.#committer.idle();
    for (const entry of [...this.#logs.values()]) this.#evict(entry);
    await Promise.all([...this.#closing]);
  }

  // ---- internals ----

  async #writeInfo(dir: string, name: string, value: unknown): Promise<void> {
    const created = await createDirWith(dir, (temp) => writeJsonAtomic(path.join(temp, name), value));
    if (!created) await writeJsonAtomic(path.join(dir, name), value);
  }

  async #requireParent(file: string, what: string, child: string): Promise<void> {
    if (!(await exists(file))) throw new IllegalStateError(`cannot checkpoint ${child} before ${what} is checkpointed (${file} is missing)`);
  }

  #insideMeta(file: unknown, field: string): string {
    if (typeof file !== 'string') throw new InvalidOptionError(field, file, 'a path');
    const resolved = path.resolve(file);
    const relative = path.relative(metaDir(this.workDir), resolved);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new InvalidOptionError(field, file, `a path inside ${metaDir(this.workDir)}`);
    }
    return resolved;
  }

  #acquire(ref: TaskRef): LogEntry {
    const file = taskUpdatesPath(this.workDir, ref);
    let entry = this.#logs.get(file);
    if (entry) {
      this.#logs.delete(file); // re-inserted below: most recently used last
      entry.closeWhenIdle = false;
    } else {
      const created: LogEntry = { file, run: runDir(this.workDir, ref), opening: RecordLog.open(file), users: 0, closeWhenIdle: false };
      created.opening.then(
        (log) => {
          created.log = log;
        },
        () => {
          if (this.#logs.get(file) === created) this.#logs.delete(file);
        },
      );
      entry = created;
    }
    this.#logs.set(file, entry);
    entry.users += 1;
    return entry;
  }

  #release(entry: LogEntry): void {
    entry.users -= 1;
    if (entry.users > 0) return;
    if (entry.closeWhenIdle) this.#evict(entry);
    // Over the cap: close the least recently used idle logs.
    if (this.#logs.size > this.#maxOpenLogs) {
      for (const candidate of [...this.#logs.values()]) {
        if (this.#logs.size <= this.#maxOpenLogs) break;
        if (candidate.users === 0) this.#evict(candidate);
      }
    }
  }

  #evict(entry: LogEntry): void {
    if (this.#logs.get(entry.file) === entry) this.#logs.delete(entry.file);
    const closing = entry.opening.then(
      (log) => log.close(),
      () => {},
    );
    const tracked = closing.catch(() => {}).finally(() => this.#closing.delete(tracked));
    this.#closing.add(tracked);
  }

  async #closeLog(file: string): Promise<void> {
    const entry = this.#logs.get(file);
    if (!entry) return;
    if (entry.users > 0) throw new IllegalStateError(`cannot repair ${file} while records are being appended to it`);
    this.#evict(entry);
    await Promise.all([...this.#closing]);
  }

  async #closeRunLogs(run: string): Promise<void> {
    for (const entry of [...this.#logs.values()]) {
      if (entry.run !== run) continue;
      if (entry.users === 0) this.#evict(entry);
      else entry.closeWhenIdle = true;
    }
    await Promise.all([...this.#closing]);
  }

  async #withLock<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.then(operation, operation);
    const settled = run.catch(() => {});
    this.#locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }

  #check(action: string): void {
    if (this.#state !== 'OPEN') throw new IllegalStateError(`cannot ${action}: the checkpointer is ${this.#state}`);
  }

  #transition(to: CheckpointerState): void {
    if (!TRANSITIONS[this.#state].includes(to)) throw new IllegalStateError(`checkpointer cannot go from ${this.#state} to ${to}`);
    this.#state = to;
  }
}
