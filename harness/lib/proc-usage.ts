// What other processes use, for the benches and fault runs that say where the time and memory go:
// CPU time through the product's own /proc/<pid>/stat reader, memory from /proc/<pid>/status and
// /proc/<pid>/smaps_rollup.
import fs from 'node:fs';
import { readProcStat } from '../../src/process/proc-stat.js';

/** Clock ticks per second of /proc/<pid>/stat and /proc/stat (USER_HZ: 100 on every Linux build that matters). */
export const TICKS_PER_SECOND = 100;

/** User + system CPU seconds used so far by `pid` (itself, not its children); 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  const stat = readProcStat(pid);
  return stat ? (stat.utime + stat.stime) / TICKS_PER_SECOND : 0;
}

/**
 * cpuSeconds of each of `pids` still running (`part` 'system': only the time in the kernel); a gone
 * one is left out (not read as 0).
 */
export function cpuSecondsByPid(pids: readonly number[], part: 'total' | 'system' = 'total'): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    const stat = readProcStat(pid);
    if (stat) seconds.set(pid, ((part === 'system' ? 0 : stat.utime) + stat.stime) / TICKS_PER_SECOND);
  }
  return seconds;
}

/** Sum of cpuSeconds over `pids`. */
export function totalCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/**
 * The `Name: N kB` fields of a /proc file, in MiB; undefined when the process is gone or has no
 * memory any more (a zombie's status has no Vm* lines), so that a last good reading is kept.
 */
function kibFields<F extends string>(file: string, fields: readonly F[]): Record<F, number> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const out = {} as Record<F, number>;
  for (const field of fields) {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!match) return undefined;
    out[field] = Number(match[1]) / 1024;
  }
  return out;
}

/** `/proc/<pid>/status` memory figures in MiB: VmRSS now and VmHWM (peak RSS); undefined when gone. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  const mib = kibFields(`/proc/${pid}/status`, ['VmRSS', 'VmHWM']);
  return mib && { rssMiB: mib.VmRSS, peakMiB: mib.VmHWM };
}

/** `/proc/<pid>/smaps_rollup` in MiB: private (clean + dirty), PSS and RSS; undefined when gone. */
export function smapsRollup(pid: number): { privateMiB: number; pssMiB: number; rssMiB: number } | undefined {
  const mib = kibFields(`/proc/${pid}/smaps_rollup`, ['Private_Clean', 'Private_Dirty', 'Pss', 'Rss']);
  return mib && { privateMiB: mib.Private_Clean + mib.Private_Dirty, pssMiB: mib.Pss, rssMiB: mib.Rss };
}

/**
 * Context switches of `pid` so far, summed over its threads (`/proc/<pid>/task/<tid>/status`):
 * `voluntary` counts the times a thread blocked and was woken (epoll, the thread pool), which on a
 * VM costs far more CPU than the work of a small batch; undefined once the process is gone.
 */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } | undefined {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of tids) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // a thread that ended between the listing and the read
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}
