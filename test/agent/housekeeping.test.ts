// Housekeeping on a real node model and real sandboxes: it rotates the output of the runs that may
// still write (not the TERMINATED ones) with the agent's limits, removes completed sandboxes early
// when the disk is short (--gc_disk_headroom), and says so in the agent's log. Its intervals are
// the model's config, set to 10 ms here; every wait polls with a deadline.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Housekeeping } from '../../src/agent/housekeeping.js';
import type { AgentOptions } from '../../src/agent/options.js';
import type { Logger } from '../../src/log.js';
import { removeDir, waitFor } from '../helpers.js';
import { ModelHarness } from './model-harness.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

/** A Logger that keeps every line (a stand-in for pino, unit tests only). */
function recordingLogger(lines: Line[]): Logger {
  const keep = (level: Line['level']) => (obj: object | string, msg?: string) => {
    lines.push(typeof obj === 'string' ? { level, fields: {}, msg: obj } : { level, fields: obj as Record<string, unknown>, msg: msg ?? '' });
  };
  const logger: Logger = { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error'), child: () => logger };
  return logger;
}

const MAX_BYTES = 2048;
const FAST: Partial<AgentOptions> = { checkpoint: false, sandboxLogMaxBytes: MAX_BYTES, sandboxLogMaxFiles: 2, sandboxLogCheckIntervalMs: 10, diskWatchIntervalMs: 10 };

let h: ModelHarness | undefined;
let housekeeping: Housekeeping | undefined;
let lines: Line[] = [];

/** A harness with its work dir made, and a Housekeeping on its model logging into `lines`. */
function start(options: Partial<AgentOptions> = {}): { h: ModelHarness; housekeeping: Housekeeping } {
  h = new ModelHarness({ ...FAST, ...options });
  fs.mkdirSync(h.workDir, { recursive: true });
  lines = [];
  housekeeping = new Housekeeping(h.model, recordingLogger(lines));
  return { h, housekeeping };
}
/** A sandbox with `bytes` of stdout. */
function withOutput(sandbox: string, bytes: number): string {
  fs.mkdirSync(sandbox, { recursive: true });
  const stdout = path.join(sandbox, 'stdout');
  fs.writeFileSync(stdout, 'x'.repeat(bytes));
  return stdout;
}
const logged = (msg: string) => lines.find((line) => line.msg === msg);

const test = suite('agent/housekeeping');
test.after.each(async () => {
  await housekeeping?.stop();
  housekeeping = undefined;
  await h?.close();
  h = undefined;
});

test('rotates a live run\'s output past --sandbox_log_max_size and logs it; a TERMINATED run\'s is left alone', async () => {
  const { h, housekeeping } = start();
  const framework = h.framework();
  // The terminated run comes first: once the live one is rotated, the pass has been past it.
  const done = h.run(framework, 'ex-done', { recovered: { state: 'TERMINATED' } });
  const live = h.run(framework, 'ex-live');
  const doneOut = withOutput(done.sandbox, 5000);
  const liveOut = withOutput(live.sandbox, 5000);
  housekeeping.start();
  // The log line comes after the truncation: wait for both, or a loaded machine sees one without the other.
  await waitFor(() => fs.existsSync(`${liveOut}.1`) && fs.statSync(liveOut).size === 0 && logged('task output rotated'), { message: 'the live run\'s stdout rotated and logged' });
  assert.is(fs.statSync(`${liveOut}.1`).size, MAX_BYTES, 'the last max_size bytes are kept');
  assert.equal(logged('task output rotated'), { level: 'debug', fields: { file: liveOut, keptBytes: MAX_BYTES, droppedBytes: 5000 - MAX_BYTES, maxSize: '2KB' }, msg: 'task output rotated' });
  assert.is(fs.statSync(doneOut).size, 5000);
  assert.not.ok(fs.existsSync(`${doneOut}.1`));
});

test('a rotation that fails is warned about with the file, and done on a later check once it can be', async () => {
  const { h, housekeeping } = start();
  const live = h.run(h.framework());
  const stdout = withOutput(live.sandbox, 5000);
  // With --sandbox_log_max_files=2 the old stdout.1 is removed first: a directory in its place cannot be.
  fs.mkdirSync(path.join(`${stdout}.1`, 'inside'), { recursive: true });
  housekeeping.start();
  const warning = await waitFor(() => logged('could not rotate task output (retried on the next check)'), { message: 'the rotation warning' });
  assert.is(warning.level, 'warn');
  assert.is(warning.fields.file, stdout);
  assert.type(warning.fields.err, 'string');
  assert.is(fs.statSync(stdout).size, 5000, 'nothing was cut');
  removeDir(`${stdout}.1`);
  await waitFor(() => fs.statSync(stdout).size === 0, { message: 'the retried rotation' });
  assert.is(fs.statSync(`${stdout}.1`).size, MAX_BYTES);
});

test('when the disk is short, removes completed sandboxes before their gc_delay, and only those', async () => {
  // Headroom 1: the age rule allows completed sandboxes gc_delay × max(0, 1 − 1 − usage) = 0 ms.
  const { h, housekeeping } = start({ gcDiskHeadroom: 1 });
  const framework = h.framework();
  const completed = h.run(framework, 'ex-completed', { recovered: { state: 'TERMINATED' } });
  const live = h.run(framework, 'ex-live');
  for (const run of [completed, live]) fs.mkdirSync(run.sandbox, { recursive: true });
  completed.completedAt = Date.now();
  h.model.maybeForget(completed); // its (default: one week) gc_delay starts
  housekeeping.start();
  await waitFor(() => !fs.existsSync(completed.sandbox), { message: 'the completed sandbox removed' });
  const line = await waitFor(() => logged('disk short: completed sandboxes removed before their gc_delay'), { message: 'the pruning logged' });
  assert.is(line.level, 'info');
  assert.is(line.fields.maxAgeMs, 0);
  assert.is(line.fields.removed, 1);
  const usage = line.fields.usage as number;
  assert.ok(usage >= 0 && usage <= 1, `usage ${usage} is a fraction`);
  assert.ok(fs.existsSync(live.sandbox), 'a live run\'s sandbox is never pruned');
});

test('warns when the work dir\'s disk usage cannot be read', async () => {
  const { h, housekeeping } = start();
  removeDir(h.workDir);
  housekeeping.start();
  const warning = await waitFor(() => logged('could not read the work dir\'s disk usage'), { message: 'the disk usage warning' });
  assert.is(warning.level, 'warn');
  assert.match(String(warning.fields.err), /ENOENT/);
});

test('can be stopped before it started and twice, and started again after a stop', async () => {
  const first = start();
  await first.housekeeping.stop();
  first.housekeeping.start();
  await first.housekeeping.stop();
  await first.housekeeping.stop();
  // Started again after a stop, it works again: the intervals were cleared, not broken.
  const live = first.h.run(first.h.framework());
  const stdout = withOutput(live.sandbox, 5000);
  first.housekeeping.start();
  await waitFor(() => fs.statSync(stdout).size === 0, { message: 'a rotation after a restart' });
});

test.run();
