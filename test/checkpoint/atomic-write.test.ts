import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import {
  CheckpointCorruptError,
  isTempFileName,
  makeDirDurable,
  readJson,
  readJsonSync,
  removeStrayTempFiles,
  tempPathFor,
  writeFileAtomic,
  writeJsonAtomic,
  writeJsonAtomicSync,
} from '../../src/checkpoint/index.js';
import { Proc, removeDir, tempDir } from '../helpers.js';

const CRASH_FIXTURE = fileURLToPath(new URL('../fixtures/checkpoint-atomic-crash.js', import.meta.url));
const Versioned = v.object({ version: v.number(), payload: v.string() });

let dir = '';
const procs: Proc[] = [];

async function expectCorrupt(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, CheckpointCorruptError);
    const corrupt = error as CheckpointCorruptError;
    assert.is(corrupt.code, 'ERR_CHECKPOINT_CORRUPT');
    assert.is(corrupt.file, file);
    assert.is(corrupt.offset, undefined);
    assert.ok(corrupt.message.includes(file), corrupt.message);
    assert.match(corrupt.message, pattern);
    return;
  }
  assert.unreachable('expected a CheckpointCorruptError');
}

const atomic = suite('atomic write');
atomic.before.each(() => {
  dir = tempDir('ll-atomic-');
});
atomic.after.each(async () => {
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  removeDir(dir);
});

atomic('writes JSON that reads back validated, replacing the old file', async () => {
  const file = path.join(dir, 'agent.json');
  await writeJsonAtomic(file, { version: 1, payload: 'a' });
  await writeJsonAtomic(file, { version: 2, payload: 'b', extra: true });
  assert.equal(await readJson(file, Versioned), { version: 2, payload: 'b' });
  writeJsonAtomicSync(file, { version: 3, payload: 'c' });
  assert.equal(readJsonSync(file, Versioned), { version: 3, payload: 'c' });
  assert.equal(fs.readdirSync(dir), ['agent.json']);
});

atomic('sets the requested mode exactly, whatever the umask', async () => {
  const file = path.join(dir, 'token.sha256');
  await writeFileAtomic(file, 'abc\n', { mode: 0o600 });
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
  assert.is(fs.readFileSync(file, 'utf8'), 'abc\n');
  assert.throws(() => writeJsonAtomicSync(file, {}, { mode: 0o1777777 }), /option mode must be/);
});

atomic('removes its temp file when the write fails', async () => {
  const target = path.join(dir, 'occupied');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'keep'), '');
  try {
    await writeJsonAtomic(target, { version: 1 });
    assert.unreachable('expected the rename over a directory to fail');
  } catch (error) {
    assert.ok(['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code!), String(error));
  }
  assert.throws(() => writeJsonAtomicSync(target, { version: 1 }));
  assert.equal(fs.readdirSync(dir), ['occupied']);
});

atomic('names temp files recognisably, next to their target', () => {
  const temp = tempPathFor('/x/y/task.json');
  assert.is(path.dirname(temp), '/x/y');
  assert.match(path.basename(temp), /^\.task\.json\.tmp-[0-9a-f]{12}$/);
  assert.ok(isTempFileName(path.basename(temp)));
  assert.not.ok(isTempFileName('task.json'));
  assert.not.ok(isTempFileName('.task.json'));
});

atomic('reading reports unparsable, empty, non-object and invalid files as corrupt, naming the file', async () => {
  const file = path.join(dir, 'framework.json');
  fs.writeFileSync(file, '{"version": 1, "payl');
  await expectCorrupt(readJson(file, Versioned), file, /not valid JSON/);
  fs.writeFileSync(file, '');
  await expectCorrupt(readJson(file, Versioned), file, /empty/);
  fs.writeFileSync(file, '[1, 2]');
  await expectCorrupt(readJson(file, Versioned), file, /expected a JSON object, got an array/);
  fs.writeFileSync(file, '{"version": "one", "payload": "x"}');
  await expectCorrupt(readJson(file, Versioned), file, /field version .*"one"/);
  await expectCorrupt(Promise.resolve().then(() => readJsonSync(file, Versioned)), file, /field version/);
});

