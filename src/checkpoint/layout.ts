// Where everything of the checkpoint lives (DESIGN §5), in one place, as pure path functions: every
// ID is checked before it becomes a path segment, so a hostile ID cannot escape the work dir.
// Plus the `latest` symlinks, replaced atomically (a temp symlink renamed over the old one).
import fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidIdError } from '../protocol/errors.js';
import { assertId } from '../protocol/ids.js';
import { syncDir, tempPathFor } from './atomic-write.js';
import { CheckpointCorruptError } from './errors.js';

export interface AgentRef {
  agentId: string;
}
export interface FrameworkRef extends AgentRef {
  frameworkId: string;
}
export interface ExecutorRef extends FrameworkRef {
  executorId: string;
}
export interface RunRef extends ExecutorRef {
  containerId: string;
}
export interface TaskRef extends RunRef {
  taskId: string;
}

export const LATEST = 'latest';

/**
 * One more segment under a directory that is already normalised: `metaDir` normalises the work dir
 * once and every segment below is a constant, a checked ID or a name read from a directory listing
 * (no `/`, no `..`), so plain concatenation gives what path.join would, without re-normalising the
 * whole chain on every call (recovery asks for tens of thousands of these paths).
 */
export function childPath(dir: string, segment: string): string {
  return `${dir}${path.sep}${segment}`;
}

// ---- meta/ ----

export function metaDir(workDir: string): string {
  return path.join(workDir, 'meta');
}

/** `meta/boot_id`: the host's boot id at the last recovery (text). */
export function bootIdPath(workDir: string): string {
  return childPath(metaDir(workDir), 'boot_id');
}

export function agentsDir(workDir: string): string {
  return childPath(metaDir(workDir), 'agents');
}

/** `meta/agents/latest` → `<agentId>`. */
export function latestAgentPath(workDir: string): string {
  return childPath(agentsDir(workDir), LATEST);
}

export function agentDir(workDir: string, { agentId }: AgentRef): string {
  return childPath(agentsDir(workDir), assertId('agentId', agentId));
}

export function agentInfoPath(workDir: string, ref: AgentRef): string {
  return childPath(agentDir(workDir, ref), 'agent.json');
}

export function frameworksDir(workDir: string, ref: AgentRef): string {
  return childPath(agentDir(workDir, ref), 'frameworks');
}

export function frameworkDir(workDir: string, ref: FrameworkRef): string {
  return childPath(frameworksDir(workDir, ref), assertId('frameworkId', ref.frameworkId));
}

export function frameworkInfoPath(workDir: string, ref: FrameworkRef): string {
  return childPath(frameworkDir(workDir, ref), 'framework.json');
}

export function executorsDir(workDir: string, ref: FrameworkRef): string {
  return childPath(frameworkDir(workDir, ref), 'executors');
}

export function executorDir(workDir: string, ref: ExecutorRef): string {
  return childPath(executorsDir(workDir, ref), assertId('executorId', ref.executorId));
}

export function executorInfoPath(workDir: string, ref: ExecutorRef): string {
  return childPath(executorDir(workDir, ref), 'executor.json');
}

export function runsDir(workDir: string, ref: ExecutorRef): string {
  return childPath(executorDir(workDir, ref), 'runs');
}

/** `runs/latest` → `<containerId>`. */
export function latestRunPath(workDir: string, ref: ExecutorRef): string {
  return childPath(runsDir(workDir, ref), LATEST);
}

export function runDir(workDir: string, ref: RunRef): string {
  return childPath(runsDir(workDir, ref), assertId('containerId', ref.containerId));
}

/** `forked.json`: `{pid, startTime}` of the executor process, written by the agent after spawn. */
export function forkedPath(workDir: string, ref: RunRef): string {
  return childPath(runDir(workDir, ref), 'forked.json');
}

