import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Checkpointer,
  encodeRecords,
  executorDir,
  latestAgentPath,
  latestRunPath,
  readRecordLog,
  recoverState,
  runDir,
  sandboxDir,
  taskUpdatesPath,
  type LogRecord,
  type RunRef,
  type TaskRef,
} from '../../src/checkpoint/index.js';
import { IllegalStateError, InvalidIdError, type TaskInfo } from '../../src/protocol/index.js';
import { status } from '../fixtures/checkpoint-sample.js';
import { fileURLToPath } from 'node:url';
import { Proc, removeDir, tempDir, withTimeout } from '../helpers.js';

const GC_CRASH_FIXTURE = fileURLToPath(new URL('../fixtures/checkpoint-gc-crash.js', import.meta.url));

const AGENT = 'a1';
const agentInfo = { id: AGENT, hostname: 'node-1', resources: { cpus: 2, mem: 1024, disk: 2048 }, checkpoint: true };
const fref = { agentId: AGENT, frameworkId: 'f1' };
const eref = { ...fref, executorId: 'e1' };
const rref: RunRef = { ...eref, containerId: 'c1' };
const HASH = 'cd'.repeat(32);

function taskRef(taskId: string, run: RunRef = rref): TaskRef {
  return { ...run, taskId };
}
function taskInfo(taskId: string): TaskInfo {
  return { taskId, name: `task ${taskId}`, agentId: AGENT, resources: { cpus: 0.1, mem: 16 }, command: { value: 'true' }, data: Buffer.from('hi') };
}
function update(taskId: string): LogRecord {
  return { kind: 'UPDATE', status: status(taskId, 'TASK_RUNNING') };
}

let dir = '';
let checkpointers: Checkpointer[] = [];
let restoreSpy: (() => void) | undefined;

function open(options: { batching?: boolean; maxOpenLogs?: number } = {}): Checkpointer {
  const checkpointer = new Checkpointer({ workDir: dir, ...options });
  checkpointers.push(checkpointer);
  return checkpointer;
}

/** Checkpoints the agent, f1, e1 and run c1 with `tasks`. */
async function prepare(checkpointer: Checkpointer, tasks: string[] = ['t1']): Promise<void> {
  await checkpointer.checkpointAgent(agentInfo);
  await checkpointer.checkpointFramework({ agentId: AGENT }, { id: 'f1', name: 'fw', checkpoint: true });
  await checkpointer.checkpointExecutor(eref, { executorId: 'e1', frameworkId: 'f1', command: { value: 'run-it' } }, { generated: false });
  await checkpointer.checkpointRun(rref, { tokenHash: HASH });
  for (const task of tasks) await checkpointer.checkpointTask(taskRef(task), taskInfo(task));
}

interface DatasyncSpy {
  calls: number;
  /** Files (by the inode of the handle) fdatasync'd, in call order. */
  inodes: number[];
  /** While set, every fdatasync waits for it before syncing. */
  gate?: Promise<void>;
}

/** Wraps FileHandle.prototype.datasync: the real fdatasync still runs, counted (and held back on demand). */
async function spyOnDatasync(): Promise<DatasyncSpy> {
  const probe = await fsp.open(dir, 'r');
  const proto = Object.getPrototypeOf(probe) as { datasync: (this: fsp.FileHandle) => Promise<void> };
  await probe.close();
  const original = proto.datasync;
  const spy: DatasyncSpy = { calls: 0, inodes: [] };
  proto.datasync = async function datasync(this: fsp.FileHandle) {
    spy.calls += 1;
    spy.inodes.push((await this.stat()).ino);
    if (spy.gate) await spy.gate;
    return original.call(this);
  };
  restoreSpy = () => {
    proto.datasync = original;
  };
  return spy;
}

function inode(file: string): number {
  return fs.statSync(file).ino;
}

async function records(file: string): Promise<LogRecord[]> {
  return (await readRecordLog(file)).records;
}

/** Every entry under `root` (relative), with a kind: `d` directory, `f` file, `l -> target` symlink. */
function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const name of fs.readdirSync(current).sort()) {
      const full = path.join(current, name);
      const rel = path.relative(root, full);
      const stats = fs.lstatSync(full);
      if (stats.isSymbolicLink()) out.push(`l ${rel} -> ${fs.readlinkSync(full)}`);
      else if (stats.isDirectory()) {
        out.push(`d ${rel}`);
        walk(full);
      } else out.push(`f ${rel}`);
    }
  };
  walk(root);
  return out;
}