atomic('reading a missing file rejects with ENOENT, not corruption', async () => {
  try {
    await readJson(path.join(dir, 'nope.json'), Versioned);
    assert.unreachable('expected ENOENT');
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'ENOENT');
  }
});

atomic('removes stray temp files, recursively on request, never following symlinks', async () => {
  const nested = path.join(dir, 'a', 'b');
  fs.mkdirSync(nested, { recursive: true });
  const outside = tempDir('ll-outside-');
  try {
    const strayTop = path.join(dir, '.agent.json.tmp-0123456789ab');
    const strayNested = path.join(nested, '.task.json.tmp-ba9876543210');
    const strayOutside = path.join(outside, '.x.tmp-aaaaaaaaaaaa');
    for (const file of [strayTop, strayNested, strayOutside, path.join(dir, 'agent.json'), path.join(dir, '.hidden')]) fs.writeFileSync(file, '{');
    fs.symlinkSync(outside, path.join(dir, 'link'));
    assert.equal(await removeStrayTempFiles(dir), [strayTop]);
    fs.writeFileSync(strayTop, '{');
    assert.equal((await removeStrayTempFiles(dir, { recursive: true })).sort(), [strayNested, strayTop].sort());
    assert.ok(fs.existsSync(strayOutside), 'a symlinked directory is not entered');
    assert.ok(fs.existsSync(path.join(dir, '.hidden')));
    assert.ok(fs.existsSync(path.join(dir, 'agent.json')));
    assert.equal(await removeStrayTempFiles(path.join(dir, 'missing')), []);
  } finally {
    removeDir(outside);
  }
});

atomic('makeDirDurable creates missing parents and accepts an existing directory', async () => {
  const deep = path.join(dir, 'meta', 'agents', 'a1', 'frameworks');
  await makeDirDurable(deep);
  assert.ok(fs.statSync(deep).isDirectory());
  await makeDirDurable(deep);
});

atomic.run();

const crashes = suite('atomic write: crashes simulated at every step');
crashes.before.each(() => {
  dir = tempDir('ll-crash-');
});
crashes.after.each(async () => {
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  removeDir(dir);
});

// What a crash at each step must leave in place of the target: the old file until the rename, the
// new file from then on; never anything in between.
const STEPS: [step: string, expected: 'old' | 'new', strayTemp: boolean][] = [
  ['created', 'old', true],
  ['partial', 'old', true],
  ['written', 'old', true],
  ['synced', 'old', true],
  ['renamed', 'new', false],
  ['done', 'new', false],
  ['none', 'new', false],
];

async function crashWrite(file: string, step: string, variant: string, version: number) {
  const proc = new Proc(process.execPath, [CRASH_FIXTURE, file, step, variant, String(version)]);
  procs.push(proc);
  const exit = await proc.waitForExit();
  const expected = step === 'none' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' };
  assert.equal(exit, expected, `the fixture ${step === 'none' ? 'completes' : `crashes at ${step}`} (${variant})\n${proc.stderr}`);
}

for (const variant of ['async', 'sync']) {
  crashes(`${variant}: the target is always the old or the new good JSON, and stray temp files are removed`, async () => {
    for (const [step, expected, strayTemp] of STEPS) {
      const file = path.join(dir, `${step}.json`);
      await writeJsonAtomic(file, { version: 1, payload: 'old' });
      await crashWrite(file, step, variant, 2);

      const read = await readJson(file, Versioned);
      assert.is(read.version, expected === 'old' ? 1 : 2, `after a crash at ${step}`);
      if (expected === 'new') assert.is(read.payload.length, 100_000);

      const temps = fs.readdirSync(dir).filter(isTempFileName);
      assert.is(temps.length, strayTemp ? 1 : 0, `temp files after a crash at ${step}: ${temps}`);
      assert.equal(await removeStrayTempFiles(dir), temps.map((name) => path.join(dir, name)));
      assert.equal(fs.readdirSync(dir).filter(isTempFileName), []);
    }
  });
}

crashes('a crash before the rename of a first write leaves no target at all', async () => {
  const file = path.join(dir, 'forked.json');
  await crashWrite(file, 'synced', 'async', 1);
  assert.not.ok(fs.existsSync(file));
  assert.is((await removeStrayTempFiles(dir)).length, 1);
  assert.equal(fs.readdirSync(dir), []);
});

crashes.run();
