// Killing a task's process group without ever hitting someone else's (DESIGN §5). The pgid comes
// from files we do not trust (shim.json is written by the executor), and pids are reused, so a
// group is signalled only when we can identify it:
// - pgid ≤ 1 is refused outright (kill(0) and kill(-1) would signal our own group or everything).
// - The group's leader (pid = pgid) is alive, or a zombie, with the recorded start time: the group
//   is ours. A zombie leader still holds its pid, so no other group can have that pgid.
// - The leader's pid belongs to a process with another start time: the group is not ours. Refused.
// - The leader is gone (reaped): its remaining members may still be ours, since Linux does not
//   reuse a pid while any process still has it as its pgid. But if our group emptied completely,
//   the pid may have been reused by a new process that made a group of its own and exited, and
//   we cannot tell the two apart. Like Mesos, we trust only what we can identify: refused by
//   default. A caller that knows the group was non-empty until just now (the leader's parent,
//   right after the leader exited) can pass `orphans: true` to signal the leftovers.
// terminateGroup keeps watching the group after SIGTERM: while it never empties the pgid cannot
// be reused, so the SIGKILL after the grace period needs no leader.
import { setTimeout as delay } from 'node:timers/promises';
import * as v from 'valibot';
import { InvalidOptionError } from '../protocol/errors.js';
import { isDeadState, listProcesses, readProcStat, type ProcStat } from './proc-stat.js';

/** A process group as recorded: its id and its leader's start time. */
export const GroupIdentity = v.object({
  pgid: v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(2 ** 22)),
  leaderStartTime: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
});
export type GroupIdentity = v.InferOutput<typeof GroupIdentity>;

/** What was found at the leader's pid: `alive` or `zombie` (ours), `replaced` (not ours), `exited`. */
export type LeaderState = 'alive' | 'zombie' | 'replaced' | 'exited';

export interface KillGroupResult {
  /** A signal was delivered to the group. */
  signalled: boolean;
  leader: LeaderState;
}

export interface KillGroupOptions {
  /** Signal the members of a group whose leader has exited (see the module comment). Default false. */
  orphans?: boolean;
}

function checkGroup(group: GroupIdentity): void {
  const { pgid, leaderStartTime } = group ?? ({} as Partial<GroupIdentity>);
  if (!Number.isSafeInteger(pgid) || (pgid as number) <= 1) {
    throw new InvalidOptionError('pgid', pgid, 'an integer greater than 1 (0, 1 or a negative pgid would signal far more than one group)');
  }
  if (!Number.isSafeInteger(leaderStartTime) || (leaderStartTime as number) < 0) {
    throw new InvalidOptionError('leaderStartTime', leaderStartTime, 'a non-negative integer (clock ticks since boot)');
  }
}

function leaderState(group: GroupIdentity): LeaderState {
  const leader = readProcStat(group.pgid);
  if (!leader) return 'exited';
  if (leader.startTime !== group.leaderStartTime) return 'replaced';
  return isDeadState(leader.state) ? 'zombie' : 'alive';
}

/** kill(-pgid); false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Sends `signal` to the process group if it can be identified as the recorded one. Synchronous, so
 * that it can run in an exit handler. Throws InvalidOptionError for a pgid ≤ 1.
 */
export function killGroup(group: GroupIdentity, signal: NodeJS.Signals, { orphans = false }: KillGroupOptions = {}): KillGroupResult {
  checkGroup(group);
  const leader = leaderState(group);
  const trusted = leader === 'alive' || leader === 'zombie' || (leader === 'exited' && orphans);
  return { signalled: trusted && signalGroup(group.pgid, signal), leader };
}

/** The live members of a process group (zombies excluded: they hold nothing and cannot be killed). */
export function groupMembers(pgid: number): ProcStat[] {
  return listProcesses().filter((stat) => stat.pgid === pgid && !isDeadState(stat.state));
}

/** No live process has this pgid (zombies do not count). Scans /proc. */
export function groupIsEmpty(pgid: number): boolean {
  return groupMembers(pgid).length === 0;
}

export interface TerminateGroupOptions extends KillGroupOptions {
  /** How often to look at /proc while waiting. Default 25 ms. */
  pollMs?: number;
  /** How long to wait for the group to empty after SIGKILL before resolving anyway. Default 5000 ms. */
  killWaitMs?: number;
}

export interface TerminateGroupResult {
  /** The last signal sent: SIGTERM, SIGKILL after the grace period, or null when none was sent. */
  signal: 'SIGTERM' | 'SIGKILL' | null;
  /** The grace period passed with members still alive. */
  timedOut: boolean;
  /** What was found at the leader's pid when it started (see killGroup). */
  leader: LeaderState;
}

/**
 * SIGTERM (and SIGCONT, so that a stopped member can act on it) to the group, wait until it is
 * empty or `graceMs` passes, then SIGKILL and wait up to `killWaitMs` more (a process in
 * uninterruptible sleep dies only when its I/O ends; check groupIsEmpty() if that matters).
 * Nothing is signalled when the group cannot be identified (see killGroup).
 */
export async function terminateGroup(group: GroupIdentity, graceMs: number, options: TerminateGroupOptions = {}): Promise<TerminateGroupResult> {
  const { pollMs = 25, killWaitMs = 5_000, orphans = false } = options;
  if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new InvalidOptionError('graceMs', graceMs, 'a non-negative number of milliseconds');
  if (!(Number.isFinite(pollMs) && pollMs > 0)) throw new InvalidOptionError('pollMs', pollMs, 'a positive number of milliseconds');
  if (!(Number.isFinite(killWaitMs) && killWaitMs >= 0)) throw new InvalidOptionError('killWaitMs', killWaitMs, 'a non-negative number of milliseconds');
  const first = killGroup(group, 'SIGTERM', { orphans });
  if (!first.signalled) return { signal: null, timedOut: false, leader: first.leader };
  signalGroup(group.pgid, 'SIGCONT');
  if (await waitUntilEmpty(group.pgid, graceMs, pollMs)) return { signal: 'SIGTERM', timedOut: false, leader: first.leader };
  // Watched non-empty since SIGTERM: the pgid is still our group's (see the module comment).
  if (!signalGroup(group.pgid, 'SIGKILL')) return { signal: 'SIGTERM', timedOut: true, leader: first.leader };
  await waitUntilEmpty(group.pgid, killWaitMs, pollMs);
  return { signal: 'SIGKILL', timedOut: true, leader: first.leader };
}

async function waitUntilEmpty(pgid: number, ms: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (groupIsEmpty(pgid)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(pollMs, left));
  }
}
