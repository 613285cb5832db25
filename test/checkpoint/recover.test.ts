import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  agentDir,
  CheckpointCorruptError,
  executorInfoPath,
  frameworkDir,
  frameworkInfoPath,
  frameworksDir,
  latestAgentPath,
  latestRunPath,
  outboxPath,
  parseRecordLog,
  recoverState,
  runsDir,
  sandboxDir,
  shimInfoPath,
  taskInfoPath,
  taskUpdatesPath,
  type RecoveredRun,
  type RecoveredState,
} from '../../src/checkpoint/index.js';
import { AGENT, BOOT, copyTree, TOKEN_HASH, treeSnapshot, writeSample, type Sample, type SampleRun } from '../fixtures/checkpoint-sample.js';
import { FAST_TMP, removeDir, tempDir } from '../helpers.js';

let template = '';
let sample: Sample;
let dir = '';

// The fuzz loop copies the checkpoint hundreds of times: on FAST_TMP (tmpfs when there is one).
/** A fresh copy of the sample checkpoint for one test (symlinks copied as they are). */
function copySample(root?: string): string {
  const copy = root ? fs.mkdtempSync(path.join(root, 'll-fuzz-')) : tempDir('ll-recover-');
  copyTree(template, copy);
  return copy;
}

function findRun(state: RecoveredState, containerId: string): RecoveredRun {
  for (const framework of state.frameworks) {
    for (const executor of framework.executors) {
      const run = executor.runs.find((candidate) => candidate.containerId === containerId);
      if (run) return run;
    }
  }
  return assert.unreachable(`no run ${containerId}`) as never;
}
function sampleRun(containerId: string): SampleRun {
  return sample.runs.find((run) => run.ref.containerId === containerId)!;
}
function taskFile(taskId: string, kind: 'updates' | 'info' = 'updates'): string {
  const task = sample.tasks.find((candidate) => candidate.ref.taskId === taskId)!;
  return kind === 'updates' ? taskUpdatesPath(dir, task.ref) : taskInfoPath(dir, task.ref);
}

/** Strict recovery must throw a CheckpointCorruptError naming `file` and the two ways out, and change nothing. */
async function expectStrictFailure(file: string, detail: RegExp, offset?: number): Promise<CheckpointCorruptError> {
  const before = treeSnapshot(dir);
  try {
    await recoverState(dir, { strict: true, bootId: BOOT });
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    const corrupt = error as CheckpointCorruptError;
    assert.is(corrupt.code, 'ERR_CHECKPOINT_CORRUPT');
    assert.is(corrupt.file, file);
    assert.is(corrupt.offset, offset);
    assert.ok(corrupt.message.includes(file), corrupt.message);
    if (offset !== undefined) assert.ok(corrupt.message.includes(`at offset ${offset}`), corrupt.message);
    assert.match(corrupt.message, detail);
    assert.match(corrupt.message, /--strict=false/);
    assert.ok(corrupt.message.includes(latestAgentPath(dir)), corrupt.message);
    assert.is(treeSnapshot(dir), before, 'strict recovery changed the checkpoint');
    return corrupt;
  }
  return assert.unreachable('expected strict recovery to fail') as never;
}

/** Non-strict recovery: resolves, changes nothing. */
async function lenient(): Promise<RecoveredState> {
  const before = treeSnapshot(dir);
  const state = await recoverState(dir, { strict: false, bootId: BOOT });
  assert.is(treeSnapshot(dir), before, 'non-strict recovery changed the checkpoint');
  return state;
}

function ids(state: RecoveredState): string[] {
  const out: string[] = [];
  for (const framework of state.frameworks) {
    for (const executor of framework.executors) {
      for (const run of executor.runs) for (const task of run.tasks) out.push(`${framework.id}/${executor.id}/${run.containerId}/${task.id}`);
      if (executor.runs.length === 0) out.push(`${framework.id}/${executor.id}`);
    }
  }
  return out.sort();
}
const ALL = ['f1/e1/c-new/t1', 'f1/e1/c-new/t2', 'f1/e1/c-old/t0', 'f1/t3/c3/t3', 'f2/e2/c4/t4'];

const recover = suite('recoverState');
recover.before(async () => {
  template = tempDir('ll-sample-');
  sample = await writeSample(template);
});
recover.after(() => removeDir(template));
recover.before.each(() => {
  dir = copySample(FAST_TMP);
});
recover.after.each(() => removeDir(dir));