const writer = suite('Checkpointer');
writer.before.each(() => {
  dir = tempDir('ll-ckpt-');
});
writer.after.each(async () => {
  restoreSpy?.();
  restoreSpy = undefined;
  await Promise.all(checkpointers.splice(0).map((checkpointer) => checkpointer.close()));
  removeDir(dir);
});

writer('writes exactly the DESIGN §5 layout, with the token hash at mode 0600 and relative latest links', async () => {
  const checkpointer = open();
  await checkpointer.writeBootId('boot-xyz');
  await prepare(checkpointer, ['t1']);
  await checkpointer.checkpointForked(rref, { pid: 4242, startTime: 99 });
  await checkpointer.appendRecords([{ ref: taskRef('t1'), record: update('t1') }]);
  await checkpointer.markCompleted(rref);
  const run = 'meta/agents/a1/frameworks/f1/executors/e1/runs/c1';
  assert.equal(listTree(dir), [
    'd meta',
    'd meta/agents',
    'd meta/agents/a1',
    'f meta/agents/a1/agent.json',
    'd meta/agents/a1/frameworks',
    'd meta/agents/a1/frameworks/f1',
    'd meta/agents/a1/frameworks/f1/executors',
    'd meta/agents/a1/frameworks/f1/executors/e1',
    'f meta/agents/a1/frameworks/f1/executors/e1/executor.json',
    'd meta/agents/a1/frameworks/f1/executors/e1/runs',
    `d ${run}`,
    `f ${run}/executor.sentinel`,
    `f ${run}/forked.json`,
    `d ${run}/tasks`,
    `d ${run}/tasks/t1`,
    `f ${run}/tasks/t1/task.json`,
    `f ${run}/tasks/t1/task.updates`,
    `f ${run}/token.sha256`,
    'l meta/agents/a1/frameworks/f1/executors/e1/runs/latest -> c1',
    'f meta/agents/a1/frameworks/f1/framework.json',
    'l meta/agents/latest -> a1',
    'f meta/boot_id',
  ]);
  const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
  assert.is(read('meta/boot_id'), 'boot-xyz\n');
  assert.equal(JSON.parse(read('meta/agents/a1/agent.json')), agentInfo);
  assert.equal(JSON.parse(read('meta/agents/a1/frameworks/f1/framework.json')), { id: 'f1', name: 'fw', checkpoint: true });
  assert.equal(JSON.parse(read('meta/agents/a1/frameworks/f1/executors/e1/executor.json')), {
    executorId: 'e1',
    frameworkId: 'f1',
    command: { value: 'run-it' },
    generated: false,
  });
  assert.equal(JSON.parse(read(`${run}/forked.json`)), { pid: 4242, startTime: 99 });
  assert.is(read(`${run}/token.sha256`), `${HASH}\n`);
  assert.is(fs.statSync(path.join(dir, run, 'token.sha256')).mode & 0o777, 0o600);
  assert.is(read(`${run}/executor.sentinel`), '');
  // task.json: bytes as base64 (JSON has none).
  assert.is(JSON.parse(read(`${run}/tasks/t1/task.json`)).data, Buffer.from('hi').toString('base64'));
  assert.is((await records(path.join(dir, run, 'tasks/t1/task.updates'))).length, 1);
});

writer('refuses a child before its parent is checkpointed, naming the missing parent', async () => {
  const checkpointer = open();
  const attempts: Array<[() => Promise<void>, RegExp]> = [
    [() => checkpointer.checkpointFramework({ agentId: AGENT }, { id: 'f1', name: 'fw', checkpoint: true }), /before agent a1/],
    [() => checkpointer.checkpointRun(rref, { tokenHash: HASH }), /before executor e1/],
    [() => checkpointer.checkpointTask(taskRef('t1'), taskInfo('t1')), /before run c1/],
  ];
  for (const [attempt, pattern] of attempts) {
    try {
      await attempt();
      assert.unreachable('expected a refusal');
    } catch (error) {
      assert.instance(error, IllegalStateError);
      assert.match((error as Error).message, pattern);
    }
  }
  assert.not.ok(fs.existsSync(path.join(dir, 'meta', 'agents', AGENT, 'frameworks', 'f1')));
});