/** `token.sha256`: hash of the run's executor token (mode 0600). */
export function tokenHashPath(workDir: string, ref: RunRef): string {
  return childPath(runDir(workDir, ref), 'token.sha256');
}

/** `executor.sentinel`: empty; present once the run has completed. */
export function sentinelPath(workDir: string, ref: RunRef): string {
  return childPath(runDir(workDir, ref), 'executor.sentinel');
}

export function tasksDir(workDir: string, ref: RunRef): string {
  return childPath(runDir(workDir, ref), 'tasks');
}

export function taskDir(workDir: string, ref: TaskRef): string {
  return childPath(tasksDir(workDir, ref), assertId('taskId', ref.taskId));
}

/** `task.json`: the TaskInfo as launched. */
export function taskInfoPath(workDir: string, ref: TaskRef): string {
  return childPath(taskDir(workDir, ref), 'task.json');
}

/** `task.updates`: record log of the task's UPDATE and ACK records. */
export function taskUpdatesPath(workDir: string, ref: TaskRef): string {
  return childPath(taskDir(workDir, ref), 'task.updates');
}

// ---- sandboxes/ ----

export function sandboxesDir(workDir: string): string {
  return path.join(workDir, 'sandboxes');
}

/** `sandboxes/<agentId>/frameworks/<fid>/executors/<eid>/runs/<cid>`: the executor's cwd. */
export function sandboxDir(workDir: string, ref: RunRef): string {
  return path.join(
    sandboxesDir(workDir),
    assertId('agentId', ref.agentId),
    'frameworks',
    assertId('frameworkId', ref.frameworkId),
    'executors',
    assertId('executorId', ref.executorId),
    'runs',
    assertId('containerId', ref.containerId),
  );
}

export function stdoutPath(sandbox: string): string {
  return path.join(sandbox, 'stdout');
}

export function stderrPath(sandbox: string): string {
  return path.join(sandbox, 'stderr');
}

/** `<sandbox>/.lifeline`: the executor's own state (the executor knows its sandbox, not the work dir). */
export function shimStateDir(sandbox: string): string {
  return path.join(sandbox, '.lifeline');
}

/** `<sandbox>/.lifeline/shim.json`: the executor's identity, written atomically by the executor. */
export function shimInfoPath(sandbox: string): string {
  return path.join(shimStateDir(sandbox), 'shim.json');
}

/** `<sandbox>/.lifeline/outbox.log`: record log of the executor's updates and the agent's acks. */
export function outboxPath(sandbox: string): string {
  return path.join(shimStateDir(sandbox), 'outbox.log');
}

// ---- latest symlinks ----

/**
 * Points the `latest` symlink at `link` to the sibling `id` (a relative target), atomically: a temp
 * symlink renamed over the old one, then the directory fsynced.
 */
export async function writeLatestSymlink(link: string, id: string): Promise<void> {
  assertId('latest target', id);
  const temp = tempPathFor(link);
  await fsp.symlink(id, temp);
  try {
    await fsp.rename(temp, link);
  } catch (error) {
    await fsp.rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await syncDir(path.dirname(link));
}

/**
 * The ID a `latest` symlink points to, or undefined when there is none. A target that is not a
 * plain ID (the link was not written by us) is corruption.
 */
export async function readLatestSymlink(link: string): Promise<string | undefined> {
  let target: string;
  try {
    target = await fsp.readlink(link);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EINVAL') throw new CheckpointCorruptError(link, undefined, 'expected a symlink to an ID, found a file or directory', { cause: error });
    throw error;
  }
  try {
    return assertId('latest target', target);
  } catch (error) {
    if (!(error instanceof InvalidIdError)) throw error;
    throw new CheckpointCorruptError(link, undefined, error.message, { cause: error });
  }
}

/** Removes a `latest` symlink durably (the agent starts afresh next time). Missing is fine. */
export async function removeLatestSymlink(link: string): Promise<void> {
  try {
    await fsp.unlink(link);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await syncDir(path.dirname(link));
}