recover('reads back everything the Checkpointer wrote: agent, frameworks, executors, runs, tasks, updates and acks', async () => {
  const state = await recoverState(dir, { strict: true, bootId: BOOT });
  assert.is(state.agentId, AGENT);
  assert.equal(state.agentInfo, sample.agentInfo);
  assert.is(state.recordedBootId, BOOT);
  assert.is(state.hostBootId, BOOT);
  assert.is(state.rebooted, false);
  assert.equal(state.errors, []);
  assert.equal(state.repairs, []);
  assert.equal(state.strayTempFiles, []);
  assert.equal(
    state.frameworks.map((framework) => [framework.id, framework.info]),
    sample.frameworks.map((framework) => [framework.id, { id: framework.id, name: framework.name, checkpoint: true }]),
  );
  assert.equal(ids(state), ALL);
  for (const framework of sample.frameworks) {
    const got = state.frameworks.find((candidate) => candidate.id === framework.id)!;
    for (const executor of framework.executors) {
      const gotExecutor = got.executors.find((candidate) => candidate.id === executor.id)!;
      assert.is(gotExecutor.generated, executor.generated);
      assert.equal(gotExecutor.info, { executorId: executor.id, frameworkId: framework.id, command: { value: executor.command } });
      assert.is(gotExecutor.latest, executor.latest);
    }
  }
  for (const run of sample.runs) {
    const got = findRun(state, run.ref.containerId);
    assert.equal(got.forked, run.forked);
    assert.is(got.tokenHash, TOKEN_HASH);
    assert.is(got.completed, run.completed);
    assert.is(got.sandbox, sandboxDir(dir, run.ref));
    assert.is(got.shim !== undefined, run.shim);
    if (run.shim) {
      assert.is(got.shim!.pid, run.forked!.pid);
      assert.equal(got.outbox, run.outbox);
    } else assert.is(got.outbox, undefined);
    for (const task of run.tasks) {
      const gotTask = got.tasks.find((candidate) => candidate.id === task.ref.taskId)!;
      const { data, ...info } = task.info;
      const { data: gotData, ...gotInfo } = gotTask.info;
      assert.equal(gotInfo, info);
      assert.equal(gotData && [...gotData], data && [...data]);
      assert.equal(gotTask.updates, task.updates);
      assert.equal(gotTask.acks, task.acks);
    }
  }
});

recover('yields to the event loop while it reads (its file reads are synchronous): timers and requests are still served', async () => {
  // The sample has three executors: the reader yields before each. Without yields, the whole read
  // would run in microtasks and resolve before any macrotask could run.
  let ticks = 0;
  const tick = () => {
    ticks++;
    if (!done) setImmediate(tick);
  };
  let done = false;
  setImmediate(tick);
  const state = await recoverState(dir, { strict: true, bootId: BOOT });
  done = true;
  assert.equal(ids(state), ALL);
  assert.ok(ticks >= 3, `the event loop ran ${ticks} times during the read, expected at least once per executor (3)`);
});

recover('a work dir without meta/agents/latest has nothing to recover', async () => {
  const empty = tempDir('ll-empty-');
  try {
    const state = await recoverState(empty, { strict: true, bootId: BOOT });
    assert.is(state.agentId, undefined);
    assert.is(state.rebooted, false);
    assert.equal(state.frameworks, []);
    fs.rmSync(latestAgentPath(dir));
    const withoutLatest = await recoverState(dir, { strict: true, bootId: BOOT });
    assert.is(withoutLatest.agentId, undefined);
    assert.equal(withoutLatest.errors, []);
  } finally {
    removeDir(empty);
  }
});

recover('after a reboot no recorded pid is trusted: forked and shim are dropped, the outbox is kept', async () => {
  const state = await recoverState(dir, { strict: true, bootId: 'another-boot' });
  assert.ok(state.rebooted);
  assert.is(state.recordedBootId, BOOT);
  for (const run of sample.runs) {
    const got = findRun(state, run.ref.containerId);
    assert.is(got.forked, undefined);
    assert.is(got.shim, undefined);
    if (run.shim) assert.equal(got.outbox, run.outbox);
  }
  // Without a recorded boot id there is nothing to compare: not a reboot.
  fs.rmSync(path.join(dir, 'meta', 'boot_id'));
  const first = await recoverState(dir, { strict: true, bootId: 'another-boot' });
  assert.not.ok(first.rebooted);
  assert.ok(findRun(first, 'c4').forked);
});

