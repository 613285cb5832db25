// CPU time of other processes, for the benches that say where the time goes (which process is
// the bottleneck): user + system time from /proc/<pid>/stat, in seconds.
import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux build that matters). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds used so far by `pid` (itself, not its children); 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after "(comm) ": state is field 3, utime 14 and stime 15 (1-based).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Sum of cpuSeconds over `pids`. */
export function totalCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}
