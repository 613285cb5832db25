// Fault run "corrupt" (issue 4 point 2, docs/reliability.md): a real checkpoint taken from a live
// agent (a command task still running, one finished, a custom executor with two tasks and numbered
// progress updates, then kill -9 of the agent), copied and damaged thousands of seeded ways; after
// each damage recoverState runs in strict and non-strict mode (and now and then `lifeline inspect`
// as a real process). Every outcome is classified and checked:
//   - nothing crashes: the only error is CheckpointCorruptError naming a file of the copy, no
//     unhandled rejection, no hang (10 s deadline);
//   - recovery never changes the tree (bytes, modes, links compared before and after);
//   - strict mode never drops data silently, and non-strict mode keeps every record before the
//     damage (see `explain` and `checkLogs` for the exact rules).
//
//   node dist/scripts/faults/corrupt.js [--seed=N] [--mutations=3000] [--truncations=1500] [--cli_every=100]
//   (--truncations=-1: every offset of every checkpoint file)
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  agentDir,
  agentInfoPath,
  CheckpointCorruptError,
  encodeRecords,
  executorDir,
  executorInfoPath,
  forkedPath,
  frameRecord,
  frameworkDir,
  frameworkInfoPath,
  latestRunPath,
  outboxPath,
  parseRecordLog,
  recoverState,
  runDir,
  sentinelPath,
  shimInfoPath,
  taskDir,
  taskInfoPath,
  taskUpdatesPath,
  tokenHashPath,
  type LogRecord,
  type RecoveredState,
} from '../../src/checkpoint/index.js';
import { encode, type TaskStatus } from '../../src/protocol/index.js';
import { copyTree, treeSnapshot } from '../checkpoint-sample.js';
import { FAST_TMP, lifeline, removeDir, waitFor, withTimeout } from '../helpers.js';
import { Scenario, waitingTask } from '../scenario.js';
import { Random } from '../lib/random.js';
import { printTable } from '../lib/report.js';
import { progressTask, writeProgressExecutor } from '../lib/fault-cluster.js';

export interface CorruptOptions {
  seed: number;
  /** Random mutations (every kind but the truncation sweep). */
  mutations: number;
  /** Truncations of checkpoint files at seeded offsets; -1: every offset of every file. */
  truncations: number;
  /** Run `lifeline inspect` as a process on every n-th mutation (0: never). */
  cliEvery: number;
  /** Progress lines (stderr in the script). */
  log?: (line: string) => void;
}

export interface KindFigures {
  mutations: number;
  strictRecovered: number;
  strictRefused: number;
  lenientRecovered: number;
  lenientWithErrors: number;
  crashed: number;
}

export interface CorruptResult {
  seed: number;
  /** Mutations run (random + truncations). */
  mutations: number;
  byKind: Record<string, KindFigures>;
  /** Files and offsets of the truncation sweep: done / all there are. */
  truncationCoverage: { done: number; total: number };
  /** What the template checkpoint holds (proof that it is a real one). */
  template: { files: number; bytes: number; tasks: number; updates: number; acks: number; outboxRecords: number };
  crashes: number;
  unhandled: number;
  hangs: number;
  /** Recoveries that took more than 10 s but settled (machine load), not hangs. */
  slow: number;
  treeModified: number;
  /** Losses strict mode let through that the rules accept, by reason (see explain()). */
  explained: Record<string, number>;
  cli: { runs: number; agreed: number };
  /** Records recovered by non-strict reads of damaged logs (proof that the prefix check ran). */
  prefixRecordsChecked: number;
  violations: string[];
  wallMs: number;
}

const RECOVERY_DEADLINE_MS = 10_000;

// ---- the template: a real checkpoint from a live agent ----

/** Runs a real master + agent + tasks, kills the agent with SIGKILL, copies meta/ and sandboxes/ to `into`. */
export async function liveCheckpoint(into: string): Promise<void> {
  const s = await Scenario.start();
  try {
    await s.startAgent();
    const framework = await s.framework({ name: 'corrupt-source', checkpoint: true });
    const script = writeProgressExecutor(s.fixtures);
    await framework.launch([
      waitingTask('cmd-live'),
      waitingTask('cmd-done'),
      progressTask('px-1', 'px', script, framework.frameworkId, 6),
      progressTask('px-2', 'px', script, framework.frameworkId, 6),
    ]);
    await framework.waitFor('cmd-done', 'TASK_RUNNING');
    s.release(s.run(framework, 'cmd-done'));
    await framework.waitFor('cmd-done', 'TASK_FINISHED');
    await framework.waitFor('cmd-live', 'TASK_RUNNING');
    for (const taskId of ['px-1', 'px-2']) {
      await framework.waitFor(taskId, 'TASK_RUNNING', { where: (status) => status.message === 'progress 6/6', timeoutMs: 20_000 });
    }
    // Every update acknowledged by the framework and the finished run marked completed, on disk.
    await waitFor(
      async () => {
        const state = await recoverState(s.workDir, { strict: true });
        const runs = state.frameworks.flatMap((f) => f.executors.flatMap((e) => e.runs));
        const tasks = runs.flatMap((run) => run.tasks);
        return tasks.length === 4 && tasks.every((task) => task.updates.length > 0 && task.acks.length === task.updates.length) && runs.some((run) => run.completed);
      },
      { timeoutMs: 20_000, message: 'every update acknowledged in the checkpoint and cmd-done completed' },
    );
    await s.killAgent();
    for (const part of ['meta', 'sandboxes']) copyTree(path.join(s.workDir, part), path.join(into, part));
  } finally {
    await s.cleanup();
  }
}