recover('a corrupt framework.json fails strict recovery; non-strict skips that framework only', async () => {
  const file = frameworkInfoPath(dir, { agentId: AGENT, frameworkId: 'f1' });
  fs.writeFileSync(file, '{"id": "f1", "name": ');
  await expectStrictFailure(file, /not valid JSON/);
  const state = await lenient();
  assert.equal(ids(state), ['f2/e2/c4/t4']);
  assert.is(state.errors.length, 1);
  assert.is(state.errors[0]!.file, file);
  assert.match(state.errors[0]!.message, /framework "f1" was skipped/);
  // Valid JSON of the wrong shape is just as corrupt.
  fs.writeFileSync(file, JSON.stringify({ id: 'f1', name: 42 }));
  await expectStrictFailure(file, /field name/);
});

recover('a corrupt record in the middle of task.updates: strict names file and offset and changes nothing; non-strict keeps what precedes it', async () => {
  const file = taskFile('t2');
  const original = fs.readFileSync(file);
  const { offsets, records } = parseRecordLog(original, { file });
  assert.is(records.length, 5);
  const damaged = Buffer.from(original);
  damaged[offsets[2]! + 12 + 3]! ^= 0xff; // a payload byte of the third record
  fs.writeFileSync(file, damaged);
  await expectStrictFailure(file, /payload CRC mismatch/, offsets[2]);
  assert.ok(fs.readFileSync(file).equals(damaged), 'the log was modified');
  const state = await lenient();
  const task = findRun(state, 'c-new').tasks.find((candidate) => candidate.id === 't2')!;
  const expected = sample.tasks.find((candidate) => candidate.ref.taskId === 't2')!;
  assert.equal(task.updates, expected.updates.slice(0, 1));
  assert.equal(task.acks, expected.acks.slice(0, 1));
  assert.equal(state.repairs, [{ file, length: offsets[2]!, reason: 'corruption' }]);
  assert.is(state.errors.length, 1);
  assert.is(state.errors[0]!.offset, offsets[2]);
  assert.equal(ids(state), ALL);
});

recover('a torn tail is no error in either mode: it is returned as a repair', async () => {
  const file = taskFile('t2');
  const original = fs.readFileSync(file);
  const { offsets } = parseRecordLog(original, { file });
  fs.writeFileSync(file, original.subarray(0, original.length - 5));
  for (const strict of [true, false]) {
    const before = treeSnapshot(dir);
    const state = await recoverState(dir, { strict, bootId: BOOT });
    assert.is(treeSnapshot(dir), before);
    assert.equal(state.errors, []);
    assert.equal(state.repairs, [{ file, length: offsets[4]!, reason: 'torn-tail' }]);
    const task = findRun(state, 'c-new').tasks.find((candidate) => candidate.id === 't2')!;
    assert.is(task.updates.length, 2);
    assert.is(task.acks.length, 2);
  }
  // A damaged last record is a torn tail too (the crash happened while writing it).
  const flipped = Buffer.from(original);
  flipped[flipped.length - 2]! ^= 0x55;
  fs.writeFileSync(file, flipped);
  const state = await recoverState(dir, { strict: true, bootId: BOOT });
  assert.equal(state.repairs, [{ file, length: offsets[4]!, reason: 'torn-tail' }]);
});

recover('a dangling agents/latest fails strict recovery; non-strict starts afresh', async () => {
  const link = latestAgentPath(dir);
  fs.rmSync(link);
  fs.symlinkSync('agent-gone', link);
  await expectStrictFailure(link, /dangling/);
  const state = await lenient();
  assert.is(state.agentId, undefined);
  assert.equal(state.frameworks, []);
  assert.is(state.errors[0]!.file, link);
  assert.match(state.errors[0]!.message, /starts afresh/);
});

