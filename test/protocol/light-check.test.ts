// The light validator's own behaviour (protocol/light-check.ts): what each combinator accepts, the
// Mismatch it throws (path, expected, value), and object()'s handling of missing, optional and
// extra keys. Its agreement with valibot on the records is test/checkpoint/records.test.ts's.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  boolean,
  bytes,
  fail,
  id,
  integer,
  literal,
  MAX_TEXT,
  millis,
  Mismatch,
  object,
  openName,
  optional,
  pattern,
  picklist,
  required,
  string,
  uuid,
  type Check,
} from '../../src/protocol/light-check.js';

const test = suite('protocol/light-check');

/** The Mismatch a check throws on `value` at `path` (fails when the value passes). */
function mismatch<T>(check: Check<T>, value: unknown, path = 'field'): Mismatch {
  try {
    check(value, path);
  } catch (error) {
    assert.instance(error, Mismatch);
    return error as Mismatch;
  }
  assert.unreachable(`expected ${JSON.stringify(value)} to be refused`);
  throw new Error('unreachable');
}

test('a Mismatch is an Error whose message is what was expected, with the path and the value', () => {
  const error = new Mismatch('a.b', 'must be a boolean', 3);
  assert.instance(error, Error);
  assert.is(error.message, 'must be a boolean');
  assert.is(error.path, 'a.b');
  assert.is(error.value, 3);
  assert.throws(() => fail('x', 'is wrong', null), (thrown: unknown) => thrown instanceof Mismatch && thrown.path === 'x' && thrown.expected === 'is wrong' && thrown.value === null);
});

test('string() takes a string within its bounds and says them when refusing', () => {
  const name = string(1, 3);
  assert.is(name('abc', 'name'), 'abc');
  assert.is(name('a', 'name'), 'a');
  const long = mismatch(name, 'abcd', 'name');
  assert.equal([long.path, long.expected, long.value], ['name', 'must be a string of 1 to 3 characters', 'abcd']);
  assert.is(mismatch(name, '').expected, 'must be a string of 1 to 3 characters');
  assert.is(mismatch(name, 3).expected, 'must be a string of 1 to 3 characters');
  // With no minimum the message says only the maximum.
  const text = string(0, MAX_TEXT);
  assert.is(text('', 'text'), '');
  assert.is(text('x'.repeat(MAX_TEXT), 'text').length, 64 * 1024);
  assert.is(mismatch(text, 'x'.repeat(MAX_TEXT + 1)).expected, 'must be a string of at most 65536 characters');
});

test('pattern(), id and uuid test strings only, and say what they expected', () => {
  const upper = pattern(/^[A-Z]+$/, 'must be capitals');
  assert.is(upper('ABC', 'p'), 'ABC');
  assert.is(mismatch(upper, 'abc').expected, 'must be capitals');
  assert.is(mismatch(upper, 42).expected, 'must be capitals');
  assert.is(id('task-1.a_b', 'taskId'), 'task-1.a_b');
  for (const bad of ['', '.hidden', '-x', 'a/b', 'x'.repeat(201), 7]) {
    assert.is(mismatch(id, bad, 'taskId').expected, 'must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$', String(bad));
  }
  assert.is(uuid('0b6a1e7c-3f4d-4a49-9f1c-2d7f0c2e1a55', 'uuid'), '0b6a1e7c-3f4d-4a49-9f1c-2d7f0c2e1a55');
  for (const bad of ['abc', 'xyz-not-hex', 'a'.repeat(65)]) assert.is(mismatch(uuid, bad).expected, 'must be a UUID', bad);
});

