// The agent's checkpoint writer (DESIGN §5): every file of meta/ written so that a crash at any
// moment leaves something recoverState() can read. JSON files are atomic; a directory appears
// together with its info file (built under a temp name, then renamed into place), so a directory
// without its framework.json / executor.json / task.json is damage, never a crash window. Status
// updates go to one open record log per task (task-logs.ts), through a GroupCommitter (group
// commit by default).
import fsp from 'node:fs/promises';
import path from 'node:path';
import { IllegalStateError, InvalidOptionError, validate, type AgentInfo, type ExecutorInfo, type FrameworkInfo, type TaskInfo } from '../protocol/index.js';
import type { ProcessIdentity } from '../process/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { isTempFileName, makeDirDurable, syncDir, writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { createDirWith, createEmptyFile, errorCode, exists, removeDirAtomically } from './durable-dirs.js';
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
import type { GroupCommitStats } from './group-commit.js';
import { encodeCheckedRecord } from './record-frame.js';
import { repairRecordLog } from './record-log-read.js';
import { checkRecord, type LogRecord } from './records.js';
import type { LogRepair } from './state.js';
import { TaskLogs } from './task-logs.js';
import { DiskHealth } from './disk-health.js';
import { COMPACT_AT_BYTES } from './compaction.js';

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
  /** Where failing task.updates files are tracked (one is made if not given). */
  diskHealth?: DiskHealth;
  /** A task.updates is compacted (compaction.ts) once it is this big. Default 1 MiB. */
  compactAtBytes?: number;
}

export interface CheckpointerStats extends GroupCommitStats {
  /** task.updates files open right now. */
  openLogs: number;
  /** task.updates compactions done. */
  compactions: number;
  /** Of those, the ones written from what was tracked in memory (not read back from the file). */
  compactionsFromMemory: number;
}