writer('rejects bad IDs, mismatched IDs and invalid infos before writing anything', async () => {
  const checkpointer = open();
  await prepare(checkpointer, []);
  const before = listTree(dir);
  const expectReject = async (attempt: () => Promise<void>, pattern: RegExp) => {
    try {
      await attempt();
      assert.unreachable('expected a rejection');
    } catch (error) {
      assert.match((error as Error).message, pattern);
    }
  };
  await expectReject(() => checkpointer.checkpointTask(taskRef('../escape'), taskInfo('../escape')), /invalid taskId/);
  await expectReject(() => checkpointer.checkpointTask(taskRef('t1'), taskInfo('t2')), /taskId/);
  await expectReject(() => checkpointer.checkpointRun({ ...eref, containerId: '.hidden' }, { tokenHash: HASH }), /invalid containerId/);
  await expectReject(() => checkpointer.checkpointRun(rref, { tokenHash: 'not-a-hash' }), /tokenHash/);
  await expectReject(() => checkpointer.checkpointFramework({ agentId: AGENT }, { id: 'f 2', name: 'x', checkpoint: true }), /field id/);
  await expectReject(() => checkpointer.checkpointForked(rref, { pid: 0, startTime: 1 }), /pid/);
  await expectReject(() => checkpointer.writeBootId('bad\nid'), /bootId/);
  await expectReject(() => checkpointer.appendRecords([{ ref: taskRef('t1'), record: update('t9') }]), /status.taskId/);
  await expectReject(() => checkpointer.appendRecords([{ ref: taskRef('t1'), record: { kind: 'ACK', uuid: 'nope' } as LogRecord }]), /uuid/);
  assert.equal(listTree(dir), before);
  try {
    await checkpointer.checkpointRun({ ...eref, containerId: '../../x' }, { tokenHash: HASH });
  } catch (error) {
    assert.instance(error, InvalidIdError);
  }
});

writer('creates a directory together with its info file: no crash window leaves one without it', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1']);
  // Updating in place keeps the directory and its other content.
  await checkpointer.appendRecords([{ ref: taskRef('t1'), record: update('t1') }]);
  await checkpointer.checkpointTask(taskRef('t1'), { ...taskInfo('t1'), name: 'renamed' });
  await checkpointer.checkpointFramework({ agentId: AGENT }, { id: 'f1', name: 'renamed', checkpoint: true });
  const state = await recoverState(dir, { strict: true, bootId: 'any' });
  const task = state.frameworks[0]!.executors[0]!.runs[0]!.tasks[0]!;
  assert.is(task.info.name, 'renamed');
  assert.is(task.updates.length, 1);
  assert.is(state.frameworks[0]!.info.name, 'renamed');
  // No temp directory or file is left anywhere.
  assert.not.ok(listTree(dir).some((line) => line.includes('.tmp-')), listTree(dir).join('\n'));
});

writer('appendRecords resolves only after the fdatasync of every touched file has completed', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1', 't2']);
  const spy = await spyOnDatasync();
  let release!: () => void;
  spy.gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let resolved = false;
  const appended = checkpointer.appendRecords([
    { ref: taskRef('t1'), record: update('t1') },
    { ref: taskRef('t2'), record: update('t2') },
  ]);
  appended.then(() => {
    resolved = true;
  });
  // Both fdatasyncs have started and are held back: the records are written but not yet durable.
  const deadline = Date.now() + 5_000;
  while (spy.calls < 2 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  assert.is(spy.calls, 2);
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.not.ok(resolved, 'resolved before fdatasync completed');
  assert.is((await records(taskUpdatesPath(dir, taskRef('t1')))).length, 1);
  release();
  await withTimeout(appended, 5_000, 'appendRecords after fdatasync');
  assert.ok(resolved);
});

