import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { checkRecord, LogRecord } from '../../src/checkpoint/records.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { agreeOnEveryField, agreeOnJunk } from '../fixtures/mutants.js';

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
  const { checked, rejected } = agreeOnEveryField(VALID, valibot, light, (record) => String(record.kind));
  assert.ok(checked > 400, `${checked} mutants checked`);
  assert.ok(rejected > checked / 2, `${rejected} of ${checked} rejected`);
});

Records('agrees with valibot on random junk, and refuses non-objects', () => {
  agreeOnJunk(VALID, valibot, light, { seed: 11, count: 3000, key: 'kind', keys: ['UPDATE', 'ACK', 'NOPE', 7, undefined], chance: 0.15 });
  for (const junk of [null, undefined, 3, 'UPDATE', [], [{ kind: 'ACK', uuid: UUID }]]) assert.not.ok(light(junk).ok, String(junk));
});

Records('its error is valibot\'s: it names the record type, the field and the value', () => {
  const result = light({ kind: 'UPDATE', status: { taskId: '../x', state: 'TASK_RUNNING', uuid: UUID, timestamp: 1 } });
  assert.not.ok(result.ok);
  assert.match((result as { message: string }).message, /invalid record: field status\.taskId .*"\.\.\/x"/);
});

Records.run();