// Found by the corrupt fault run (scripts/faults/corrupt.ts): meta/agents replaced by a symlink to
// /tmp made strict recovery find "no agent" and start afresh silently, reading outside the work dir.
recover('a symlink in place of meta/ or meta/agents/ is damage: strict refuses, non-strict starts afresh and lists it', async () => {
  const outside = tempDir('ll-outside-');
  try {
    fs.writeFileSync(path.join(outside, '.agent.json.tmp-0123456789ab'), '{');
    for (const target of [path.join(dir, 'meta', 'agents'), path.join(dir, 'meta')]) {
      const saved = `${target}.saved`;
      fs.renameSync(target, saved);
      fs.symlinkSync(outside, target);
      await expectStrictFailure(target, /expected a directory, found a symlink/);
      const state = await lenient();
      assert.is(state.agentId, undefined);
      assert.equal(state.strayTempFiles, [], 'stray temp files outside the work dir are not listed (the agent would remove them)');
      assert.is(state.errors[0]!.file, target);
      assert.match(state.errors[0]!.message, /starts afresh/);
      fs.rmSync(target);
      fs.renameSync(saved, target);
    }
    assert.equal(ids(await lenient()), ALL);
  } finally {
    removeDir(outside);
  }
});

// Found by the corrupt fault run: a sandbox's .lifeline/ replaced by a symlink (to / there) made
// shim.json and outbox.log silently absent, read through the link from outside the work dir.
recover("a symlink in place of a run's sandbox or its .lifeline/ is noted and its executor files are not read through it", async () => {
  const run = sampleRun('c4');
  const sandbox = sandboxDir(dir, run.ref);
  const elsewhere = tempDir('ll-elsewhere-');
  try {
    for (const target of [path.join(sandbox, '.lifeline'), sandbox]) {
      const saved = `${target}.saved`;
      fs.renameSync(target, saved);
      fs.cpSync(saved, path.join(elsewhere, path.basename(target)), { recursive: true });
      fs.symlinkSync(path.join(elsewhere, path.basename(target)), target);
      for (const strict of [true, false]) {
        const before = treeSnapshot(dir);
        const state = await recoverState(dir, { strict, bootId: BOOT });
        assert.is(treeSnapshot(dir), before);
        const recovered = findRun(state, 'c4');
        assert.is(recovered.shim, undefined);
        assert.is(recovered.outbox, undefined);
        const note = state.errors.find((e) => e.file === target);
        assert.ok(note, JSON.stringify(state.errors));
        assert.is(note!.source, 'sandbox');
        assert.match(note!.message, /expected a directory, found a symlink/);
        assert.equal(recovered.tasks.map((t) => t.updates.length), run.tasks.map((t) => t.updates.length));
      }
      fs.rmSync(target);
      fs.renameSync(saved, target);
      fs.rmSync(path.join(elsewhere, path.basename(target)), { recursive: true });
    }
    assert.ok(findRun(await lenient(), 'c4').shim);
  } finally {
    removeDir(elsewhere);
  }
});

// Found by the corrupt fault run: a run without token.sha256 was recovered silently in strict mode,
// with an empty hash that refuses every SUBSCRIBE, so its live executor and tasks were lost unexplained.
recover("a run directory without its token.sha256 is damage: strict names it, non-strict skips that run", async () => {
  const run = sampleRun('c4');
  const file = path.join(path.dirname(latestRunPath(dir, run.ref)), 'c4', 'token.sha256');
  fs.rmSync(file);
  await expectStrictFailure(file, /missing/);
  const state = await lenient();
  assert.equal(ids(state), ALL.filter((id) => !id.includes('/c4/')).concat(['f2/e2']).sort());
  assert.ok(state.errors.some((e) => e.file === file && /run "c4" of executor e2 was skipped/.test(e.message)), JSON.stringify(state.errors));
});

recover('looping latest symlinks are damage, not a hang or an ELOOP crash', async () => {
  const link = latestAgentPath(dir);
  fs.rmSync(link);
  fs.symlinkSync('latest', link);
  await expectStrictFailure(link, /symlink loop/);
  fs.rmSync(link);
  fs.symlinkSync(AGENT, link);
  // runs/latest -> loop-a -> loop-b -> loop-a
  const executor = { agentId: AGENT, frameworkId: 'f1', executorId: 'e1' };
  const runLink = latestRunPath(dir, executor);
  fs.rmSync(runLink);
  fs.symlinkSync('loop-a', runLink);
  fs.symlinkSync('loop-b', path.join(runsDir(dir, executor), 'loop-a'));
  fs.symlinkSync('loop-a', path.join(runsDir(dir, executor), 'loop-b'));
  await expectStrictFailure(runLink, /symlink/);
  const state = await lenient();
  assert.equal(ids(state), ['f1/t3/c3/t3', 'f2/e2/c4/t4']);
  assert.ok(state.errors.length >= 1);
});

