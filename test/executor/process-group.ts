// Process-group facts for the executor tests, read from /proc: which live (non-zombie) processes
// are still in a group. Zombies do not count: they run nothing, and pid 1 here may never reap them.
import fs from 'node:fs';

export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // After "pid (comm) ": state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state !== 'Z' && Number(pgrp) === pgid) members.push(Number(entry));
  }
  return members;
}

/**
 * Test clean-up: SIGKILL what is left of a task's group, but only processes working under `dir`,
 * so that a recycled pid never makes a test kill somebody else's process.
 */
export function killLeftovers(pgid: number | undefined, dir: string): void {
  if (pgid === undefined || pgid <= 1) return;
  for (const pid of liveGroupMembers(pgid)) {
    try {
      if (!fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(fs.realpathSync(dir))) continue;
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Reads a pid written by a task into a file, once it is there. */
export function readPid(file: string): number | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