// ---- what a recovered state holds, as comparable facts ----

type FactKind = 'agent' | 'framework' | 'executor' | 'latest' | 'run' | 'forked' | 'token' | 'completed' | 'shim' | 'task';
interface Fact {
  kind: FactKind;
  value: string;
  /** The file (or directory) it is read from, relative to the work dir. */
  source: string;
  /** The unit directories (agent, framework, executor, run, task) that enclose it, relative. */
  units: string[];
}
interface LogFact {
  kind: 'updates' | 'outbox';
  source: string;
  units: string[];
  updates: TaskStatus[];
  acks: string[];
  records: LogRecord[];
}
interface Facts {
  facts: Map<string, Fact>;
  logs: Map<string, LogFact>;
}

const stable = (value: unknown) => JSON.stringify(value, (_key, item: unknown) => (item instanceof Uint8Array ? Buffer.from(item).toString('base64') : item));

function extract(state: RecoveredState, root: string): Facts {
  const rel = (file: string) => path.relative(root, file);
  const facts = new Map<string, Fact>();
  const logs = new Map<string, LogFact>();
  if (state.agentId === undefined) return { facts, logs };
  const agent = { agentId: state.agentId };
  const agentUnit = rel(agentDir(root, agent));
  facts.set('agent', { kind: 'agent', value: stable(state.agentInfo), source: rel(agentInfoPath(root, agent)), units: [agentUnit] });
  for (const framework of state.frameworks) {
    const fref = { ...agent, frameworkId: framework.id };
    const fUnits = [agentUnit, rel(frameworkDir(root, fref))];
    facts.set(`framework ${framework.id}`, { kind: 'framework', value: stable(framework.info), source: rel(frameworkInfoPath(root, fref)), units: fUnits });
    for (const executor of framework.executors) {
      const eref = { ...fref, executorId: executor.id };
      const eUnits = [...fUnits, rel(executorDir(root, eref))];
      const ekey = `${framework.id}/${executor.id}`;
      facts.set(`executor ${ekey}`, { kind: 'executor', value: stable({ info: executor.info, generated: executor.generated }), source: rel(executorInfoPath(root, eref)), units: eUnits });
      if (executor.latest !== undefined) facts.set(`latest ${ekey}`, { kind: 'latest', value: executor.latest, source: rel(latestRunPath(root, eref)), units: eUnits });
      for (const run of executor.runs) {
        const rref = { ...eref, containerId: run.containerId };
        const rUnits = [...eUnits, rel(runDir(root, rref))];
        const rkey = `${ekey}/${run.containerId}`;
        facts.set(`run ${rkey}`, { kind: 'run', value: 'exists', source: rel(runDir(root, rref)), units: rUnits });
        if (run.forked) facts.set(`forked ${rkey}`, { kind: 'forked', value: stable(run.forked), source: rel(forkedPath(root, rref)), units: rUnits });
        if (run.tokenHash !== undefined) facts.set(`token ${rkey}`, { kind: 'token', value: run.tokenHash, source: rel(tokenHashPath(root, rref)), units: rUnits });
        if (run.completed) facts.set(`completed ${rkey}`, { kind: 'completed', value: 'yes', source: rel(sentinelPath(root, rref)), units: rUnits });
        if (run.shim) facts.set(`shim ${rkey}`, { kind: 'shim', value: stable(run.shim), source: rel(shimInfoPath(run.sandbox)), units: rUnits });
        if (run.outbox) logs.set(`outbox ${rkey}`, { kind: 'outbox', source: rel(outboxPath(run.sandbox)), units: rUnits, updates: [], acks: [], records: run.outbox });
        for (const task of run.tasks) {
          const tref = { ...rref, taskId: task.id };
          const tUnits = [...rUnits, rel(taskDir(root, tref))];
          const tkey = `${rkey}/${task.id}`;
          facts.set(`task ${tkey}`, { kind: 'task', value: stable(task.info), source: rel(taskInfoPath(root, tref)), units: tUnits });
          logs.set(`updates ${tkey}`, { kind: 'updates', source: rel(taskUpdatesPath(root, tref)), units: tUnits, updates: task.updates, acks: task.acks, records: [] });
        }
      }
    }
  }
  return { facts, logs };
}

// ---- mutations ----

interface Entry {
  rel: string;
  kind: 'file' | 'dir' | 'link';
  size: number;
}

interface Mutation {
  kind: string;
  description: string;
  /** Entries whose bytes changed or that were replaced by something else (relative). */
  changed: Set<string>;
  /** An entry removed outright (relative). */
  deleted?: string;
  /** Nothing recovery reads changed: strict mode must recover exactly the original. */
  harmless: boolean;
}

/** Files recovery may find absent in a well-formed checkpoint (the agent died before writing them, or the run is live). */
const OPTIONAL_FILES = new Set(['forked.json', 'executor.sentinel', 'shim.json', 'outbox.log', '.lifeline', 'latest']);
const LOG_NAMES = new Set(['task.updates', 'outbox.log']);

function within(file: string, dir: string): boolean {
  return file === dir || file.startsWith(`${dir}/`);
}