recover('a zero-length executor.json fails strict recovery; non-strict skips that executor', async () => {
  const file = executorInfoPath(dir, { agentId: AGENT, frameworkId: 'f2', executorId: 'e2' });
  fs.writeFileSync(file, '');
  await expectStrictFailure(file, /empty/);
  const state = await lenient();
  assert.equal(ids(state), ALL.filter((id) => !id.startsWith('f2/')));
  assert.equal(state.frameworks.map((framework) => framework.id), ['f1', 'f2']);
});

recover('a stray temp file is listed, not an error, in both modes', async () => {
  const stray = path.join(frameworkDir(dir, { agentId: AGENT, frameworkId: 'f1' }), '.framework.json.tmp-00112233aabb');
  fs.writeFileSync(stray, '{"half": ');
  for (const strict of [true, false]) {
    const state = await recoverState(dir, { strict, bootId: BOOT });
    assert.equal(state.strayTempFiles, [stray]);
    assert.equal(state.errors, []);
    assert.equal(ids(state), ALL);
  }
});

recover('a damaged shim.json or outbox.log is noted but never fatal, even in strict mode', async () => {
  const run = sampleRun('c4');
  const sandbox = sandboxDir(dir, run.ref);
  fs.writeFileSync(shimInfoPath(sandbox), '{"pid": 12');
  const outbox = fs.readFileSync(outboxPath(sandbox));
  const { offsets } = parseRecordLog(outbox, { file: 'outbox' });
  const damaged = Buffer.from(outbox);
  damaged[offsets[1]! + 14]! ^= 0xff;
  fs.writeFileSync(outboxPath(sandbox), damaged);
  const before = treeSnapshot(dir);
  const state = await recoverState(dir, { strict: true, bootId: BOOT });
  assert.is(treeSnapshot(dir), before);
  const got = findRun(state, 'c4');
  assert.is(got.shim, undefined);
  assert.ok(got.forked, 'forked.json still identifies the run');
  assert.equal(got.outbox, run.outbox.slice(0, 1));
  assert.equal(state.errors.map((error) => [error.file, error.offset, error.source]), [
    [shimInfoPath(sandbox), undefined, 'sandbox'],
    [outboxPath(sandbox), offsets[1], 'sandbox'],
  ]);
  assert.match(state.errors[0]!.message, /written by the executor/);
  assert.equal(state.repairs, [], 'the executor’s outbox is not the agent’s to truncate');
  // A shim.json naming another run is not trusted either; a missing one is no error.
  fs.writeFileSync(shimInfoPath(sandbox), JSON.stringify({ pid: 5, startTime: 1, protocol: 1, executorId: 'e2', containerId: 'other', tasks: [] }));
  fs.rmSync(outboxPath(sandbox));
  const again = await recoverState(dir, { strict: true, bootId: BOOT });
  assert.is(findRun(again, 'c4').shim, undefined);
  assert.is(findRun(again, 'c4').outbox, undefined);
  assert.equal(again.errors.map((error) => error.file), [shimInfoPath(sandbox)]);
});

recover('a directory name that is not an ID, or a file where a directory should be, is damage', async () => {
  const frameworks = frameworksDir(dir, { agentId: AGENT });
  fs.mkdirSync(path.join(frameworks, 'bad name'));
  await expectStrictFailure(path.join(frameworks, 'bad name'), /not a valid frameworkId/);
  fs.rmdirSync(path.join(frameworks, 'bad name'));
  fs.writeFileSync(path.join(frameworks, 'f3'), 'not a directory');
  await expectStrictFailure(path.join(frameworks, 'f3'), /found a file/);
  const state = await lenient();
  assert.equal(ids(state), ALL);
  assert.is(state.errors.length, 1);
});

recover('a directory without its required info file is damage (the writer never leaves one)', async () => {
  const orphan = frameworkDir(dir, { agentId: AGENT, frameworkId: 'f9' });
  fs.mkdirSync(orphan);
  await expectStrictFailure(path.join(orphan, 'framework.json'), /missing/);
  fs.rmdirSync(orphan);
  fs.rmSync(taskFile('t4', 'info'));
  await expectStrictFailure(taskFile('t4', 'info'), /missing/);
  const state = await lenient();
  assert.equal(ids(state), ALL.filter((id) => id !== 'f2/e2/c4/t4').concat([]).sort());
});

