// msgpackr on untrusted input (issue 14, point 7): a peer's frame decodes to plain data only —
// no extension types (structured clone, Set, RegExp, Error, typed arrays, BigInt, Date) and no
// 0xC1 marker object — on every path: decode(), decodeFrame(), the executor's event decoder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, decodeFrame, encode, ExecutorCall, ProtocolError, SchedulerCall } from '../../src/protocol/index.js';
import { decodeEvent as decodeExecutorEvent } from '../../src/executor/events.js';

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (error: Error) => error instanceof ProtocolError && error.code === 'ERR_PROTOCOL' && pattern.test(error.message));

test('decode() of the byte 0xC1 throws a ProtocolError instead of returning msgpackr\'s C1 marker', () => {
  refused(() => decode(Buffer.from([0xc1])), /0xC1/);
  refused(() => decode(Buffer.from([0x91, 0xc1])), /0xC1/);
});

test('refuses every extension type, in a map value, a key and an array', () => {
  const set = Buffer.from([0xd4, 0x73, 0x90]); // Set of []
  const regexp = Buffer.concat([Buffer.from([0xd4, 0x78]), encode(['a', ''])]);
  const clone = Buffer.from([0xd6, 0x69, 0, 0, 0, 0]); // structured-clone reference
  const date = encode(new Date(0)); // timestamp, ext -1
  const ext8 = Buffer.from([0xc7, 0x02, 0x42, 0x01, 0x02]); // BigInt through ext8
  for (const bytes of [set, regexp, clone, date, ext8]) refused(() => decode(bytes), /extension of type -?\d+/);
  refused(() => decode(Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), set])), /extension of type 115/);
  refused(() => decode(Buffer.concat([Buffer.from([0x81]), set, Buffer.from([0x01])])), /extension/);
  refused(() => decode(Buffer.concat([Buffer.from([0x92, 0x01]), date])), /extension of type -1/);
});

test('still accepts the undefined marker our own encoder writes (fields set to undefined)', () => {
  const bytes = encode({ type: 'HEARTBEAT', extra: undefined });
  assert.ok(bytes.includes(0xd4), 'undefined is encoded as fixext1 type 0');
  assert.equal(decodeFrame(ExecutorCall, bytes), { type: 'HEARTBEAT' });
});

test('refuses an extension in a frame on every endpoint path, naming it', () => {
  const set = Buffer.from([0xd4, 0x73, 0x90]);
  const frame = Buffer.concat([Buffer.from([0x82, 0xa4, ...Buffer.from('type'), 0xa4, ...Buffer.from('KILL'), 0xa6, ...Buffer.from('taskId')]), set]);
  refused(() => decodeFrame(SchedulerCall, frame), /extension of type 115/);
  refused(() => decodeExecutorEvent(frame), /extension of type 115/);
});

test('plain data round-trips unchanged (binary stays a Uint8Array)', () => {
  const value = { a: 1, b: 'x', c: [true, null, 2.5], d: new Uint8Array([1, 2]) };
  const back = decode(encode(value)) as typeof value;
  assert.equal({ ...back, d: [...back.d] }, { ...value, d: [1, 2] });
});

test.run();