function listEntries(root: string): Entry[] {
  const out: Entry[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const stats = fs.lstatSync(full);
      const rel = path.relative(root, full);
      if (stats.isSymbolicLink()) out.push({ rel, kind: 'link', size: 0 });
      else if (stats.isDirectory()) {
        out.push({ rel, kind: 'dir', size: 0 });
        walk(full);
      } else out.push({ rel, kind: 'file', size: stats.size });
    }
  };
  walk(root);
  return out;
}

/** What recovery reads: meta/ and each sandbox's .lifeline/. */
function isCheckpointEntry(rel: string): boolean {
  return within(rel, 'meta') || /(^|\/)\.lifeline(\/|$)/.test(rel);
}

function tempName(base: string, random: Random): string {
  return `.${base}.tmp-${random.bytes(6).toString('hex')}`;
}

/** A record that fails the way `variant` says, framed (with good CRCs unless the variant is a CRC one). */
function badRecord(variant: string, random: Random, foreignTaskId: string): Buffer {
  switch (variant) {
    case 'payload CRC': {
      const frame = frameRecord(encode({ kind: 'ACK', uuid: randomUUID() }));
      frame[frame.length - 1]! ^= 0xff;
      return frame;
    }
    case 'header CRC': {
      const frame = frameRecord(encode({ kind: 'ACK', uuid: randomUUID() }));
      frame[8]! ^= 0x5a;
      return frame;
    }
    case 'not msgpack':
      return frameRecord(Buffer.from([0xc1, ...random.bytes(1 + random.int(0, 30))]));
    case 'wrong shape':
      return frameRecord(encode(random.pick([{ kind: 'UPDATE', status: { taskId: 7 } }, { kind: 'NOPE' }, [1, 2, 3], 'a string', { kind: 'ACK', uuid: '../../etc/passwd' }])));
    case 'bad id':
      return frameRecord(encode({ kind: 'UPDATE', status: { taskId: '../x', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1 } }));
    case 'foreign task':
      return encodeRecords([{ kind: 'UPDATE', status: { taskId: foreignTaskId, state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1 } }]);
    default: // random bytes
      return random.bytes(12 + random.int(0, 40));
  }
}

