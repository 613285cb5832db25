// `lifeline inspect`: the built CLI on a real checkpoint written by the Checkpointer: JSON and text
// output, exit codes (0 read, 1 strict recovery would fail, 2 bad flags), and never a change on disk.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { frameworkInfoPath, latestAgentPath, parseRecordLog, taskUpdatesPath } from '../../src/checkpoint/index.js';
import { AGENT, BOOT, copyTree, treeSnapshot, writeSample, type Sample } from '../fixtures/checkpoint-sample.js';
import { lifeline, Proc, removeDir, tempDir } from '../helpers.js';

let template = '';
let sample: Sample;
let dir = '';
const procs: Proc[] = [];

async function inspect(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = lifeline(['inspect', ...args]);
  procs.push(proc);
  const { code } = await proc.waitForExit();
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

/** Runs inspect and checks that it changed nothing under the work dir. */
async function inspectUnchanged(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const before = treeSnapshot(dir);
  const result = await inspect(args);
  assert.is(treeSnapshot(dir), before, 'inspect changed the work dir');
  return result;
}

/** A corrupt record in the middle of t2's task.updates; returns the file and the offset. */
function corruptMiddleRecord(): { file: string; offset: number } {
  const task = sample.tasks.find((candidate) => candidate.ref.taskId === 't2')!;
  const file = taskUpdatesPath(dir, task.ref);
  const bytes = fs.readFileSync(file);
  const { offsets } = parseRecordLog(bytes, { file });
  bytes[offsets[1]! + 13]! ^= 0xff;
  fs.writeFileSync(file, bytes);
  return { file, offset: offsets[1]! };
}

const Inspect = suite('lifeline inspect');
Inspect.before(async () => {
  template = tempDir('ll-inspect-sample-');
  sample = await writeSample(template);
});
Inspect.after(() => removeDir(template));
Inspect.before.each(() => {
  dir = tempDir('ll-inspect-');
  copyTree(template, dir);
});
Inspect.after.each(async () => {
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  removeDir(dir);
});

Inspect('--json prints the recovered state in the documented shape, bytes as base64', async () => {
  const { code, stdout, stderr } = await inspectUnchanged([`--work_dir=${dir}`, '--json']);
  assert.is(code, 0, stderr);
  const doc = JSON.parse(stdout);
  assert.is(doc.agentId, AGENT);
  assert.is(typeof doc.rebooted, 'boolean');
  assert.equal(doc.errors, []);
  assert.equal(doc.frameworks.map((framework: { id: string }) => framework.id), ['f1', 'f2']);
  const f1 = doc.frameworks[0];
  assert.equal(f1.info, { id: 'f1', name: 'web', checkpoint: true });
  const e1 = f1.executors.find((executor: { id: string }) => executor.id === 'e1');
  assert.equal(Object.keys(e1).sort(), ['generated', 'id', 'info', 'latest', 'runs']);
  assert.is(e1.latest, 'c-new');
  const run = e1.runs.find((candidate: { containerId: string }) => candidate.containerId === 'c-new');
  assert.equal(Object.keys(run).sort(), ['completed', 'containerId', 'forked', 'outbox', 'sandbox', 'shim', 'tasks']);
  assert.is(run.completed, false);
  assert.is(run.sandbox, path.join(path.resolve(dir), 'sandboxes', AGENT, 'frameworks', 'f1', 'executors', 'e1', 'runs', 'c-new'));
  const t1 = run.tasks.find((task: { id: string }) => task.id === 't1');
  assert.equal(Object.keys(t1).sort(), ['acks', 'id', 'info', 'updates']);
  assert.is(t1.info.data, Buffer.from([0, 1, 2, 250, 255]).toString('base64'));
  const expected = sample.tasks.find((task) => task.ref.taskId === 't1')!;
  assert.equal(t1.updates.map((update: { uuid: string }) => update.uuid), expected.updates.map((update) => update.uuid));
  assert.equal(t1.acks, expected.acks);
  const t2 = run.tasks.find((task: { id: string }) => task.id === 't2');
  assert.is(t2.updates.at(-1).data, Buffer.from('progress 50%').toString('base64'));
});

Inspect('prints a readable tree: framework, executor, run, task with its latest state and counts', async () => {
  const { code, stdout, stderr } = await inspectUnchanged([`--work_dir=${dir}`]);
  assert.is(code, 0, stderr);
  assert.match(stdout, new RegExp(`^agent ${AGENT} on node-1`));
  assert.match(stdout, /\n {2}framework f1 "web"\n {4}executor e1: executor "node executor-e1\.mjs"; 2 runs\n {6}run c-new \(latest\): not completed;/);
  assert.match(stdout, /\n {8}task t2 "task t2": TASK_RUNNING; 3 updates, 2 acks, 1 unacknowledged\n/);
  assert.match(stdout, /\n {4}executor t3: command executor \(lifeline shim\); 1 run\n/);
  assert.match(stdout, /\n {6}run c-old: completed;/);
  assert.not.match(stdout, /Errors/);
});

Inspect('exits 1 when strict recovery would fail, with the agent’s message: file, offset and the two ways out', async () => {
  const { file, offset } = corruptMiddleRecord();
  const { code, stdout, stderr } = await inspectUnchanged([`--work_dir=${dir}`]);
  assert.is(code, 1);
  assert.is(stdout, '');
  assert.ok(stderr.includes(`${file} at offset ${offset}`), stderr);
  assert.match(stderr, /--strict=false/);
  assert.ok(stderr.includes(latestAgentPath(dir)), stderr);
  assert.match(stderr, /ERR_CHECKPOINT_CORRUPT/);
  const json = await inspectUnchanged([`--work_dir=${dir}`, '--json']);
  assert.is(json.code, 1);
  const doc = JSON.parse(json.stdout);
  assert.is(doc.error.file, file);
  assert.is(doc.error.offset, offset);
});

Inspect('--strict=false exits 0 and lists the damage it skipped, with the repairs an agent would make', async () => {
  const { file, offset } = corruptMiddleRecord();
  const framework = frameworkInfoPath(dir, { agentId: AGENT, frameworkId: 'f2' });
  fs.writeFileSync(framework, '');
  const json = await inspectUnchanged([`--work_dir=${dir}`, '--strict=false', '--json']);
  assert.is(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.frameworks.map((item: { id: string }) => item.id), ['f1']);
  assert.equal(doc.errors.map((error: { file: string; offset?: number }) => [error.file, error.offset]), [
    [file, offset],
    [framework, undefined],
  ]);
  assert.equal(doc.repairs, [{ file, length: offset, reason: 'corruption' }]);
  const text = await inspectUnchanged([`--work_dir=${dir}`, '--strict=false']);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /Errors \(2, skipped by --strict=false\):/);
  assert.ok(text.stdout.includes(`${file} at offset ${offset}:`), text.stdout);
  assert.match(text.stdout, /Repairs a recovering agent would make \(1\):/);
});