writer('group commit: the records of one event-loop turn share one fdatasync per touched file', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1', 't2', 't3']);
  const spy = await spyOnDatasync();
  const before = checkpointer.stats;
  const written: Record<string, LogRecord[]> = { t1: [], t2: [], t3: [] };
  const calls: Array<Promise<void>> = [];
  for (let round = 0; round < 4; round++) {
    for (const task of ['t1', 't2']) {
      const record = update(task);
      written[task]!.push(record);
      calls.push(checkpointer.appendRecords([{ ref: taskRef(task), record }]));
    }
  }
  const ack: LogRecord = { kind: 'ACK', uuid: (written.t1![0] as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid };
  written.t1!.push(ack);
  calls.push(checkpointer.appendRecords([{ ref: taskRef('t1'), record: ack }]));
  await withTimeout(Promise.all(calls), 5_000, 'group commit');
  // Nine records in two files: two fdatasyncs (t3 untouched), one batch.
  assert.is(spy.calls, 2);
  assert.equal(spy.inodes.sort(), [inode(taskUpdatesPath(dir, taskRef('t1'))), inode(taskUpdatesPath(dir, taskRef('t2')))].sort());
  const after = checkpointer.stats;
  assert.is(after.syncs - before.syncs, 2);
  assert.is(after.batches - before.batches, 1);
  assert.is(after.records - before.records, 9);
  for (const task of ['t1', 't2', 't3']) assert.equal(await records(taskUpdatesPath(dir, taskRef(task))), written[task]);
});

for (const batching of [true, false]) {
  writer(`an ACK record is written without an fdatasync of its own (batching: ${batching}); the next UPDATE's sync covers it`, async () => {
    const checkpointer = open({ batching });
    await prepare(checkpointer, ['t1']);
    const first = update('t1');
    await checkpointer.appendRecords([{ ref: taskRef('t1'), record: first }]);
    const spy = await spyOnDatasync();
    const ack: LogRecord = { kind: 'ACK', uuid: (first as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid };
    await withTimeout(checkpointer.appendRecords([{ ref: taskRef('t1'), record: ack }]), 5_000, 'the ACK');
    assert.is(spy.calls, 0, 'no fdatasync for a framework\'s acknowledgement');
    assert.equal(await records(taskUpdatesPath(dir, taskRef('t1'))), [first, ack], 'the ACK is in the file (the page cache: it survives the agent\'s death)');
    const second = update('t1');
    await withTimeout(checkpointer.appendRecords([{ ref: taskRef('t1'), record: second }]), 5_000, 'the next UPDATE');
    assert.is(spy.calls, 1, 'the next UPDATE is synced, and with it the ACK before it');
    assert.equal(await records(taskUpdatesPath(dir, taskRef('t1'))), [first, ack, second]);
    assert.is(checkpointer.stats.unsynced, 1);
  });
}

writer('batching: false fdatasyncs every record on its own (the baseline)', async () => {
  const checkpointer = open({ batching: false });
  await prepare(checkpointer, ['t1', 't2']);
  const spy = await spyOnDatasync();
  const entries = [update('t1'), update('t1'), update('t2'), update('t1')].map((record) => ({
    ref: taskRef((record as Extract<LogRecord, { kind: 'UPDATE' }>).status.taskId),
    record,
  }));
  await withTimeout(Promise.all([checkpointer.appendRecords(entries.slice(0, 2)), checkpointer.appendRecords(entries.slice(2))]), 5_000, 'baseline');
  assert.is(spy.calls, 4);
  assert.is(checkpointer.stats.syncs, 4);
  assert.equal(await records(taskUpdatesPath(dir, taskRef('t1'))), [entries[0]!.record, entries[1]!.record, entries[3]!.record]);
});

writer('keeps at most maxOpenLogs logs open, reopening closed ones on the next append', async () => {
  const checkpointer = open({ maxOpenLogs: 2 });
  const tasks = ['t1', 't2', 't3', 't4', 't5'];
  await prepare(checkpointer, tasks);
  assert.ok(checkpointer.stats.openLogs <= 2);
  const written: LogRecord[] = [];
  for (let round = 0; round < 3; round++) {
    for (const task of tasks) {
      const record = update(task);
      written.push(record);
      await checkpointer.appendRecords([{ ref: taskRef(task), record }]);
      assert.ok(checkpointer.stats.openLogs <= 2, `open logs: ${checkpointer.stats.openLogs}`);
    }
  }
  // All at once, in one turn: logs are opened as needed, then trimmed back to the cap.
  await checkpointer.appendRecords(tasks.map((task) => ({ ref: taskRef(task), record: update(task) })));
  assert.ok(checkpointer.stats.openLogs <= 2);
  for (const task of tasks) {
    const expected = written.filter((record) => record.kind === 'UPDATE' && record.status.taskId === task);
    assert.equal((await records(taskUpdatesPath(dir, taskRef(task)))).slice(0, 3), expected);
  }
});

writer('markCompleted writes the sentinel and closes the run’s logs; a later ack still lands', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1']);
  const record = update('t1');
  await checkpointer.appendRecords([{ ref: taskRef('t1'), record }]);
  assert.is(checkpointer.stats.openLogs, 1);
  await checkpointer.markCompleted(rref);
  assert.is(checkpointer.stats.openLogs, 0);
  const ack: LogRecord = { kind: 'ACK', uuid: (record as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid };
  await checkpointer.appendRecords([{ ref: taskRef('t1'), record: ack }]);
  assert.equal(await records(taskUpdatesPath(dir, taskRef('t1'))), [record, ack]);
  const state = await recoverState(dir, { strict: true, bootId: 'b' });
  assert.ok(state.frameworks[0]!.executors[0]!.runs[0]!.completed);
});

writer('applyRepairs truncates what recovery said, and refuses files outside meta/', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1']);
  const first = update('t1');
  await checkpointer.appendRecords([{ ref: taskRef('t1'), record: first }]);
  await checkpointer.close();
  const file = taskUpdatesPath(dir, taskRef('t1'));
  const good = fs.statSync(file).size;
  fs.appendFileSync(file, encodeRecords([update('t1')]).subarray(0, 20)); // a torn tail
  const state = await recoverState(dir, { strict: true, bootId: 'b' });
  assert.equal(state.repairs, [{ file, length: good, reason: 'torn-tail' }]);
  const next = open();
  await next.applyRepairs(state.repairs);
  assert.is(fs.statSync(file).size, good);
  const second = update('t1');
  await next.appendRecords([{ ref: taskRef('t1'), record: second }]);
  assert.equal(await records(file), [first, second]);
  try {
    await next.applyRepairs([{ file: '/etc/passwd', length: 0, reason: 'corruption' }]);
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.match((error as Error).message, /inside/);
  }
});