export type CheckpointerState = 'OPEN' | 'CLOSED';
const TRANSITIONS: Transitions<CheckpointerState> = {
  OPEN: ['CLOSED'],
  CLOSED: [],
};

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
  readonly #machine = new StateMachine<CheckpointerState>('checkpointer', 'OPEN', TRANSITIONS);
  #batching: boolean;
  readonly #logs: TaskLogs;
  /** appendRecords calls not settled yet: close() lets them finish. */
  #appending = new Set<Promise<void>>();
  /** Per-executor chains: creating runs and removing them do not interleave. */
  #locks = new Map<string, Promise<unknown>>();
  /** task.updates paths already made, by the TaskRef they were made for (see #updatesPath). */
  readonly #updatesPaths = new WeakMap<TaskRef, { ref: TaskRef; file: string }>();
  /** Executors checkpointed for a run that checkpointRun has not created yet: gc keeps their directory. */
  #awaitingRun = new Set<string>();

  constructor(options: CheckpointerOptions) {
    const { workDir, batching = true, maxOpenLogs = 256, diskHealth = new DiskHealth(), compactAtBytes = COMPACT_AT_BYTES } = options ?? ({} as CheckpointerOptions);
    if (!Number.isSafeInteger(compactAtBytes) || compactAtBytes < 1) throw new InvalidOptionError('compactAtBytes', compactAtBytes, 'a positive integer');
    if (typeof workDir !== 'string' || workDir.length === 0) throw new InvalidOptionError('workDir', workDir, 'a non-empty path');
    if (typeof batching !== 'boolean') throw new InvalidOptionError('batching', batching, 'a boolean');
    if (!Number.isSafeInteger(maxOpenLogs) || maxOpenLogs < 1) throw new InvalidOptionError('maxOpenLogs', maxOpenLogs, 'a positive integer');
    this.workDir = path.resolve(workDir);
    this.#batching = batching;
    this.#logs = new TaskLogs(this.workDir, { batching, maxOpenLogs, health: diskHealth, compactAtBytes });
  }

  /** Which task.updates files are failing (full disk, I/O error) and waiting out their backoff. */
  get diskHealth(): DiskHealth {
    return this.#logs.health;
  }

  get state(): CheckpointerState {
    return this.#machine.state;
  }

  get batching(): boolean {
    return this.#batching;
  }

  /** Batches, fdatasyncs and records committed so far, and the logs open now. */
  get stats(): CheckpointerStats {
    return { ...this.#logs.stats, openLogs: this.#logs.openLogs, compactions: this.#logs.compactions, compactionsFromMemory: this.#logs.compactionsFromMemory };
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
    await this.#logs.open(ref);
  }

  /**
   * Appends UPDATE/ACK records to the tasks' task.updates; resolves once every UPDATE is durable
   * (fdatasync'd) and every ACK written (an ACK is not synced on its own: the file's next sync
   * covers it, task-logs.ts). With batching, the records of one event-loop turn (across every call
   * and every task) share one fdatasync per file. An invalid record rejects the call before
   * anything is written.
   */
  appendRecords(entries: ReadonlyArray<{ ref: TaskRef; record: LogRecord }>): Promise<void> {
    return this.appendRecordsSettled(entries).then((failures) => {
      const failure = failures.find((error) => error !== undefined);
      if (failure !== undefined) throw failure;
    });
  }

  /**
   * A task's task.updates path, made once per TaskRef object and not per record: making it checks
   * every ID and joins the path, which was a tenth of what the agent allocated on the update path
   * (a sampling heap profile of bench-updates). The agent passes each task's same ref; a ref whose
   * IDs have changed since gets its path made again.
   */
  #updatesPath(ref: TaskRef): string {
    const known = this.#updatesPaths.get(ref);
    if (
      known &&
      known.ref.taskId === ref.taskId &&
      known.ref.containerId === ref.containerId &&
      known.ref.executorId === ref.executorId &&
      known.ref.frameworkId === ref.frameworkId &&
      known.ref.agentId === ref.agentId
    ) {
      return known.file;
    }
    const file = taskUpdatesPath(this.workDir, ref);
    const { agentId, frameworkId, executorId, containerId, taskId } = ref;
    this.#updatesPaths.set(ref, { ref: { agentId, frameworkId, executorId, containerId, taskId }, file });
    return file;
  }

  /**
   * appendRecords, saying for each entry (same order) whether it is durable: undefined, or the
   * error of its file (a DiskError when the disk failed). A failing file refuses only its own
   * records. An invalid entry still rejects the call before anything is written.
   */
  appendRecordsSettled(entries: ReadonlyArray<{ ref: TaskRef; record: LogRecord }>): Promise<unknown[]> {
    const groups = new Map<string, { ref: TaskRef; records: LogRecord[]; file: string; frames: Buffer[] }>();
    const groupOf: string[] = [];
    try {
      this.#check('append records');
      if (!Array.isArray(entries)) throw new InvalidOptionError('entries', entries, 'an array of {ref, record}');
      for (const { ref, record } of entries) {
        const checked = checkRecord(record);
        if (checked.kind === 'UPDATE' && checked.status.taskId !== ref.taskId) throw mismatch('status.taskId', checked.status.taskId, ref.taskId);
        const file = this.#updatesPath(ref);
        // Framed from the checked record here: checked once, not again on its way to the file.
        const frame = encodeCheckedRecord(checked);
        const group = groups.get(file);
        if (group) {
          group.records.push(checked);
          group.frames.push(frame);
        } else groups.set(file, { ref, records: [checked], file, frames: [frame] });
        groupOf.push(file);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (groups.size === 0) return Promise.resolve([]);
    const files = [...groups.keys()];
    const appended = this.#logs.appendSettled([...groups.values()]).then((results) => {
      const failure = new Map(files.map((file, index) => [file, results[index]!.status === 'rejected' ? (results[index] as PromiseRejectedResult).reason : undefined]));
      return groupOf.map((file) => failure.get(file));
    });
    const tracked = appended.then(() => {}).finally(() => this.#appending.delete(tracked));
    this.#appending.add(tracked);
    return appended;
  }

  /** `executor.sentinel`: the run has completed. Its task logs are closed (reopened if appended to). */
  async markCompleted(ref: RunRef): Promise<void> {
    this.#check('mark a run completed');
    const dir = runDir(this.workDir, ref);
    await this.#requireParent(dir, `run ${ref.containerId}`, 'its executor.sentinel');
    await writeFileAtomic(sentinelPath(this.workDir, ref), '');
    await this.#logs.closeRun(dir);
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
      await this.#logs.closeLog(file);
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
      await this.#logs.closeRun(dir);
      for (const file of this.diskHealth.failingFiles) if (file.startsWith(`${dir}${path.sep}`)) this.diskHealth.forget(file);
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
    if (this.#machine.is('CLOSED')) {
      await this.#logs.closed();
      return;
    }
    this.#machine.transition('CLOSED');
    await Promise.all([...this.#appending]);
    await this.#logs.idle();
    await this.#logs.closeAll();
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
    if (!this.#machine.is('OPEN')) throw new IllegalStateError(`cannot ${action}: the checkpointer is ${this.#machine.state}`);
  }
}
