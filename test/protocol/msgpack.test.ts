import { Packr } from 'msgpackr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtocolError } from '../../src/protocol/errors.js';
import { decode, encode, toBuffer } from '../../src/protocol/msgpack.js';

const msgpack = suite('protocol/msgpack');

msgpack('round-trips strings, numbers, booleans, null, arrays, nested objects and bytes', () => {
  const value = { type: 'UPDATE', n: 3, big: 2 ** 40, f: 0.25, neg: -7, ok: true, none: null, list: [1, 'two', { three: 3 }], text: 'héllo ✓', nested: { a: { b: [] } } };
  assert.equal(decode(encode(value)), value);
  const bytes = decode(encode({ data: new Uint8Array([0, 1, 255]) })) as { data: Uint8Array };
  assert.instance(bytes.data, Uint8Array);
  assert.equal([...bytes.data], [0, 1, 255]);
});

msgpack('encodes to a Buffer', () => {
  assert.ok(Buffer.isBuffer(encode({ type: 'HEARTBEAT' })));
});

msgpack('decodes every object as a plain object, never a Map or a record', () => {
  const decoded = decode(encode([{ a: 1 }, { a: 2 }, { a: 3 }])) as Array<{ a: number }>;
  for (const item of decoded) {
    assert.is(Object.getPrototypeOf(item), Object.prototype);
    assert.not.instance(item, Map);
  }
  const map = decode(encode(new Map([['k', 1]])));
  assert.not.instance(map, Map);
  assert.equal(map, { k: 1 });
});

msgpack('encodes the same message to the same bytes every time (no shared records between frames)', () => {
  const message = { type: 'UPDATE', status: { taskId: 't1', state: 'TASK_RUNNING' } };
  const first = encode(message);
  const second = encode(message);
  assert.ok(first.equals(second));
  // A fresh decoder (a peer that reconnected, or another process) reads either frame alone.
  const other = new Packr({ useRecords: false, mapsAsObjects: true });
  assert.equal(other.unpack(second), message);
});

msgpack('reads frames written by the standard msgpackr encoder', () => {
  const bytes = new Packr({ useRecords: false }).pack({ type: 'HEARTBEAT', n: [1, 2] });
  assert.equal(decode(bytes), { type: 'HEARTBEAT', n: [1, 2] });
});

msgpack('refuses bytes that are not msgpack with a ProtocolError that keeps the cause', () => {
  // Empty, an array of 2 with 1 item, a 5-byte string with 2 bytes: all cut short.
  for (const bytes of [Buffer.alloc(0), Buffer.from([0x92, 0x01]), Buffer.from([0xd9, 0x05, 0x61, 0x62])]) {
    try {
      decode(bytes);
      assert.unreachable(`decoded ${bytes.toString('hex')}`);
    } catch (error) {
      assert.instance(error, ProtocolError);
      assert.is((error as ProtocolError).code, 'ERR_PROTOCOL');
      assert.match((error as Error).message, /^frame is not valid msgpack \(/);
      assert.instance((error as Error).cause, Error);
    }
  }
});

msgpack('toBuffer returns a Buffer as it is, joins fragments and copies an ArrayBuffer', () => {
  const buffer = Buffer.from('abc');
  assert.is(toBuffer(buffer), buffer);
  assert.is(toBuffer([Buffer.from('ab'), Buffer.from('cd')]).toString(), 'abcd');
  const arrayBuffer = new Uint8Array([104, 105]).buffer;
  const converted = toBuffer(arrayBuffer);
  assert.ok(Buffer.isBuffer(converted));
  assert.is(converted.toString(), 'hi');
});

msgpack('loads the pure-JavaScript build of msgpackr, not the package entry with its native addon', async () => {
  const { readFile } = await import('node:fs/promises');
  const compiled = await readFile(new URL('../../src/protocol/msgpack.js', import.meta.url), 'utf8');
  assert.match(compiled, /from 'msgpackr\/pack'/);
  assert.not.match(compiled, /from 'msgpackr'/);
});

msgpack.run();