writer('removeStrayTempFiles removes temp files and directories, and nothing else', async () => {
  const checkpointer = open();
  await prepare(checkpointer, []);
  const strayFile = path.join(executorDir(dir, eref), '.executor.json.tmp-0123456789ab');
  const strayDir = path.join(runDir(dir, rref), 'tasks', '.t9.tmp-0123456789ab');
  fs.mkdirSync(strayDir, { recursive: true });
  fs.writeFileSync(path.join(strayDir, 'task.json'), '{');
  fs.writeFileSync(strayFile, '{"half');
  const state = await recoverState(dir, { strict: true, bootId: 'b' });
  assert.equal(state.strayTempFiles.sort(), [strayDir, strayFile].sort());
  await checkpointer.removeStrayTempFiles(state.strayTempFiles);
  assert.not.ok(fs.existsSync(strayFile));
  assert.not.ok(fs.existsSync(strayDir));
  try {
    await checkpointer.removeStrayTempFiles([path.join(executorDir(dir, eref), 'executor.json')]);
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.match((error as Error).message, /temp file name/);
  }
  assert.ok(fs.existsSync(path.join(executorDir(dir, eref), 'executor.json')));
});

writer('gc removes the run’s meta dir, its sandbox, the latest link to it, and an executor left without runs', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1']);
  const second: RunRef = { ...eref, containerId: 'c2' };
  await checkpointer.checkpointExecutor(eref, { executorId: 'e1', frameworkId: 'f1', command: { value: 'run-it' } }, { generated: false });
  await checkpointer.checkpointRun(second, { tokenHash: HASH });
  await checkpointer.checkpointTask(taskRef('t2', second), taskInfo('t2'));
  for (const run of [rref, second]) fs.mkdirSync(sandboxDir(dir, run), { recursive: true });
  await checkpointer.markCompleted(rref);
  await checkpointer.gc(rref);
  assert.not.ok(fs.existsSync(runDir(dir, rref)));
  assert.not.ok(fs.existsSync(sandboxDir(dir, rref)));
  assert.is(fs.readlinkSync(latestRunPath(dir, eref)), 'c2');
  await checkpointer.markCompleted(second);
  await checkpointer.gc(second);
  assert.not.ok(fs.existsSync(executorDir(dir, eref)));
  assert.not.ok(fs.existsSync(path.dirname(path.dirname(sandboxDir(dir, second)))));
  const state = await recoverState(dir, { strict: true, bootId: 'b' });
  assert.equal(state.errors, []);
  assert.equal(state.frameworks[0]!.executors, []);
  await checkpointer.gc(second); // already gone: fine
});

