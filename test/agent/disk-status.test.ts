// watchDisk on a real DiskHealth and a real Prometheus registry: one warning when an episode of
// failing task.updates files starts, one line when it ends, every error counted by its errno code,
// the failing files as a gauge, and /health's body degraded meanwhile.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { watchDisk } from '../../src/agent/disk-status.js';
import { DiskHealth } from '../../src/checkpoint/disk-health.js';
import type { Logger } from '../../src/log.js';
import { Registry } from '../../src/prometheus.js';

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

const errno = (code: string, message = `${code}: failed, write`) => Object.assign(new Error(message), { code });
const file = (n: number) => `/work/meta/slaves/a1/frameworks/f1/executors/e${n}/runs/c${n}/tasks/t${n}/task.updates`;

/** The value of `name` with exactly `labels` in the registry (undefined: no such sample). */
async function sample(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number> }>;
  return values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value;
}

function setup() {
  const health = new DiskHealth();
  const registry = new Registry();
  const lines: Line[] = [];
  const body = watchDisk(health, registry, recordingLogger(lines));
  return { health, registry, lines, body };
}

const test = suite('agent/disk-status');

test('says ok, logs nothing and counts nothing while the disk works', async () => {
  const { registry, lines, body } = setup();
  assert.equal(body(), { status: 'ok' });
  assert.equal(lines, []);
  assert.is(await sample(registry, 'lifeline_agent_disk_failing_files'), 0);
  assert.is(await sample(registry, 'lifeline_agent_disk_errors_total', { code: 'ENOSPC' }), undefined);
});

test('a first failure is degraded, warns once naming the file and the errno, and counts the error by code', async () => {
  const { health, registry, lines, body } = setup();
  health.failed(file(1), errno('ENOSPC', 'ENOSPC: no space left on device, write'), 0);
  assert.equal(body(), { status: 'degraded', disk: { failingFiles: 1, errors: 1, examples: [file(1)] } });
  assert.is(lines.length, 1);
  assert.is(lines[0]!.level, 'warn');
  assert.equal(lines[0]!.fields, { file: file(1), err: 'ENOSPC: no space left on device, write', code: 'ENOSPC' });
  assert.match(lines[0]!.msg, /cannot write the checkpoint: status updates are not acknowledged and are retried/);
  assert.is(await sample(registry, 'lifeline_agent_disk_errors_total', { code: 'ENOSPC' }), 1);
  assert.is(await sample(registry, 'lifeline_agent_disk_failing_files'), 1);
});

test('further failures of the episode are counted, not warned again', async () => {
  const { health, registry, lines, body } = setup();
  health.failed(file(1), errno('ENOSPC'), 0);
  health.failed(file(1), errno('ENOSPC'), 0);
  health.failed(file(2), errno('EIO'), 0);
  assert.is(lines.filter((line) => line.level === 'warn').length, 1);
  assert.is(await sample(registry, 'lifeline_agent_disk_errors_total', { code: 'ENOSPC' }), 2);
  assert.is(await sample(registry, 'lifeline_agent_disk_errors_total', { code: 'EIO' }), 1);
  assert.is(await sample(registry, 'lifeline_agent_disk_failing_files'), 2);
  assert.equal(body().disk, { failingFiles: 2, errors: 3, examples: [file(1), file(2)] });
});

test('an error without an errno code is counted as "unknown"', async () => {
  const { health, registry, lines } = setup();
  health.failed(file(1), new Error('the mount went read-only'), 0);
  assert.is(await sample(registry, 'lifeline_agent_disk_errors_total', { code: 'unknown' }), 1);
  assert.equal(lines[0]!.fields, { file: file(1), err: 'the mount went read-only', code: undefined });
});

test('names at most three failing files as examples, and counts them all', () => {
  const { health, body } = setup();
  for (let n = 1; n <= 5; n += 1) health.failed(file(n), errno('ENOSPC'), 0);
  assert.equal(body(), { status: 'degraded', disk: { failingFiles: 5, errors: 5, examples: [file(1), file(2), file(3)] } });
});

test('when every failing file works again: one line with the episode\'s files and errors, and ok again', async () => {
  const { health, registry, lines, body } = setup();
  health.failed(file(1), errno('ENOSPC'), 0);
  health.failed(file(2), errno('ENOSPC'), 0);
  health.failed(file(2), errno('ENOSPC'), 0);
  health.recovered(file(1));
  assert.is(body().status, 'degraded', 'one file still fails');
  assert.is(lines.length, 1);
  health.recovered(file(2));
  assert.equal(body(), { status: 'ok' });
  assert.is(lines.length, 2);
  assert.is(lines[1]!.level, 'info');
  assert.equal(lines[1]!.fields, { files: 2, errors: 3 });
  assert.match(lines[1]!.msg, /the checkpoint disk works again/);
  assert.is(await sample(registry, 'lifeline_agent_disk_failing_files'), 0);
  assert.is(await sample(registry, 'lifeline_agent_disk_errors_total', { code: 'ENOSPC' }), 3, 'the counter never goes back');
});

test('a second episode warns again; the body counts every error since start', () => {
  const { health, lines, body } = setup();
  health.failed(file(1), errno('ENOSPC'), 0);
  health.recovered(file(1));
  health.failed(file(1), errno('EIO'), 0);
  assert.equal(
    lines.map((line) => `${line.level} ${String(line.fields.code ?? line.fields.errors)}`),
    ['warn ENOSPC', 'info 1', 'warn EIO'],
  );
  assert.equal(body().disk, { failingFiles: 1, errors: 2, examples: [file(1)] });
});

test.run();
