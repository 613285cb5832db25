// Checkpoint format versions (issue 11): meta/format absent (0.1.0) reads as format 1, this
// release's own is written once, and a newer format is refused naming both versions before
// anything else is read, by the agent's recovery and by `lifeline inspect` alike.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointFormatError, CHECKPOINT_FORMAT, formatPath, readCheckpointFormat, versionDocument, writeCheckpointFormat } from '../../src/checkpoint/format.js';
import { CLI, removeDir, tempDir } from '../helpers.js';

const test = suite<{ dir: string }>('checkpoint format', { dir: '' });
test.before.each((context) => {
  context.dir = tempDir('ll-fmt-');
});
test.after.each((context) => removeDir(context.dir));

test('a work dir without meta/format (0.1.0, or new) is format 1; the agent records its own once', async ({ dir }) => {
  assert.equal(await readCheckpointFormat(dir), { format: 1, writtenBy: undefined });
  await writeCheckpointFormat(dir, await readCheckpointFormat(dir));
  assert.equal(JSON.parse(fs.readFileSync(formatPath(dir), 'utf8')), { format: CHECKPOINT_FORMAT, release: versionDocument().version });
  const written = fs.statSync(formatPath(dir)).mtimeMs;
  await writeCheckpointFormat(dir, await readCheckpointFormat(dir));
  assert.is(fs.statSync(formatPath(dir)).mtimeMs, written, 'not rewritten when it already says so');
});

test('a newer format is refused naming both versions; a file that is not a format is corrupt', async ({ dir }) => {
  fs.mkdirSync(path.join(dir, 'meta'));
  fs.writeFileSync(formatPath(dir), JSON.stringify({ format: 7, release: '3.1.0' }));
  const error = await readCheckpointFormat(dir).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof CheckpointFormatError);
  assert.is(error.code, 'ERR_CHECKPOINT_FORMAT');
  assert.match(error.message, /says checkpoint format 7 \(written by lifeline 3\.1\.0\), but lifeline 0\.2\.0 reads formats 1\.\.1/);
  fs.writeFileSync(formatPath(dir), '{"format":"two"}');
  assert.is(((await readCheckpointFormat(dir).catch((e: unknown) => e)) as { code?: string }).code, 'ERR_CHECKPOINT_CORRUPT');
});

test('inspect refuses a newer format with exit 1 and its message, as JSON too, and writes nothing', ({ dir }) => {
  fs.mkdirSync(path.join(dir, 'meta', 'agents'), { recursive: true });
  fs.writeFileSync(formatPath(dir), JSON.stringify({ format: 2, release: '0.9.0' }));
  const before = fs.readdirSync(path.join(dir, 'meta')).sort();
  const text = spawnSync(process.execPath, [CLI, 'inspect', `--work_dir=${dir}`], { encoding: 'utf8', timeout: 60_000 });
  assert.is(text.status, 1);
  assert.match(text.stderr, /checkpoint format 2 \(written by lifeline 0\.9\.0\).*\[ERR_CHECKPOINT_FORMAT\]/);
  const json = spawnSync(process.execPath, [CLI, 'inspect', `--work_dir=${dir}`, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(json.status, 1);
  assert.equal((JSON.parse(json.stdout) as { error: { format: number; writtenBy: string } }).error.format, 2);
  assert.equal(fs.readdirSync(path.join(dir, 'meta')).sort(), before);
});

test('the agent refuses to start on a newer format, naming both, and leaves the work dir as it was', ({ dir }) => {
  fs.mkdirSync(path.join(dir, 'meta', 'agents'), { recursive: true });
  fs.writeFileSync(formatPath(dir), JSON.stringify({ format: 2, release: '0.9.0' }));
  const before = fs.readdirSync(path.join(dir, 'meta')).sort();
  const agent = spawnSync(process.execPath, [CLI, 'agent', '--master=127.0.0.1:1', `--work_dir=${dir}`, `--runtime_dir=${path.join(dir, 'rt')}`, '--port=0', '--ip=127.0.0.1'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(agent.status, 1, agent.stderr);
  assert.match(agent.stderr, /checkpoint format 2 \(written by lifeline 0\.9\.0\), but lifeline 0\.2\.0 reads formats 1\.\.1/);
  assert.equal(fs.readdirSync(path.join(dir, 'meta')).sort(), before);
  assert.equal(JSON.parse(fs.readFileSync(formatPath(dir), 'utf8')), { format: 2, release: '0.9.0' });
});

test.run();