function applyMutation(root: string, entries: Entry[], random: Random, truncation: { rel: string; offset: number } | undefined, fifo: boolean): Mutation {
  const full = (rel: string) => path.join(root, rel);
  if (truncation) {
    fs.truncateSync(full(truncation.rel), truncation.offset);
    return { kind: 'truncate', description: `truncate ${truncation.rel} to ${truncation.offset} bytes`, changed: new Set([truncation.rel]), harmless: false };
  }
  const checkpoint = entries.filter((e) => isCheckpointEntry(e.rel));
  const files = checkpoint.filter((e) => e.kind === 'file');
  const dirs = checkpoint.filter((e) => e.kind === 'dir');
  const links = checkpoint.filter((e) => e.kind === 'link');
  const jsonFiles = files.filter((e) => e.rel.endsWith('.json'));
  const logs = files.filter((e) => LOG_NAMES.has(path.basename(e.rel)));
  const kinds = ['flip byte', 'garbage JSON', 'zero-length', 'dangling symlink', 'looping symlink', 'symlink outside', 'latest retarget', 'missing directory', 'delete file', 'swap file/dir', 'stray temp file', 'junk entry', 'bad record middle', 'bad record end', 'append garbage', 'duplicate record', 'other sandbox file'];
  if (fifo) kinds.push('fifo');
  const kind = random.pick(kinds);
  switch (kind) {
    case 'flip byte': {
      const target = random.pick(files.filter((e) => e.size > 0));
      const bytes = fs.readFileSync(full(target.rel));
      const at = random.int(0, bytes.length - 1);
      bytes[at]! ^= random.int(1, 255);
      fs.writeFileSync(full(target.rel), bytes);
      return { kind, description: `flip byte ${at} of ${target.rel}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'garbage JSON': {
      const target = random.pick(jsonFiles);
      const original = JSON.parse(fs.readFileSync(full(target.rel), 'utf8')) as Record<string, unknown>;
      const variants: Array<[string, () => string | Buffer]> = [
        ['random bytes', () => random.bytes(random.int(1, 200))],
        ['unterminated', () => '{"id":'],
        ['null', () => 'null'],
        ['array', () => '[]'],
        ['string', () => '"x"'],
        ['wrong types', () => JSON.stringify({ ...original, id: 7, pid: 'x', taskId: null, executorId: ['a'], resources: 'many' })],
        ['id with a path', () => JSON.stringify({ ...original, ...('id' in original ? { id: '../../x' } : {}), ...('taskId' in original ? { taskId: 'a/b' } : {}), ...('executorId' in original ? { executorId: '..' } : {}) })],
        ['deep nesting', () => '['.repeat(200_000) + ']'.repeat(200_000)],
        ['1 MiB string', () => JSON.stringify({ ...original, name: 'x'.repeat(1 << 20) })],
        ['BOM', () => `\ufeff${JSON.stringify(original)}`],
        ['NUL inside', () => JSON.stringify(original).replace(':', ':\u0000')],
        ['extra field', () => JSON.stringify({ ...original, extra: { nested: [1, 2, 3] } })],
        ['other id', () => JSON.stringify({ ...original, ...('id' in original ? { id: 'someone-else' } : {}), ...('taskId' in original ? { taskId: 'someone-else' } : {}), ...('executorId' in original ? { executorId: 'someone-else' } : {}), ...('containerId' in original ? { containerId: 'someone-else' } : {}) })],
      ];
      const [name, make] = random.pick(variants);
      fs.writeFileSync(full(target.rel), make());
      return { kind, description: `${name} in ${target.rel}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'zero-length': {
      const target = random.pick(files);
      fs.writeFileSync(full(target.rel), '');
      return { kind, description: `empty ${target.rel}`, changed: new Set([target.rel]), harmless: target.size === 0 };
    }
    case 'dangling symlink':
    case 'looping symlink':
    case 'symlink outside': {
      const target = random.pick([...files, ...dirs, ...links]);
      fs.rmSync(full(target.rel), { recursive: true, force: true });
      let to: string;
      if (kind === 'dangling symlink') to = random.pick(['nowhere', '/nonexistent/lifeline', 'a-missing-id']);
      else if (kind === 'looping symlink') to = path.basename(target.rel);
      else to = random.pick(['/etc/hostname', '/', '/tmp', '..']);
      fs.symlinkSync(to, full(target.rel));
      return { kind, description: `${target.rel} -> ${to}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'latest retarget': {
      const target = random.pick(links);
      const siblings = fs.readdirSync(path.dirname(full(target.rel))).filter((name) => name !== 'latest' && !name.startsWith('.'));
      const to = random.pick(['..', '.', 'latest', 'nowhere', '../../etc', '', 'a/b', ...siblings]);
      fs.rmSync(full(target.rel), { force: true });
      if (to === '') fs.writeFileSync(full(target.rel), 'not a link');
      else fs.symlinkSync(to, full(target.rel));
      return { kind, description: `${target.rel} -> ${JSON.stringify(to)}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'missing directory': {
      const target = random.pick(dirs);
      fs.rmSync(full(target.rel), { recursive: true, force: true });
      return { kind, description: `remove directory ${target.rel}`, changed: new Set(), deleted: target.rel, harmless: false };
    }
    case 'delete file': {
      const target = random.pick([...files, ...links]);
      fs.rmSync(full(target.rel), { force: true });
      return { kind, description: `remove ${target.rel}`, changed: new Set(), deleted: target.rel, harmless: false };
    }
    case 'swap file/dir': {
      const target = random.pick([...files, ...dirs]);
      fs.rmSync(full(target.rel), { recursive: true, force: true });
      if (target.kind === 'dir') fs.writeFileSync(full(target.rel), 'was a directory');
      else fs.mkdirSync(full(target.rel));
      return { kind, description: `${target.kind === 'dir' ? 'file' : 'directory'} in place of ${target.rel}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'fifo': {
      const target = random.pick(files);
      fs.rmSync(full(target.rel), { force: true });
      execFileSync('mkfifo', [full(target.rel)]);
      return { kind, description: `FIFO in place of ${target.rel}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'stray temp file': {
      const dir = random.pick(dirs);
      const name = tempName(random.pick(['task.json', 'forked.json', 'agent.json', 'latest', 'framework.json']), random);
      if (random.chance(0.2)) fs.mkdirSync(full(path.join(dir.rel, name)));
      else fs.writeFileSync(full(path.join(dir.rel, name)), random.chance(0.5) ? '{"half":' : random.bytes(random.int(0, 64)));
      return { kind, description: `stray ${path.join(dir.rel, name)}`, changed: new Set(), harmless: true };
    }
    case 'junk entry': {
      const dir = random.pick(dirs);
      const name = random.pick(['not an id', '.hidden', 'junk', '..x', 'latest.bak']);
      if (random.chance(0.5)) fs.mkdirSync(full(path.join(dir.rel, name)), { recursive: true });
      else fs.writeFileSync(full(path.join(dir.rel, name)), 'junk');
      return { kind, description: `junk ${path.join(dir.rel, name)}`, changed: new Set([path.join(dir.rel, name)]), harmless: false };
    }
    case 'bad record middle':
    case 'bad record end': {
      const target = random.pick(logs);
      const bytes = fs.readFileSync(full(target.rel));
      const { offsets, validBytes } = parseRecordLog(bytes, { file: target.rel, strict: false });
      const variant = random.pick(['payload CRC', 'header CRC', 'not msgpack', 'wrong shape', 'bad id', 'foreign task', 'random bytes']);
      const bad = badRecord(variant, random, 'someone-else');
      let at = validBytes;
      let replace = 0;
      if (kind === 'bad record middle' && offsets.length >= 2) {
        const index = random.int(1, offsets.length - 1);
        at = offsets[index]!;
        // Insert before record `index`, or replace record `index - 1` (the one before it).
        if (random.chance(0.5)) {
          replace = at - offsets[index - 1]!;
          at = offsets[index - 1]!;
        }
      }
      fs.writeFileSync(full(target.rel), Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at + replace)]));
      return { kind, description: `${variant} record ${replace ? 'replacing the one' : 'inserted'} at offset ${at} of ${target.rel}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'append garbage': {
      const target = random.pick(files);
      fs.appendFileSync(full(target.rel), random.bytes(random.int(1, 64)));
      return { kind, description: `random bytes appended to ${target.rel}`, changed: new Set([target.rel]), harmless: false };
    }
    case 'duplicate record': {
      const target = random.pick(logs);
      const bytes = fs.readFileSync(full(target.rel));
      const { offsets, validBytes } = parseRecordLog(bytes, { file: target.rel, strict: false });
      if (offsets.length === 0) return { kind, description: `nothing to duplicate in ${target.rel}`, changed: new Set(), harmless: true };
      const index = random.int(0, offsets.length - 1);
      const end = index + 1 < offsets.length ? offsets[index + 1]! : validBytes;
      fs.appendFileSync(full(target.rel), bytes.subarray(offsets[index]!, end));
      // An UPDATE or ACK again (a resend written twice): read once; the outbox keeps it (it is a log).
      return { kind, description: `record ${index} of ${target.rel} appended again`, changed: new Set([target.rel]), harmless: true };
    }
    default: {
      // A file of the sandbox that recovery does not read (the executor's stdout): harmless.
      const others = entries.filter((e) => e.kind === 'file' && !isCheckpointEntry(e.rel));
      const target = random.pick(others);
      fs.writeFileSync(full(target.rel), random.bytes(random.int(0, 100)));
      return { kind: 'other sandbox file', description: `random bytes in ${target.rel}`, changed: new Set(), harmless: true };
    }
  }
}

// ---- checks ----

interface Outcome {
  result: 'recovered' | 'refused' | 'crashed';
  state?: RecoveredState;
  error?: CheckpointCorruptError;
  why?: string;
}

/**
 * A recovery that has not settled after RECOVERY_DEADLINE_MS is given HANG_GRACE_MS more: one that
 * settles then was slow (a loaded machine), and is counted as such; one that never does is a hang.
 */
const HANG_GRACE_MS = 60_000;

async function settle<T>(promise: Promise<T>, slow: { count: number }): Promise<T> {
  try {
    return await withTimeout(promise, RECOVERY_DEADLINE_MS, 'recoverState');
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('timed out after'))) throw error;
    slow.count += 1;
    return withTimeout(promise, HANG_GRACE_MS, `recoverState (hang: not settled within ${RECOVERY_DEADLINE_MS + HANG_GRACE_MS} ms)`);
  }
}

async function attempt(root: string, strict: boolean, bootId: string, unhandled: { count: number }, slow: { count: number }): Promise<Outcome> {
  const before = unhandled.count;
  try {
    const state = await settle(recoverState(root, { strict, bootId }), slow);
    // Let any stray rejection from inside the call surface before judging it.
    await new Promise((resolve) => setImmediate(resolve));
    if (unhandled.count !== before) return { result: 'crashed', why: 'an unhandled rejection or exception during recovery' };
    return { result: 'recovered', state };
  } catch (error) {
    await new Promise((resolve) => setImmediate(resolve));
    if (unhandled.count !== before) return { result: 'crashed', why: 'an unhandled rejection or exception during recovery' };
    if (!(error instanceof CheckpointCorruptError)) {
      const hang = error instanceof Error && error.message.startsWith('timed out after');
      return { result: 'crashed', why: hang ? `no answer within ${RECOVERY_DEADLINE_MS + HANG_GRACE_MS} ms (hang)` : `threw ${(error as Error)?.stack ?? String(error)}` };
    }
    const file = error.file;
    if (!path.isAbsolute(file) || !within(file, root)) return { result: 'crashed', why: `CheckpointCorruptError names ${JSON.stringify(file)}, not a file of the work dir` };
    if (!error.message.includes(file)) return { result: 'crashed', why: `message does not name the file ${file}: ${error.message}` };
    if (strict && !error.message.includes('--strict=false')) return { result: 'crashed', why: `strict refusal without the ways out: ${error.message}` };
    return { result: 'refused', error };
  }
}

interface Context {
  root: string;
  strict: boolean;
  mutation: Mutation;
  state: RecoveredState;
  original: Map<string, Buffer>;
  explained: Record<string, number>;
}

/** Does an error of the recovered state name `rel` (or a directory it is in)? */
function errorNames(ctx: Context, rel: string): boolean {
  return ctx.state.errors.some((e) => within(rel, path.relative(ctx.root, e.file)));
}

/** Why a fact may differ from the original after this mutation, or undefined when nothing explains it. */
function explain(ctx: Context, base: Fact | undefined, now: Fact | undefined): string | undefined {
  const fact = (base ?? now)!;
  const { mutation } = ctx;
  if (mutation.deleted !== undefined) {
    const removed = mutation.deleted;
    // The agent's `latest` link gone: the documented way to start afresh; everything is gone with it.
    if (removed === 'meta/agents/latest') return 'latest agent link removed (start afresh)';
    // A directory, or a file the reader treats as optional, removed: what is left is a well-formed
    // checkpoint (DESIGN §5 keeps no manifest of units or files), so the loss cannot be seen.
    const gone = within(fact.source, removed) || fact.units.some((unit) => within(unit, removed));
    if (gone && (mutation.kind === 'missing directory' || OPTIONAL_FILES.has(path.basename(removed)))) return 'removed outright (no manifest)';
  }
  // The file's bytes changed and it still parses and validates: JSON files carry no checksum.
  if (base && now && mutation.changed.has(fact.source)) return 'rewritten (no checksum)';
  // Something the mutation created reads as a well-formed unit (an empty directory named like an
  // ID in runs/ is a run the agent began to create): data added, nothing dropped.
  if (!base && now && [...mutation.changed].some((created) => within(fact.source, created))) return 'added by the mutation';
  // A changed boot id: the host looks rebooted, so no recorded pid (forked.json, shim.json) is trusted.
  if ((fact.kind === 'forked' || fact.kind === 'shim') && !now && ctx.state.rebooted && (mutation.changed.has('meta/boot_id') || errorNames(ctx, 'meta/boot_id'))) return 'boot id changed';
  // Executor-written and untrusted: ignored, but listed.
  if (fact.kind === 'shim' && !now && errorNames(ctx, fact.source)) return 'executor file noted';
  // Non-strict: the unit around it was skipped, and the damage is listed.
  if (!ctx.strict && !now && ctx.state.errors.some((e) => e.source !== 'sandbox' && fact.units.some((unit) => within(path.relative(ctx.root, e.file), unit)))) return 'unit skipped, listed';
  if (!ctx.strict && !now && ctx.state.errors.some((e) => e.source !== 'sandbox' && ['meta/agents/latest', 'meta/agents', 'meta'].includes(path.relative(ctx.root, e.file)))) return 'agent skipped, listed';
  return undefined;
}

/** Records of a log's original bytes that end before the first byte the mutation changed. */
function intactPrefix(original: Buffer, now: Buffer | undefined, file: string): { prefix: LogRecord[]; lost: Array<{ record: LogRecord; frame: Buffer }>; damageAt: number } {
  let damageAt = 0;
  if (now !== undefined) {
    const limit = Math.min(original.length, now.length);
    while (damageAt < limit && original[damageAt] === now[damageAt]) damageAt++;
    if (damageAt === limit && now.length >= original.length) damageAt = original.length;
  }
  const { records, offsets, validBytes } = parseRecordLog(original, { file, strict: true });
  const prefix: LogRecord[] = [];
  const lost: Array<{ record: LogRecord; frame: Buffer }> = [];
  records.forEach((record, i) => {
    const end = i + 1 < offsets.length ? offsets[i + 1]! : validBytes;
    if (end <= damageAt) prefix.push(record);
    else lost.push({ record, frame: original.subarray(offsets[i]!, end) });
  });
  return { prefix, lost, damageAt };
}

function dedupeUpdates(records: LogRecord[]): { updates: TaskStatus[]; acks: string[] } {
  const updates: TaskStatus[] = [];
  const acks: string[] = [];
  const seenU = new Set<string>();
  const seenA = new Set<string>();
  for (const record of records) {
    if (record.kind === 'UPDATE') {
      if (!seenU.has(record.status.uuid)) updates.push(record.status);
      seenU.add(record.status.uuid);
    } else {
      if (!seenA.has(record.uuid)) acks.push(record.uuid);
      seenA.add(record.uuid);
    }
  }
  return { updates, acks };
}

function readIfFile(file: string): Buffer | undefined {
  try {
    const stats = fs.lstatSync(file);
    return stats.isFile() ? fs.readFileSync(file) : undefined;
  } catch {
    return undefined;
  }
}

/** Compares a recovered state with the original one; returns the unexplained differences. */
function compare(ctx: Context, base: Facts, prefixCount: { n: number }): string[] {
  const problems: string[] = [];
  const now = extract(ctx.state, ctx.root);
  const keys = new Set([...base.facts.keys(), ...now.facts.keys()]);
  for (const key of keys) {
    const a = base.facts.get(key);
    const b = now.facts.get(key);
    if (a && b && a.value === b.value) continue;
    const reason = explain(ctx, a, b);
    if (reason === undefined) problems.push(`${key}: ${a ? (b ? 'changed' : 'lost') : 'appeared'} (from ${(a ?? b)!.source})`);
    else ctx.explained[reason] = (ctx.explained[reason] ?? 0) + 1;
  }
  for (const [key, log] of base.logs) {
    const got = now.logs.get(key);
    const original = ctx.original.get(log.source)!;
    if (!got) {
      // Its task or run is gone (judged above with its facts) or, for an outbox, it is unreadable.
      const unit = log.units.at(-1)!;
      const unitGone = log.kind === 'updates' ? !now.facts.has(key.replace(/^updates /, 'task ')) : !now.facts.has(key.replace(/^outbox /, 'run '));
      if (unitGone) continue;
      const removed = ctx.mutation.deleted !== undefined && within(log.source, ctx.mutation.deleted);
      if (!removed && !errorNames(ctx, log.source)) problems.push(`${key}: the outbox vanished without a note (${log.source}, unit ${unit})`);
      continue;
    }
    const mutated = readIfFile(path.join(ctx.root, log.source));
    const { prefix, lost, damageAt } = intactPrefix(original, mutated, log.source);
    if (log.kind === 'updates') {
      const expected = dedupeUpdates(prefix);
      prefixCount.n += expected.updates.length + expected.acks.length;
      if (!isDeepStrictEqual(got.updates.slice(0, expected.updates.length), expected.updates) || !isDeepStrictEqual(got.acks.slice(0, expected.acks.length), expected.acks)) {
        problems.push(`${key}: the ${expected.updates.length} updates and ${expected.acks.length} acks before offset ${damageAt} were not all recovered (got ${got.updates.length} and ${got.acks.length})`);
      }
      if (ctx.strict && mutated !== undefined) {
        // Strict and recovered: a record that is still intact in the file after the damage must be there.
        const uuids = new Set([...got.updates.map((u) => u.uuid), ...got.acks]);
        for (const { record, frame } of lost) {
          const uuid = record.kind === 'UPDATE' ? record.status.uuid : record.uuid;
          if (mutated.indexOf(frame, damageAt) >= 0 && !uuids.has(uuid)) problems.push(`${key}: strict recovery silently dropped an intact ${record.kind} record (${uuid}) after the damage at offset ${damageAt}`);
        }
      }
    } else {
      prefixCount.n += prefix.length;
      if (!isDeepStrictEqual(got.records.slice(0, prefix.length), prefix)) {
        problems.push(`${key}: the ${prefix.length} outbox records before offset ${damageAt} were not all recovered (got ${got.records.length})`);
      }
      const droppedIntact = mutated !== undefined && lost.some(({ frame }) => mutated.indexOf(frame, damageAt) >= 0 && !got.records.some((r) => isDeepStrictEqual(r, parseRecordLog(frame, { file: '', strict: false }).records[0])));
      if (droppedIntact && !errorNames(ctx, log.source)) problems.push(`${key}: intact outbox records after the damage were dropped without a note`);
    }
  }
  return problems;
}

// ---- the run ----

export async function run(options: CorruptOptions): Promise<CorruptResult> {
  const started = performance.now();
  const { seed, mutations, truncations, cliEvery } = options;
  const log = options.log ?? (() => {});
  const random = new Random(seed);
  const violations: string[] = [];
  const byKind: Record<string, KindFigures> = {};
  const explained: Record<string, number> = {};
  const unhandled = { count: 0 };
  const slow = { count: 0 };
  const onUnhandled = (error: unknown) => {
    unhandled.count += 1;
    violations.push(`unhandled: ${(error as Error)?.stack ?? String(error)}`);
  };
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  const template = fs.mkdtempSync(path.join(FAST_TMP, 'll-corrupt-'));
  const result: CorruptResult = {
    seed,
    mutations: 0,
    byKind,
    truncationCoverage: { done: 0, total: 0 },
    template: { files: 0, bytes: 0, tasks: 0, updates: 0, acks: 0, outboxRecords: 0 },
    crashes: 0,
    unhandled: 0,
    hangs: 0,
    slow: 0,
    treeModified: 0,
    explained,
    cli: { runs: 0, agreed: 0 },
    prefixRecordsChecked: 0,
    violations,
    wallMs: 0,
  };
  try {
    log('corrupt: building a checkpoint from a live agent');
    await liveCheckpoint(template);
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const baseState = await recoverState(template, { strict: true, bootId });
    if (baseState.errors.length > 0) throw new Error(`the template checkpoint has errors: ${JSON.stringify(baseState.errors)}`);
    const base = extract(baseState, template);
    const entries = listEntries(template);
    const original = new Map<string, Buffer>();
    for (const entry of entries) if (entry.kind === 'file') original.set(entry.rel, fs.readFileSync(path.join(template, entry.rel)));
    const tasks = baseState.frameworks.flatMap((f) => f.executors.flatMap((e) => e.runs.flatMap((r) => r.tasks)));
    result.template = {
      files: entries.filter((e) => e.kind === 'file' && isCheckpointEntry(e.rel)).length,
      bytes: entries.filter((e) => e.kind === 'file' && isCheckpointEntry(e.rel)).reduce((sum, e) => sum + e.size, 0),
      tasks: tasks.length,
      updates: tasks.reduce((sum, t) => sum + t.updates.length, 0),
      acks: tasks.reduce((sum, t) => sum + t.acks.length, 0),
      outboxRecords: [...base.logs.values()].reduce((sum, l) => sum + l.records.length, 0),
    };
    // The sweep: every (file, offset) of the checkpoint's non-empty files, in a seeded order.
    const sweep: Array<{ rel: string; offset: number }> = [];
    for (const entry of entries) {
      if (entry.kind !== 'file' || !isCheckpointEntry(entry.rel)) continue;
      for (let offset = 0; offset < entry.size; offset++) sweep.push({ rel: entry.rel, offset });
    }
    for (let i = sweep.length - 1; i > 0; i--) {
      const j = random.int(0, i);
      [sweep[i], sweep[j]] = [sweep[j]!, sweep[i]!];
    }
    const sweepCount = truncations < 0 ? sweep.length : Math.min(truncations, sweep.length);
    result.truncationCoverage = { done: sweepCount, total: sweep.length };
    const total = mutations + sweepCount;
    let fifoOk = true;
    try {
      execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
    } catch {
      fifoOk = false;
    }
    log(`corrupt: template has ${result.template.files} checkpoint files (${result.template.bytes} bytes), ${result.template.tasks} tasks; ${total} mutations`);
    for (let i = 0; i < total; i++) {
      const truncation = i < sweepCount ? sweep[i] : undefined;
      const work = fs.mkdtempSync(path.join(FAST_TMP, 'll-mut-'));
      try {
        copyTree(template, work);
        const mutation = applyMutation(work, entries, random, truncation, fifoOk);
        const context = `seed ${seed}, mutation ${i}: ${mutation.description}`;
        const figures = (byKind[mutation.kind] ??= { mutations: 0, strictRecovered: 0, strictRefused: 0, lenientRecovered: 0, lenientWithErrors: 0, crashed: 0 });
        figures.mutations += 1;
        result.mutations += 1;
        const before = treeSnapshot(work);
        const outcomes: Record<'strict' | 'lenient', Outcome> = { strict: await attempt(work, true, bootId, unhandled, slow), lenient: await attempt(work, false, bootId, unhandled, slow) };
        for (const mode of ['strict', 'lenient'] as const) {
          const outcome = outcomes[mode];
          if (outcome.result === 'crashed') {
            figures.crashed += 1;
            result.crashes += 1;
            if (outcome.why?.includes('hang')) result.hangs += 1;
            violations.push(`crash (${mode}): ${outcome.why} (${context})`);
            continue;
          }
          if (mode === 'strict') {
            if (outcome.result === 'recovered') figures.strictRecovered += 1;
            else figures.strictRefused += 1;
            if (outcome.result === 'refused' && mutation.harmless) violations.push(`strict refused a harmless mutation: ${outcome.error!.message} (${context})`);
          } else {
            if (outcome.result === 'refused') {
              violations.push(`non-strict recovery refused: ${outcome.error!.message} (${context})`);
              continue;
            }
            figures.lenientRecovered += 1;
            if (outcome.state!.errors.length > 0) figures.lenientWithErrors += 1;
          }
          if (outcome.result !== 'recovered') continue;
          const checked = { n: 0 };
          const problems = compare({ root: work, strict: mode === 'strict', mutation, state: outcome.state!, original, explained }, base, checked);
          result.prefixRecordsChecked += checked.n;
          for (const problem of problems) violations.push(`${mode === 'strict' ? 'strict recovery dropped data silently' : 'non-strict lost data'}: ${problem} (${context})`);
        }
        if (cliEvery > 0 && i % cliEvery === cliEvery - 1) {
          const strict = (i / cliEvery) % 2 < 1;
          const problem = await checkCli(work, strict, outcomes[strict ? 'strict' : 'lenient']);
          result.cli.runs += 1;
          if (problem) violations.push(`lifeline inspect --strict=${strict}: ${problem} (${context})`);
          else result.cli.agreed += 1;
        }
        if (treeSnapshot(work) !== before) {
          result.treeModified += 1;
          violations.push(`recovery modified the tree (${context})`);
        }
      } finally {
        removeDir(work);
      }
      if (i % 500 === 499) log(`corrupt: ${i + 1}/${total} mutations, ${violations.length} violations`);
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    removeDir(template);
  }
  result.unhandled = unhandled.count;
  result.slow = slow.count;
  result.wallMs = performance.now() - started;
  return result;
}

/** `lifeline inspect` as a real process must agree with the in-process outcome; returns a problem or undefined. */
async function checkCli(work: string, strict: boolean, inProcess: Outcome): Promise<string | undefined> {
  const proc = lifeline(['inspect', `--work_dir=${work}`, `--strict=${strict}`, '--json']);
  let exit: { code: number | null; signal: NodeJS.Signals | null };
  try {
    exit = await proc.waitForExit(30_000);
  } catch {
    proc.signal('SIGKILL');
    await proc.exited;
    return 'no exit within 30 s (hang)';
  }
  if (inProcess.result === 'refused') {
    if (exit.code !== 1) return `exit ${exit.code} where the in-process read refused (${inProcess.error!.message}); stderr: ${proc.stderr.slice(0, 500)}`;
    if (!proc.stderr.includes(inProcess.error!.file)) return `stderr does not name ${inProcess.error!.file}: ${proc.stderr.slice(0, 500)}`;
    return undefined;
  }
  if (inProcess.result === 'recovered') {
    if (exit.code !== 0) return `exit ${exit.code} where the in-process read recovered; stderr: ${proc.stderr.slice(0, 500)}`;
    try {
      JSON.parse(proc.stdout);
    } catch {
      return `--json output is not JSON: ${proc.stdout.slice(0, 200)}`;
    }
    return undefined;
  }
  return undefined; // the in-process crash is reported already
}

export function printReport(result: CorruptResult): void {
  const rows = Object.entries(result.byKind)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([kind, f]) => [kind, f.mutations, f.strictRecovered, f.strictRefused, f.lenientRecovered, f.lenientWithErrors, f.crashed]);
  const sum = (key: keyof KindFigures) => Object.values(result.byKind).reduce((s, f) => s + f[key], 0);
  rows.push(['total', sum('mutations'), sum('strictRecovered'), sum('strictRefused'), sum('lenientRecovered'), sum('lenientWithErrors'), sum('crashed')]);
  printTable(`checkpoint corruption, seed ${result.seed}: outcomes per mutation kind`, ['mutation', 'runs', 'strict recovered', 'strict refused', 'non-strict recovered', 'with errors listed', 'crashed'], rows);
  const t = result.template;
  printTable('checks', ['figure', 'value'], [
    ['template: checkpoint files / bytes', `${t.files} / ${t.bytes}`],
    ['template: tasks / updates / acks / outbox records', `${t.tasks} / ${t.updates} / ${t.acks} / ${t.outboxRecords}`],
    ['truncation sweep: offsets done / all', `${result.truncationCoverage.done} / ${result.truncationCoverage.total}`],
    ['crashes (other errors, no file named, hangs)', result.crashes],
    ['  of which hangs (not settled in 70 s)', result.hangs],
    ['recoveries slower than 10 s that settled (load)', result.slow],
    ['unhandled rejections / exceptions', result.unhandled],
    ['recoveries that modified the tree', result.treeModified],
    ['records checked in recovered prefixes', result.prefixRecordsChecked],
    ...Object.entries(result.explained).sort().map(([reason, n]) => [`accepted difference: ${reason}`, n] as [string, number]),
    ['lifeline inspect runs agreeing / run', `${result.cli.agreed} / ${result.cli.runs}`],
    ['violations', result.violations.length],
    ['wall time', `${(result.wallMs / 1000).toFixed(1)} s`],
  ]);
  for (const violation of result.violations.slice(0, 50)) process.stdout.write(`VIOLATION ${violation}\n`);
  if (result.violations.length > 50) process.stdout.write(`… and ${result.violations.length - 50} more\n`);
}
