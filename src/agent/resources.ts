// What the agent offers: `--resources=cpus:N;mem:MB;disk:MB`, each amount detected when not given
// (CPUs from the scheduler's view of the machine, memory in MB, the size in MB of the file system
// holding the work dir). Each is stable across restarts, as Mesos's are: a restarted agent compares
// them with its checkpointed agent.json and refuses to recover when they differ (free space, which
// changes all the time, would make every restart a refusal).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlagError, MAX_RESOURCE, show } from '../protocol/index.js';

export interface AgentResources {
  cpus: number;
  mem: number;
  disk: number;
}

const NAMES = ['cpus', 'mem', 'disk'] as const;
type Name = (typeof NAMES)[number];

const MB = 1024 * 1024;

/**
 * Parses `cpus:N;mem:MB;disk:MB` (any subset, any order). Throws a FlagError naming `flag` and the
 * bad part: an unknown name, a missing or non-numeric amount, a negative one, a repeated one.
 */
export function parseResources(text: string, flag = '--resources'): Partial<AgentResources> {
  const result: Partial<AgentResources> = {};
  const bad = (part: string, why: string) =>
    new FlagError(`invalid value for ${flag}: ${show(text)} (${why} in ${show(part)}; expected cpus:N;mem:MB;disk:MB)`);
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const colon = part.indexOf(':');
    if (colon === -1) throw bad(part, 'no ":"');
    const name = part.slice(0, colon).trim();
    const amountText = part.slice(colon + 1).trim();
    if (!(NAMES as readonly string[]).includes(name)) throw bad(part, `unknown resource ${show(name)}`);
    const amount = Number(amountText);
    if (amountText === '' || !/^\d+(\.\d+)?$/.test(amountText) || !Number.isFinite(amount)) throw bad(part, 'the amount is not a non-negative number');
    if (amount > MAX_RESOURCE) throw bad(part, `the amount is over ${MAX_RESOURCE}`);
    if (result[name as Name] !== undefined) throw bad(part, `${name} given twice`);
    result[name as Name] = amount;
  }
  return result;
}

/** The machine's resources as the agent sees them: CPUs, total memory and the size of the work dir's file system. */
export function detectResources(workDir: string): AgentResources {
  return { cpus: os.availableParallelism(), mem: Math.floor(os.totalmem() / MB), disk: diskSizeMb(workDir) };
}

/** Resources from the flag, with what it leaves out detected. */
export function resolveResources(text: string | undefined, workDir: string): AgentResources {
  const given = text === undefined ? {} : parseResources(text);
  const need = NAMES.some((name) => given[name] === undefined);
  const detected = need ? detectResources(workDir) : { cpus: 0, mem: 0, disk: 0 };
  return { cpus: given.cpus ?? detected.cpus, mem: given.mem ?? detected.mem, disk: given.disk ?? detected.disk };
}

/** Size of the file system holding `dir`, or its nearest existing ancestor. */
function diskSizeMb(dir: string): number {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const stats = fs.statfsSync(current);
      return Math.floor((stats.blocks * stats.bsize) / MB);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return 0;
      current = parent;
    }
  }
}
