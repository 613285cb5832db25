// The agent's side of recovery (DESIGN §5, §7) that needs no agent state: which process a recorded
// run names, whether the checkpointed agent.json still describes this agent, and what an executor
// left in its sandbox (shim.json, outbox.log). Executor-written files are untrusted: they are
// validated, must name the run they sit in, and a bad one counts as absent. Recovery and run ending
// read them through the same guarded reader (checkpoint/recover-sandbox.ts).
import { NEWER_FORMAT, readOutbox, readShim, sandboxDirsReal, type Note } from '../checkpoint/recover-sandbox.js';
import { ShimInfo } from '../checkpoint/shim-info.js';
import type { RecoveredRun } from '../checkpoint/state.js';
import { setTimeout as delay } from 'node:timers/promises';
import { isSameProcess, killGroup, terminateGroup, type ProcessIdentity } from '../process/index.js';
import type { AgentInfo, TaskStatus } from '../protocol/index.js';

/** A ShimInfo that names this run (an executor-written file claiming another run is ignored). */
export function shimOfRun(shim: ShimInfo | undefined, executorId: string, containerId: string): ShimInfo | undefined {
  return shim && shim.executorId === executorId && shim.containerId === containerId ? shim : undefined;
}

/**
 * The process a recorded run names: forked.json (written by the agent right after spawn), or, when
 * the agent died before writing it, shim.json's pid + start time (DESIGN §5).
 */
export function runIdentity(run: RecoveredRun, executorId: string): ProcessIdentity | undefined {
  if (run.forked) return run.forked;
  const shim = shimOfRun(run.shim, executorId, run.containerId);
  return shim && { pid: shim.pid, startTime: shim.startTime };
}

/** Alive and the same process (pid + start time, not a zombie); never after a reboot. */
export function runIsAlive(identity: ProcessIdentity | undefined, rebooted: boolean): boolean {
  return !rebooted && identity !== undefined && isSameProcess(identity);
}

/** Does the checkpointed agent.json describe this agent (hostname and resources)? */
export function sameAgentInfo(recorded: Pick<AgentInfo, 'hostname' | 'resources'>, current: Pick<AgentInfo, 'hostname' | 'resources'>): boolean {
  return (
    recorded.hostname === current.hostname &&
    recorded.resources.cpus === current.resources.cpus &&
    recorded.resources.mem === current.resources.mem &&
    recorded.resources.disk === current.resources.disk
  );
}

/** Where a refused executor-written file is reported: the file, what was wrong, what became of it. */
export type SandboxNote = Note;

const IGNORE: Note = () => {};

/**
 * The sandbox's .lifeline/shim.json as it is now, if valid and about this run. Read as recovery
 * reads it (recover-sandbox.ts: no link followed, no FIFO or device opened for a blocking read, a
 * size cap): a task can replace the file with anything. What is refused is reported to `note`.
 */
export async function readShimInfo(sandbox: string, executorId: string, containerId: string, note: Note = IGNORE): Promise<ShimInfo | undefined> {
  if (!(await sandboxDirsReal(sandbox, note))) return undefined;
  const shim = await readShim({ executorId, containerId }, sandbox, note);
  // A newer sandbox format (issue 11) is reported to `note` and not half-read.
  return shim === NEWER_FORMAT ? undefined : shim;
}

/**
 * The statuses in the sandbox's .lifeline/outbox.log as it is now, in order: what the executor
 * recorded before sending and the agent has not acknowledged. Read like readShimInfo; damage is
 * skipped (the intact prefix is used); a missing or refused file is empty.
 */
export async function readOutboxStatuses(sandbox: string, note: Note = IGNORE): Promise<TaskStatus[]> {
  if (!(await sandboxDirsReal(sandbox, note))) return [];
  const records = (await readOutbox(sandbox, note)) ?? [];
  // An update with an ACK record was acknowledged by this agent, so it is in its checkpoint: not
  // replayed (after a compaction of task.updates its uuid may be forgotten, and it would go again).
  const acked = new Set(records.flatMap((record) => (record.kind === 'ACK' ? [record.uuid] : [])));
  return records.flatMap((record) => (record.kind === 'UPDATE' && !acked.has(record.status.uuid) ? [record.status] : []));
}

/**
 * SIGKILLs the task process groups an executor recorded in shim.json, each only if its leader still
 * has the recorded start time (kill-group.ts: a group whose leader is gone cannot be identified and
 * is left alone). Returns the task IDs whose group was signalled.
 */
export function killTaskGroups(shim: ShimInfo | undefined): string[] {
  const killed: string[] = [];
  for (const task of shim?.tasks ?? []) {
    if (task.pgid <= 1) continue;
    try {
      if (killGroup({ pgid: task.pgid, leaderStartTime: task.startTime }, 'SIGKILL').signalled) killed.push(task.taskId);
    } catch {
      // an invalid group (pgid ≤ 1): refused
    }
  }
  return killed;
}

/**
 * Signals a recorded executor: its process group (the agent spawned it as a group leader) if the
 * leader still matches; else the process itself if it is still the recorded one (a shim.json
 * identity can name a process under the group's leader, e.g. a custom executor run by `sh -c`
 * without `exec`). Returns whether a signal was delivered.
 */
export function signalExecutor(identity: ProcessIdentity | undefined, signal: NodeJS.Signals): boolean {
  if (!identity || identity.pid <= 1) return false;
  try {
    if (killGroup({ pgid: identity.pid, leaderStartTime: identity.startTime }, signal).signalled) return true;
  } catch {
    // not a group we can identify
  }
  if (!isSameProcess(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs a recorded executor (its group, or itself; see signalExecutor). */
export function killExecutorGroup(identity: ProcessIdentity | undefined): boolean {
  return signalExecutor(identity, 'SIGKILL');
}

/**
 * SIGTERM to a recorded executor (and SIGCONT, so a stopped one can act on it), up to `graceMs` for
 * it to go, then SIGKILL. Resolves with the last signal sent (null: it was already gone).
 */
export async function terminateExecutor(identity: ProcessIdentity, graceMs: number, pollMs = 25): Promise<'SIGTERM' | 'SIGKILL' | null> {
  const group = { pgid: identity.pid, leaderStartTime: identity.startTime };
  const result = await terminateGroup(group, graceMs, { pollMs }).catch(() => undefined);
  if (result?.signal) return result.signal;
  // Not a group leader we can signal: the process alone.
  if (!signalExecutor(identity, 'SIGTERM')) return null;
  signalExecutor(identity, 'SIGCONT');
  const deadline = Date.now() + graceMs;
  while (isSameProcess(identity) && Date.now() < deadline) await delay(pollMs);
  if (!isSameProcess(identity)) return 'SIGTERM';
  signalExecutor(identity, 'SIGKILL');
  return 'SIGKILL';
}
