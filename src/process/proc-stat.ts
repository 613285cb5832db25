// Process identity (DESIGN §5): a pid alone is never trusted, since pids are reused. A process is
// named by its pid plus its start time from /proc/<pid>/stat (clock ticks since boot, fixed at
// fork and kept across exec), which no later process with the same pid can share within one boot.
import fs from 'node:fs';
import * as v from 'valibot';
import { InvalidOptionError } from '../protocol/errors.js';

export interface ProcStat {
  pid: number;
  /** The command name (at most 15 bytes; may contain spaces and parentheses). */
  comm: string;
  /** R, S, D, T, t, Z (zombie), X (dead), I, … */
  state: string;
  ppid: number;
  pgid: number;
  /** Session id. */
  sid: number;
  /** Field 22: clock ticks after boot at which the process started (an integer, safe as a JSON number). */
  startTime: number;
  /** Fields 14 and 15: clock ticks of CPU spent in user and in kernel mode so far (itself, not its children). */
  utime: number;
  stime: number;
}

/** What a checkpoint records of a process. Validate it when read back: files are untrusted. */
export const ProcessIdentity = v.object({
  pid: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(2 ** 22)),
  startTime: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
});
export type ProcessIdentity = v.InferOutput<typeof ProcessIdentity>;

function checkPid(pid: unknown): asserts pid is number {
  if (!Number.isSafeInteger(pid) || (pid as number) < 1) throw new InvalidOptionError('pid', pid, 'a positive integer');
}

/**
 * Parses the text of /proc/<pid>/stat. The comm (field 2) is in parentheses and may itself contain
 * spaces and `)`, so the fields after it are split from the LAST `)`. Returns undefined for text
 * that does not have that shape.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const rest = text.slice(close + 2).trim().split(' ');
  if (rest.length < 20) return undefined;
  const [state, ppid, pgid, sid, startTime, utime, stime] = [rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3]), Number(rest[19]), Number(rest[11]), Number(rest[12])];
  if (![pid, ppid, pgid, sid, startTime, utime, stime].every(Number.isSafeInteger) || state.length !== 1) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, pgid, sid, startTime, utime, stime };
}

/**
 * Reads /proc/<pid>/stat; undefined when there is no such process. Synchronous on purpose: procfs
 * reads do not touch a disk, and exit handlers (signal-exit) must be synchronous.
 */
export function readProcStat(pid: number): ProcStat | undefined {
  checkPid(pid);
  // A gone process is the common answer at recovery (a thousand dead executors): found without
  // the thrown ENOENT, which costs tens of microseconds each.
  if (!fs.existsSync(`/proc/${pid}`)) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw error;
  }
  return parseProcStat(text);
}

/** The identity of a running process, for checkpointing; undefined when there is no such process. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const stat = readProcStat(pid);
  return stat && { pid: stat.pid, startTime: stat.startTime };
}

/** Zombies (Z) and dead tasks (X) keep their /proc entry and start time but are no longer running. */
export function isDeadState(state: string): boolean {
  return state === 'Z' || state === 'X';
}

/**
 * Is the process alive and the same one that was recorded? Alive, same start time, and not a
 * zombie (a zombie keeps its start time). Invalid identities (say, from a tampered file) are not.
 */
export function isSameProcess(identity: ProcessIdentity): boolean {
  if (!v.is(ProcessIdentity, identity)) return false;
  const stat = readProcStat(identity.pid);
  return stat !== undefined && stat.startTime === identity.startTime && !isDeadState(stat.state);
}

/** The host's boot id (a UUID); it changes at every boot, which is how a reboot is detected. */
export function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** Every process in /proc (a snapshot; processes come and go while it is taken). */
export function listProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}