Inspect('reports a work dir with nothing checkpointed, and exits 0', async () => {
  fs.rmSync(latestAgentPath(dir));
  const text = await inspectUnchanged([`--work_dir=${dir}`]);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /No checkpointed agent/);
  const json = await inspectUnchanged([`--work-dir=${dir}`, '--json']);
  assert.is(json.code, 0);
  assert.equal(JSON.parse(json.stdout).agentId, null);
});

Inspect('a bad flag or value exits 2 with one line naming it', async () => {
  for (const args of [['--bogus'], [`--work_dir=${dir}`, '--strict=maybe'], [], ['--work_dir=/nonexistent/lifeline-work-dir']]) {
    const { code, stderr, stdout } = await inspect(args);
    assert.is(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.is(stdout, '');
    assert.is(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /--(bogus|strict|work_dir)/);
  }
});

Inspect('--help lists every flag with its default', async () => {
  const { code, stdout } = await inspect(['--help']);
  assert.is(code, 0);
  for (const flag of ['--work_dir', '--strict', '--json']) assert.ok(stdout.includes(flag), stdout);
  assert.match(stdout, /default: true/);
});

Inspect('the reboot check uses the host’s boot id: a sample recorded under another boot reads as rebooted', async () => {
  const { code, stdout } = await inspectUnchanged([`--work_dir=${dir}`, '--json']);
  assert.is(code, 0);
  const doc = JSON.parse(stdout);
  // The sample records boot id "boot-1", which is not this host's.
  assert.is(doc.rebooted, BOOT !== fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.is(doc.frameworks[0].executors[0].runs[0].forked, null);
});

Inspect.run();
