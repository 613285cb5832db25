import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { checkRecord, LogRecord } from '../../src/checkpoint/records.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { Random } from '../../scripts/lib/random.js';
import { MUTANTS, mutate, paths } from '../fixtures/mutants.js';

const UUID = '0e6f4c2a-8d1b-4c8e-9f7a-2b3c4d5e6f70';

/** Valid records, with every optional field of a status somewhere. */
const VALID: Record<string, unknown>[] = [
  { kind: 'UPDATE', status: { taskId: 't1', state: 'TASK_RUNNING', uuid: UUID, timestamp: 1_700_000_000_000 } },
  {
    kind: 'UPDATE',
    status: {
      taskId: 't1', state: 'TASK_FAILED', uuid: UUID, timestamp: 0, source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'gone', data: new Uint8Array([1, 2]), healthy: false, agentId: 'a1', executorId: 'e1',
    },
  },
  { kind: 'ACK', uuid: UUID },
];

function valibot(value: unknown): { ok: true; output: unknown } | { ok: false } {
  const result = v.safeParse(LogRecord, value);
  return result.success ? { ok: true, output: result.output } : { ok: false };
}

function light(value: unknown): { ok: true; output: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, output: checkRecord(value) };
  } catch (error) {
    assert.instance(error, ProtocolError);
    return { ok: false, message: (error as Error).message };
  }
}

const Records = suite('checkRecord (the light check of record-log records)');

Records('accepts every valid record with the same output as the valibot schema, unknown keys dropped', () => {
  for (const record of VALID) {
    const expected = valibot(record);
    assert.ok(expected.ok);
    assert.equal(light(record), expected);
  }
  const extra = light({ ...VALID[0], junk: 1, status: { ...(VALID[0]!.status as object), more: 2 } });
  assert.equal(extra, valibot(VALID[0]));
});

Records('agrees with valibot on every field removed or replaced by a bad value', () => {
  let checked = 0;
  let rejected = 0;
  for (const record of VALID) {
    for (const path of paths(record)) {
      for (const [i, replacement] of [...MUTANTS, 'removed'].entries()) {
        const remove = i === MUTANTS.length;
        const value = mutate(record, path, replacement, remove);
        const expected = valibot(value);
        const actual = light(value);
        const what = `${String(record.kind)} with ${path.join('.')} ${remove ? 'removed' : `= ${String(replacement).slice(0, 20)}`}`;
        assert.is(actual.ok, expected.ok, `${what}: valibot ${expected.ok ? 'accepts' : 'rejects'} it, checkRecord ${actual.ok ? 'accepts' : 'rejects'} it`);
        if (expected.ok && actual.ok) assert.equal(actual.output, expected.output, what);
        checked++;
        if (!actual.ok) rejected++;
      }
    }
  }
  assert.ok(checked > 400, `${checked} mutants checked`);
  assert.ok(rejected > checked / 2, `${rejected} of ${checked} rejected`);
});

Records('agrees with valibot on random junk, and refuses non-objects', () => {
  const random = new Random(11);
  const kinds = ['UPDATE', 'ACK', 'NOPE', 7, undefined];
  for (let i = 0; i < 3000; i++) {
    const base = VALID[random.int(0, VALID.length - 1)]!;
    let value: unknown = { ...base, kind: kinds[random.int(0, kinds.length - 1)] };
    for (const path of paths(base)) {
      if (!random.chance(0.15)) continue;
      try {
        value = mutate(value, path, MUTANTS[random.int(0, MUTANTS.length - 1)], false);
      } catch {
        // its parent is no longer an object
      }
    }
    assert.is(light(value).ok, valibot(value).ok, JSON.stringify(value, (_, item) => (item instanceof Uint8Array ? [...item] : item)).slice(0, 200));
  }
  for (const junk of [null, undefined, 3, 'UPDATE', [], [{ kind: 'ACK', uuid: UUID }]]) assert.not.ok(light(junk).ok, String(junk));
});

Records('its error is valibot\'s: it names the record type, the field and the value', () => {
  const result = light({ kind: 'UPDATE', status: { taskId: '../x', state: 'TASK_RUNNING', uuid: UUID, timestamp: 1 } });
  assert.not.ok(result.ok);
  assert.match((result as { message: string }).message, /invalid record: field status\.taskId .*"\.\.\/x"/);
});

Records.run();