writer('a kill -9 in the middle of a gc leaves a checkpoint that strict recovery accepts (found by the kill storm)', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1', 't2']);
  await checkpointer.markCompleted(rref);
  fs.mkdirSync(sandboxDir(dir, rref), { recursive: true });
  // The fixture dies half-way through the first recursive removal of a directory, as kill -9 would.
  const child = new Proc(process.execPath, [GC_CRASH_FIXTURE, dir]);
  const exit = await withTimeout(child.exited, 15_000, () => `gc crash fixture: ${child.stderr}`);
  assert.is(exit.signal, 'SIGKILL', child.stderr);
  const state = await recoverState(dir, { strict: true, bootId: 'b' });
  assert.equal(state.errors, []);
  // Either the run is still whole or it is gone (leaving a stray temp dir to remove).
  const runs = state.frameworks[0]?.executors[0]?.runs ?? [];
  assert.ok(runs.length === 0 || runs[0]!.tasks.length === 2, `a run with ${runs[0]?.tasks.length} of its 2 tasks`);
  // Never a sandbox without its meta directory: nothing would ever find and remove it.
  assert.ok(runs.length === 1 || !fs.existsSync(sandboxDir(dir, rref)), 'the sandbox outlived the meta directory that names it');
  await checkpointer.removeStrayTempFiles(state.strayTempFiles);
  assert.equal((await recoverState(dir, { strict: true, bootId: 'b' })).strayTempFiles, []);
});

writer('removeLatestAgent removes the link; close is idempotent and refuses later calls by name', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1']);
  await checkpointer.removeLatestAgent();
  assert.not.ok(fs.existsSync(latestAgentPath(dir)));
  await checkpointer.removeLatestAgent();
  await checkpointer.close();
  await checkpointer.close();
  assert.is(checkpointer.state, 'CLOSED');
  try {
    await checkpointer.appendRecords([{ ref: taskRef('t1'), record: update('t1') }]);
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.instance(error, IllegalStateError);
    assert.match((error as Error).message, /cannot append records: the checkpointer is CLOSED/);
  }
});

writer('close lets appends in flight finish first', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1']);
  const record = update('t1');
  const appended = checkpointer.appendRecords([{ ref: taskRef('t1'), record }]);
  await checkpointer.close();
  await appended;
  assert.equal(await records(taskUpdatesPath(dir, taskRef('t1'))), [record]);
});

writer('refuses bad options by name', () => {
  assert.throws(() => new Checkpointer({ workDir: '' }), /option workDir/);
  assert.throws(() => new Checkpointer({ workDir: '/x', batching: 'yes' as unknown as boolean }), /option batching/);
  assert.throws(() => new Checkpointer({ workDir: '/x', maxOpenLogs: 0 }), /option maxOpenLogs/);
});