recover('a missing task.updates keeps the task with no updates in non-strict mode', async () => {
  fs.rmSync(taskFile('t1'));
  await expectStrictFailure(taskFile('t1'), /missing/);
  const state = await lenient();
  const task = findRun(state, 'c-new').tasks.find((candidate) => candidate.id === 't1')!;
  assert.equal(task.updates, []);
  assert.match(state.errors[0]!.message, /kept with no updates/);
});

recover('files of the wrong kind (a FIFO, a symlink, a directory) are damage and never hang the reader', async () => {
  const info = taskFile('t4', 'info');
  fs.rmSync(info);
  execFileSync('mkfifo', [info]);
  await expectStrictFailure(info, /special file/);
  fs.rmSync(info);
  fs.symlinkSync('task.json', info); // a symlink to itself
  await expectStrictFailure(info, /symlink/);
  fs.rmSync(info);
  fs.mkdirSync(info);
  await expectStrictFailure(info, /directory/);
  const state = await lenient();
  assert.equal(ids(state), ALL.filter((id) => id !== 'f2/e2/c4/t4'));
});

recover('an info file stored under another ID is damage', async () => {
  const file = frameworkInfoPath(dir, { agentId: AGENT, frameworkId: 'f2' });
  fs.writeFileSync(file, JSON.stringify({ id: 'f1', name: 'batch', checkpoint: true }));
  await expectStrictFailure(file, /stored under "f2"/);
});

recover('a damaged boot_id fails strict recovery; non-strict assumes a reboot', async () => {
  const file = path.join(dir, 'meta', 'boot_id');
  fs.writeFileSync(file, '');
  await expectStrictFailure(file, /empty/);
  const state = await lenient();
  assert.ok(state.rebooted);
  assert.is(findRun(state, 'c4').forked, undefined);
});

recover('an agent.json that is not an agent fails strict recovery; non-strict starts afresh', async () => {
  const file = path.join(agentDir(dir, { agentId: AGENT }), 'agent.json');
  fs.writeFileSync(file, '[1, 2]');
  await expectStrictFailure(file, /expected a JSON object/);
  const state = await lenient();
  assert.is(state.agentId, undefined);
  assert.is(state.agentInfo, undefined);
});

recover('refuses bad options by name', async () => {
  for (const options of [{}, { strict: 'yes' }, { strict: true, bootId: 7 }]) {
    try {
      await recoverState(dir, options as never);
      assert.unreachable('expected a refusal');
    } catch (error) {
      assert.match((error as Error).message, /option (strict|bootId)/);
    }
  }
});

recover.run();

// ---- fuzz: a few hundred random mutations of a real checkpoint ----

