import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtocolError } from '../../src/protocol/errors.js';
import { decode, encode, toBuffer } from '../../src/protocol/msgpack.js';

const test = suite('msgpack');

test('round-trips a frame; objects decode as plain objects, bytes as Uint8Array', () => {
  const frame = { type: 'UPDATE', status: { taskId: 't1', state: 'TASK_RUNNING', data: new Uint8Array([1, 2, 3]) }, list: [1, 'two', null] };
  const back = decode(encode(frame)) as typeof frame;
  assert.equal({ ...back, status: { ...back.status, data: [...back.status.data] } }, { ...frame, status: { ...frame.status, data: [1, 2, 3] } });
  assert.is(Object.getPrototypeOf(back), Object.prototype, 'a plain object, not a Map or a record');
  assert.instance(back.status.data, Uint8Array);
});

test('two encodings of the same frame are the same bytes (no state kept between frames)', () => {
  const frame = { type: 'HEARTBEAT', n: 1 };
  assert.equal(encode(frame), encode(frame));
});

test('bytes that are not msgpack are a ProtocolError that says so', () => {
  try {
    decode(Buffer.from([0x92, 0x01]));
    assert.unreachable('a truncated array was decoded');
  } catch (error) {
    assert.instance(error, ProtocolError);
    assert.match((error as Error).message, /frame is not valid msgpack/);
  }
});

test('toBuffer joins what ws hands over: a Buffer, an ArrayBuffer or fragments', () => {
  const bytes = Buffer.from('abc');
  assert.is(toBuffer(bytes), bytes);
  assert.equal(toBuffer(new Uint8Array([97, 98, 99]).buffer), bytes);
  assert.equal(toBuffer([Buffer.from('a'), Buffer.from('bc')]), bytes);
});

test.run();
