// validate() parses a frame against the one option its `type` selects instead of the whole variant
// (codec.ts, variantOption). These check that the shortcut applies to every variant of the protocol
// and gives exactly valibot's verdict: the same output for a valid frame, the same first issue
// (message and path) for an invalid one.
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { LogRecord } from '../../src/checkpoint/records.js';
import { AgentCall, AgentEvent, ExecutorCall, ExecutorEvent, SchedulerCall, SchedulerEvent, validate, variantOption } from '../../src/protocol/index.js';

const VARIANTS = { AgentCall, AgentEvent, ExecutorCall, ExecutorEvent, SchedulerCall, SchedulerEvent, LogRecord } as const;

type Variant = (typeof VARIANTS)[keyof typeof VARIANTS];

/** Every literal a variant dispatches on. */
function literals(schema: Variant): { key: string; values: unknown[] } {
  const variant = schema as unknown as { key: string; options: Array<{ entries: Record<string, { literal: unknown }> }> };
  return { key: variant.key, values: variant.options.map((option) => option.entries[variant.key]!.literal) };
}

const status = () => ({ taskId: 't1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now() });

/** Valid and invalid values for every option: the bare discriminator, wrong field types, a few real frames. */
function samples(schema: Variant): unknown[] {
  const { key, values } = literals(schema);
  const out: unknown[] = [
    { [key]: 'NO_SUCH_TYPE' },
    { [key]: 7 },
    {},
    { type: 'UPDATE', status: status() },
    { type: 'UPDATE', status: { ...status(), uuid: 'not a uuid!' } },
    { type: 'ACKNOWLEDGED', taskId: 't1', uuid: randomUUID() },
    { type: 'ACKNOWLEDGED', taskId: 'bad id!', uuid: randomUUID() },
    { type: 'HEARTBEAT' },
    { type: 'HEARTBEAT', extra: 1 },
    { kind: 'UPDATE', status: status() },
    { kind: 'ACK', uuid: randomUUID() },
    { kind: 'ACK', uuid: 5 },
  ];
  for (const literal of values) {
    out.push({ [key]: literal });
    out.push({ [key]: literal, taskId: 5, uuid: [], status: 'x', data: 'x', frameworkId: {}, agentId: null });
  }
  return out;
}

function verdict(schema: v.GenericSchema, value: unknown): unknown {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return { ok: result.output };
  const issue = result.issues[0];
  return { message: issue.message, path: issue.path?.map((item) => item.key), input: issue.input };
}

const variants = suite('codec: a variant checked against its selected option');

for (const [name, schema] of Object.entries(VARIANTS)) {
  variants(`${name}: every option is selected by its literal`, () => {
    const { key, values } = literals(schema);
    for (const literal of values) assert.ok(variantOption(schema, { [key]: literal }), `${name} option ${String(literal)}`);
    assert.is(variantOption(schema, { [key]: 'NO_SUCH_TYPE' }), undefined);
    assert.is(variantOption(schema, 'not an object'), undefined);
  });

  variants(`${name}: the selected option gives valibot's own verdict, valid or not`, () => {
    let compared = 0;
    for (const value of samples(schema)) {
      const option = variantOption(schema, value);
      if (!option) continue;
      assert.equal(verdict(option, value), verdict(schema, value), `${name} ${JSON.stringify(value)}`);
      compared++;
    }
    assert.ok(compared >= literals(schema).values.length * 2, `${name}: ${compared} values compared`);
  });
}

variants('validate() names the field of an invalid frame as before', () => {
  assert.throws(() => validate(ExecutorEvent, { type: 'ACKNOWLEDGED', taskId: 't1', uuid: 'x' }, 'frame'), /invalid ACKNOWLEDGED frame: field uuid/);
  assert.throws(() => validate(ExecutorCall, { type: 'NOPE' }, 'frame'), /unknown or missing type "NOPE"/);
});

variants('a variant that is not one of literal objects is parsed whole', () => {
  const nested = v.variant('type', [v.object({ type: v.literal('A') }), v.variant('sub', [v.object({ type: v.literal('B'), sub: v.literal('x') })])]);
  assert.is(variantOption(nested, { type: 'A' }), undefined);
  const repeated = v.variant('type', [v.object({ type: v.literal('A'), a: v.number() }), v.object({ type: v.literal('A'), b: v.number() })]);
  assert.is(variantOption(repeated, { type: 'A', b: 1 }), undefined);
  assert.equal(validate(repeated, { type: 'A', b: 1 }, 'frame'), { type: 'A', b: 1 });
});

variants.run();