/** mulberry32: a small seeded PRNG, so that a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function entries(root: string): Array<{ path: string; kind: 'file' | 'dir' | 'link' }> {
  const out: Array<{ path: string; kind: 'file' | 'dir' | 'link' }> = [];
  const walk = (current: string) => {
    for (const name of fs.readdirSync(current)) {
      const full = path.join(current, name);
      const stats = fs.lstatSync(full);
      if (stats.isSymbolicLink()) out.push({ path: full, kind: 'link' });
      else if (stats.isDirectory()) {
        out.push({ path: full, kind: 'dir' });
        walk(full);
      } else out.push({ path: full, kind: 'file' });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

function mutate(root: string, random: () => number): string {
  const all = entries(root);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  const files = all.filter((entry) => entry.kind === 'file');
  const target = pick(random() < 0.8 && files.length > 0 ? files : all);
  const rel = path.relative(root, target.path);
  const op = Math.floor(random() * 10);
  try {
    switch (op) {
      case 0: {
        if (target.kind !== 'file') break;
        const size = fs.statSync(target.path).size;
        const length = Math.floor(random() * size);
        fs.truncateSync(target.path, length);
        return `truncate ${rel} to ${length}`;
      }
      case 1:
      case 2: {
        if (target.kind !== 'file') break;
        const bytes = fs.readFileSync(target.path);
        if (bytes.length === 0) break;
        const at = Math.floor(random() * bytes.length);
        bytes[at]! ^= 1 + Math.floor(random() * 255);
        fs.writeFileSync(target.path, bytes);
        return `flip byte ${at} of ${rel}`;
      }
      case 3:
        fs.rmSync(target.path, { recursive: true, force: true });
        return `delete ${rel}`;
      case 4:
        if (target.kind !== 'file') break;
        fs.writeFileSync(target.path, '');
        return `empty ${rel}`;
      case 5:
        fs.rmSync(target.path, { recursive: true, force: true });
        if (target.kind === 'dir') fs.writeFileSync(target.path, 'was a directory');
        else fs.mkdirSync(target.path);
        return `swap file/dir ${rel}`;
      case 6:
        fs.rmSync(target.path, { recursive: true, force: true });
        fs.symlinkSync(random() < 0.5 ? path.basename(target.path) : 'nowhere', target.path);
        return `symlink ${rel} to itself or nowhere`;
      case 7: {
        if (target.kind !== 'file') break;
        const garbage = Buffer.alloc(1 + Math.floor(random() * 64));
        for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
        fs.appendFileSync(target.path, garbage);
        return `append ${garbage.length} random bytes to ${rel}`;
      }
      case 8: {
        const parent = target.kind === 'dir' ? target.path : path.dirname(target.path);
        const name = random() < 0.5 ? '.x.json.tmp-0123456789ab' : 'not an id';
        fs.writeFileSync(path.join(parent, name), '{');
        return `create ${path.relative(root, path.join(parent, name))}`;
      }
      case 9: {
        if (target.kind !== 'file') break;
        const bytes = fs.readFileSync(target.path);
        const text = bytes.toString('utf8');
        if (!text.startsWith('{')) break;
        fs.writeFileSync(target.path, JSON.stringify({ ...JSON.parse(text), pid: 'x', id: 7, taskId: null }));
        return `wrong types in ${rel}`;
      }
    }
  } catch {
    // a mutation that does not apply (the parent was deleted by an earlier one): none
  }
  return 'none';
}

const fuzz = suite('recoverState fuzz');
const ITERATIONS = Number(process.env.LIFELINE_FUZZ_ITERATIONS ?? 200);
fuzz.before(async () => {
  template = fs.mkdtempSync(path.join(FAST_TMP, 'll-sample-'));
  sample = await writeSample(template);
});
fuzz.after(() => removeDir(template));

fuzz('on hundreds of random mutations it only resolves or throws CheckpointCorruptError, never changing a file', async () => {
  const seed = Number(process.env.LIFELINE_FUZZ_SEED ?? 0x5eed_c0de);
  const random = prng(seed);
  let strictFailures = 0;
  let lenientErrors = 0;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const work = copySample(FAST_TMP);
    try {
      const mutations: string[] = [];
      const count = 1 + Math.floor(random() * 3);
      for (let i = 0; i < count; i++) mutations.push(mutate(work, random));
      const context = `seed ${seed}, iteration ${iteration}: ${mutations.join('; ')}`;
      const before = treeSnapshot(work);
      try {
        await recoverState(work, { strict: true, bootId: BOOT });
      } catch (error) {
        if (!(error instanceof CheckpointCorruptError)) throw new Error(`strict recovery threw ${(error as Error)?.stack} (${context})`);
        assert.match(error.message, /--strict=false/, context);
        strictFailures += 1;
      }
      let state: RecoveredState;
      try {
        state = await recoverState(work, { strict: false, bootId: BOOT });
      } catch (error) {
        throw new Error(`non-strict recovery threw ${(error as Error)?.stack} (${context})`);
      }
      lenientErrors += state.errors.length;
      for (const repair of state.repairs) assert.ok(repair.length <= fs.statSync(repair.file).size, context);
      assert.is(treeSnapshot(work), before, `recovery changed the checkpoint (${context})`);
    } finally {
      removeDir(work);
    }
  }
  // The mutations did hit: most iterations damage something recovery notices.
  if (process.env.LIFELINE_FUZZ_VERBOSE) console.log({ strictFailures, lenientErrors });
  assert.ok(strictFailures > ITERATIONS / 3, `only ${strictFailures} strict failures`);
  assert.ok(lenientErrors > ITERATIONS / 3, `only ${lenientErrors} non-strict errors`);
});

fuzz.run();
