// Tolerant peers (protocol/tolerant.ts): a well-formed type a newer release added is an
// UnknownTypeError (dropped by receivers), anything else stays a bad frame, and each unknown type is
// logged once per link, with a bounded memory of them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { decodeFrame, encode, ExecutorCall, LifelineError, ProtocolError } from '../../src/protocol/index.js';
import { knownTypes, rejectUnknownType, UnknownTypeError, UnknownTypes } from '../../src/protocol/tolerant.js';

const test = suite('protocol/tolerant');

const Link = v.variant('type', [v.object({ type: v.literal('PING') }), v.object({ type: v.literal('SAY'), text: v.string() })]);

test('an UnknownTypeError is a ProtocolError (ERR_PROTOCOL) that carries the type and says it is ignored', () => {
  const error = new UnknownTypeError('RESIZE');
  assert.instance(error, ProtocolError);
  assert.instance(error, LifelineError);
  assert.is(error.code, 'ERR_PROTOCOL');
  assert.is(error.name, 'UnknownTypeError');
  assert.is(error.type, 'RESIZE');
  assert.is(error.message, 'frame has unknown type "RESIZE" (a newer peer\'s message: ignored)');
});

test('knownTypes() lists the type literals of a variant, and nothing for another schema', () => {
  assert.equal([...knownTypes(Link)].sort(), ['PING', 'SAY']);
  assert.ok(knownTypes(ExecutorCall).has('SUBSCRIBE'));
  assert.is(knownTypes(v.string()).size, 0);
  // Cached per schema: the same set each time.
  assert.is(knownTypes(Link), knownTypes(Link));
});

test('rejects a well-formed type the schema does not list', () => {
  for (const type of ['RESIZE', 'A', 'NEW_CALL_2', 'X'.repeat(64)]) {
    assert.throws(() => rejectUnknownType(Link, { type, anything: [1, 2] }), (error: unknown) => error instanceof UnknownTypeError && error.type === type, type);
  }
});

test('leaves known types, malformed types and non-frames to the schema check', () => {
  // Known: checked by the schema as strictly as ever (the missing `text` is not excused).
  rejectUnknownType(Link, { type: 'SAY' });
  rejectUnknownType(Link, { type: 'PING' });
  // Not what a later release's name looks like: just a bad frame.
  for (const type of ['resize', 'Resize', '1PING', '_X', 'X'.repeat(65), 'A-B', '', 42, null, undefined]) rejectUnknownType(Link, { type });
  for (const value of [null, undefined, 'PING', 7, ['RESIZE'], {}]) rejectUnknownType(Link, value);
  // A schema with no variants knows nothing, so nothing is "unknown" to it.
  rejectUnknownType(v.object({ type: v.string() }), { type: 'RESIZE' });
});

test('decodeFrame() throws UnknownTypeError for a newer type and a plain ProtocolError for a bad one', () => {
  assert.throws(() => decodeFrame(ExecutorCall, encode({ type: 'FUTURE_CALL', x: 1 })), (error: unknown) => error instanceof UnknownTypeError && error.type === 'FUTURE_CALL');
  assert.throws(
    () => decodeFrame(ExecutorCall, encode({ type: 'future' })),
    (error: unknown) => error instanceof ProtocolError && !(error instanceof UnknownTypeError) && /unknown or missing type "future"/.test(error.message),
  );
});

test('firstTime() is true once per link and type', () => {
  const unknown = new UnknownTypes();
  assert.ok(unknown.firstTime('agent a1', 'RESIZE'));
  assert.not.ok(unknown.firstTime('agent a1', 'RESIZE'));
  assert.ok(unknown.firstTime('agent a1', 'GROW'));
  assert.ok(unknown.firstTime('agent a2', 'RESIZE'));
  assert.not.ok(unknown.firstTime('agent a2', 'RESIZE'));
  // Each instance (each receiver) has its own memory.
  assert.ok(new UnknownTypes().firstTime('agent a1', 'RESIZE'));
});

test('firstTime() remembers at most 256 types, then stays quiet about new ones', () => {
  const unknown = new UnknownTypes();
  for (let i = 0; i < 256; i++) assert.ok(unknown.firstTime('scheduler', `TYPE_${i}`), `TYPE_${i}`);
  assert.not.ok(unknown.firstTime('scheduler', 'TYPE_256'));
  assert.not.ok(unknown.firstTime('another link', 'TYPE_0'));
  assert.not.ok(unknown.firstTime('scheduler', 'TYPE_0'));
});

test.run();