writer('compacts a task.updates that grew past compactAtBytes: its size stays bounded and recovery reads the same stream state', async () => {
  const checkpointer = new Checkpointer({ workDir: dir, compactAtBytes: 16 * 1024 });
  checkpointers.push(checkpointer);
  await prepare(checkpointer, ['t1']);
  const ref = taskRef('t1');
  const file = taskUpdatesPath(dir, ref);
  let largest = 0;
  let last: LogRecord | undefined;
  // 2,000 updates, each acknowledged, then three left unacknowledged.
  for (let i = 0; i < 2_000; i++) {
    last = update('t1');
    await checkpointer.appendRecords([{ ref, record: last }]);
    await checkpointer.appendRecords([{ ref, record: { kind: 'ACK', uuid: (last as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid } }]);
    largest = Math.max(largest, fs.statSync(file).size);
  }
  const unacked = [update('t1'), update('t1'), update('t1')];
  for (const record of unacked) await checkpointer.appendRecords([{ ref, record }]);
  assert.ok(checkpointer.stats.compactions >= 5, `${checkpointer.stats.compactions} compactions`);
  // Bounded by what a compaction keeps (64 acknowledged updates) plus compactAtBytes.
  assert.ok(largest < 32 * 1024, `task.updates stayed small: largest ${largest} bytes`);
  await checkpointer.close();
  const task = (await recoverState(dir, { strict: true, bootId: 'any' })).frameworks[0]!.executors[0]!.runs[0]!.tasks[0]!;
  const uuidOf = (record: LogRecord) => (record as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid;
  const acked = new Set(task.acks);
  assert.ok(acked.has(uuidOf(last!)), 'the latest acknowledged update is kept, acknowledged');
  assert.equal(task.updates.filter((u) => !acked.has(u.uuid)).map((u) => u.uuid), unacked.map(uuidOf), 'every unacknowledged update, in order');
  assert.ok(task.updates.length <= 64 + 3 + 600, `history dropped: ${task.updates.length} updates read back`);
  assert.not.ok(listTree(dir).some((line) => line.includes('.tmp-')), 'no temp file left');
});

writer('compacts a task.updates it opened with an earlier writer\'s history in it, across a restart of the writer', async () => {
  const uuidOf = (record: LogRecord) => (record as Extract<LogRecord, { kind: 'UPDATE' }>).status.uuid;
  const ref = taskRef('t1');
  const file = taskUpdatesPath(dir, ref);
  let last: LogRecord | undefined;
  let largest = 0;
  const unacked: LogRecord[] = [];
  for (const [round, count] of [[0, 300], [1, 1_500]] as const) {
    // The second writer finds the first one's records: its first compaction reads the file.
    const checkpointer = new Checkpointer({ workDir: dir, compactAtBytes: 16 * 1024 });
    checkpointers.push(checkpointer);
    if (round === 0) await prepare(checkpointer, ['t1']);
    for (let i = 0; i < count; i++) {
      last = update('t1');
      await checkpointer.appendRecords([{ ref, record: last }]);
      await checkpointer.appendRecords([{ ref, record: { kind: 'ACK', uuid: uuidOf(last) } }]);
      largest = Math.max(largest, fs.statSync(file).size);
    }
    const pending = update('t1');
    unacked.push(pending);
    await checkpointer.appendRecords([{ ref, record: pending }]);
    if (round === 1) assert.ok(checkpointer.stats.compactions >= 5, `${checkpointer.stats.compactions} compactions by the second writer`);
    await checkpointer.close();
  }
  assert.ok(largest < 32 * 1024, `task.updates stayed small: largest ${largest} bytes`);
  const task = (await recoverState(dir, { strict: true, bootId: 'any' })).frameworks[0]!.executors[0]!.runs[0]!.tasks[0]!;
  const acked = new Set(task.acks);
  assert.ok(acked.has(uuidOf(last!)), 'the latest acknowledged update is kept, acknowledged');
  assert.equal(task.updates.filter((u) => !acked.has(u.uuid)).map((u) => u.uuid), unacked.map(uuidOf), 'every unacknowledged update, in order, the first writer\'s too');
});

writer('a TaskRef appended to again goes to its own task.updates, also after its IDs were changed in place', async () => {
  const checkpointer = open();
  await prepare(checkpointer, ['t1', 't2']);
  const ref = taskRef('t1');
  await checkpointer.appendRecords([{ ref, record: update('t1') }]);
  await checkpointer.appendRecords([{ ref, record: update('t1') }]);
  // The same object, now naming another task: its path is made again, not taken from before.
  ref.taskId = 't2';
  await checkpointer.appendRecords([{ ref, record: update('t2') }]);
  // And one whose ID is no longer valid is refused as before, nothing written.
  ref.taskId = '../t1';
  await checkpointer.appendRecords([{ ref, record: { kind: 'ACK', uuid: randomUUID() } }]).then(
    () => assert.unreachable('appended for an invalid taskId'),
    (error: Error) => assert.match(error.message, /invalid taskId/),
  );
  const state = await recoverState(dir, { strict: true, bootId: 'any' });
  const tasks = state.frameworks[0]!.executors[0]!.runs[0]!.tasks;
  assert.equal(
    tasks.map((task) => [task.id, task.updates.length]).sort(),
    [
      ['t1', 2],
      ['t2', 1],
    ],
  );
});

writer.run();