test('integer() refuses fractions, NaN, infinities and numbers out of range, and states the range', () => {
  const count = integer(1);
  assert.is(count(1, 'n'), 1);
  assert.is(count(2 ** 53, 'n'), 2 ** 53);
  for (const bad of [0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', 3n]) assert.is(mismatch(count, bad).expected, 'must be an integer >= 1', String(bad));
  const port = integer(1, 65_535);
  assert.is(port(65_535, 'port'), 65_535);
  assert.is(mismatch(port, 65_536).expected, 'must be an integer from 1 to 65535');
  assert.is(millis(0, 't'), 0);
  assert.is(millis(2 ** 47, 't'), 2 ** 47);
  assert.is(mismatch(millis, 2 ** 47 + 1).expected, `must be an integer from 0 to ${2 ** 47}`);
  assert.is(mismatch(millis, -1).expected, `must be an integer from 0 to ${2 ** 47}`);
});

test('boolean and bytes take exactly their type (a Buffer is bytes, a string or array is not)', () => {
  assert.is(boolean(false, 'b'), false);
  assert.is(mismatch(boolean, 0).expected, 'must be a boolean');
  assert.is(mismatch(boolean, 'true').expected, 'must be a boolean');
  const data = new Uint8Array([1, 2]);
  assert.is(bytes(data, 'data'), data);
  const buffer = Buffer.from('x');
  assert.is(bytes(buffer, 'data'), buffer);
  for (const bad of ['AQI=', [1, 2], new ArrayBuffer(2), null]) assert.is(mismatch(bytes, bad).expected, 'must be bytes (a msgpack bin)');
});

test('literal() and picklist() name what they allow', () => {
  const kind = literal('STATUS');
  assert.is(kind('STATUS', 'type'), 'STATUS');
  assert.is(mismatch(kind, 'status').expected, 'must be "STATUS"');
  const level = picklist(['low', 'high']);
  assert.is(level('high', 'level'), 'high');
  assert.is(mismatch(level, 'mid').expected, 'must be one of low, high');
  // Not fooled by what a Set or an object would inherit.
  assert.is(mismatch(level, 'constructor').expected, 'must be one of low, high');
  assert.is(mismatch(level, ['low']).expected, 'must be one of low, high');
});

test('openName() takes a known name or a well-formed one with the prefix from a newer release', () => {
  const state = openName<string>(['TASK_RUNNING', 'TASK_FINISHED'], 'TASK_');
  assert.is(state('TASK_RUNNING', 'state'), 'TASK_RUNNING');
  assert.is(state('TASK_PAUSED', 'state'), 'TASK_PAUSED');
  for (const bad of ['TASK_', 'TASK_paused', 'RUNNING', 'task_running', 'TASK_' + 'A'.repeat(64), 1]) {
    assert.is(mismatch(state, bad).expected, 'must be one of TASK_RUNNING, TASK_FINISHED (or TASK_ and capitals, from a newer release)', String(bad));
  }
});

test('object() keeps only the shape\'s keys and refuses non-objects, null and arrays', () => {
  const point = object({ x: required(integer(0)), y: required(integer(0)) });
  assert.equal(point({ x: 1, y: 2, z: 3 }, 'point'), { x: 1, y: 2 });
  for (const bad of [null, [1, 2], 'point', 3, undefined]) {
    const error = mismatch(point, bad, 'point');
    assert.is(error.expected, 'must be an object', String(bad));
    assert.is(error.path, 'point');
  }
});

test('object() names the first bad key by its dotted path, from the root without a leading dot', () => {
  const record = object({ task: required(object({ id: required(id), state: required(literal('TASK_RUNNING')) })) });
  const nested = mismatch(record, { task: { id: 'a/b', state: 'TASK_RUNNING' } }, '');
  assert.equal([nested.path, nested.expected, nested.value], ['task.id', 'must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$', 'a/b']);
  assert.is(mismatch(record, { task: { id: 'a' } }, '').path, 'task.state');
  assert.is(mismatch(record, { task: 1 }, 'record').path, 'record.task');
});

test('object() says a required key is missing, also when it is present as undefined', () => {
  const shape = object({ a: required(boolean) });
  const missing = mismatch(shape, {}, '');
  assert.equal([missing.path, missing.expected, missing.value], ['a', 'is missing', undefined]);
  assert.is(mismatch(shape, { a: undefined }, '').expected, 'is missing');
});

test('object() keeps an optional key missing when missing and undefined when undefined, as valibot does', () => {
  const shape = object({ a: required(boolean), note: optional(string(0, 10)) });
  const absent = shape({ a: true }, '');
  assert.equal(absent, { a: true });
  assert.not.ok('note' in absent);
  const present = shape({ a: true, note: undefined }, '');
  assert.ok('note' in present);
  assert.is(present.note, undefined);
  assert.equal(shape({ a: true, note: 'hi' }, ''), { a: true, note: 'hi' });
  // A present optional key is checked like a required one.
  assert.is(mismatch(shape, { a: true, note: 'x'.repeat(11) }, '').path, 'note');
});

test.run();
