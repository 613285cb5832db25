import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentCall, decode, decodeFrame, encode, ExecutorCall, ExecutorEvent, ProtocolError, SchedulerCall, UnknownTypeError, validate } from '../../src/protocol/index.js';

const status = () => ({ taskId: 't1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now() });
const task = { taskId: 't1', name: 'sleep', agentId: 'a1', resources: { cpus: 0.1, mem: 32 }, command: { value: 'sleep 1' } };

function rejects(fn: () => unknown, pattern: RegExp) {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ProtocolError);
    assert.is((error as ProtocolError).code, 'ERR_PROTOCOL');
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a ProtocolError matching ${pattern}`);
}

const codec = suite('codec');

codec('round-trips every executor call as plain objects', () => {
  const calls = [
    { type: 'SUBSCRIBE', frameworkId: 'f1', executorId: 'e1', containerId: randomUUID(), token: 'x'.repeat(64), protocol: 1, unacknowledgedTasks: [task], unacknowledgedUpdates: [status()] },
    { type: 'UPDATE', status: { ...status(), data: new Uint8Array([1, 2, 3]), reason: 'REASON_RECONCILIATION', source: 'SOURCE_EXECUTOR' } },
    { type: 'MESSAGE', data: Buffer.from('hello') },
    { type: 'HEARTBEAT' },
  ];
  for (const call of calls) {
    const decoded = decodeFrame(ExecutorCall, encode(call));
    assert.is(decoded.type, call.type);
    assert.is(Object.getPrototypeOf(decoded), Object.prototype);
  }
});

codec('decodes nested objects as objects, never Maps', () => {
  const value = decode(encode({ type: 'X', nested: { a: { b: 1 } } })) as { nested: { a: unknown } };
  assert.not.instance(value.nested, Map);
  assert.equal(value.nested.a, { b: 1 });
});

codec('rejects bytes that are not msgpack', () => {
  rejects(() => decodeFrame(ExecutorCall, Buffer.from([0xc1, 0xff, 0x00])), /msgpack|object|type/);
  rejects(() => decodeFrame(ExecutorCall, Buffer.alloc(0)), /msgpack|object/);
});

codec('rejects a frame that is not an object with a type', () => {
  rejects(() => decodeFrame(ExecutorCall, encode([1, 2, 3])), /must be an object/);
  rejects(() => decodeFrame(ExecutorCall, encode('SUBSCRIBE')), /must be an object/);
  rejects(() => decodeFrame(ExecutorCall, encode({ nope: 1 })), /missing type/);
});

codec('names an unknown message type: a well-formed one as a newer peer\'s (UnknownTypeError, to ignore), any other as a bad frame', () => {
  assert.throws(() => decodeFrame(AgentCall, encode({ type: 'LAUNCH_MISSILES' })), (error: unknown) => error instanceof UnknownTypeError && error.type === 'LAUNCH_MISSILES' && error.code === 'ERR_PROTOCOL');
  rejects(() => decodeFrame(AgentCall, encode({ type: 'launch missiles' })), /unknown or missing type "launch missiles"/);
  rejects(() => decodeFrame(AgentCall, encode({ type: 7 })), /unknown or missing type 7/);
});

codec('names the field and value of an invalid ID', () => {
  rejects(() => decodeFrame(ExecutorCall, encode({ type: 'UPDATE', status: { ...status(), taskId: '../x' } })), /status\.taskId.*"\.\.\/x"/);
  rejects(() => decodeFrame(SchedulerCall, encode({ type: 'KILL', taskId: 'a/b' })), /taskId.*"a\/b"/);
  rejects(() => decodeFrame(SchedulerCall, encode({ type: 'KILL', taskId: '' })), /taskId/);
  rejects(() => decodeFrame(SchedulerCall, encode({ type: 'KILL', taskId: 'a\u0001b' })), /taskId/);
});

codec('keeps a newer release\'s task state, and rejects a malformed state and wrong field types', () => {
  assert.is((decodeFrame(ExecutorCall, encode({ type: 'UPDATE', status: { ...status(), state: 'TASK_DANCING' } })) as { status: { state: string } }).status.state, 'TASK_DANCING');
  rejects(() => decodeFrame(ExecutorCall, encode({ type: 'UPDATE', status: { ...status(), state: 'dancing' } })), /status\.state/);
  rejects(() => decodeFrame(ExecutorCall, encode({ type: 'UPDATE', status: { ...status(), state: 'TASK_' } })), /status\.state/);
  rejects(() => decodeFrame(ExecutorCall, encode({ type: 'MESSAGE', data: 'not bytes' })), /data/);
  rejects(() => decodeFrame(ExecutorEvent, encode({ type: 'SHUTDOWN', gracePeriodMs: -1 })), /gracePeriodMs/);
});

codec('drops unknown fields, so they cannot reach the program', () => {
  const decoded = decodeFrame(SchedulerCall, encode({ type: 'SUBSCRIBE', frameworkInfo: { name: 'x', evil: true }, extra: 1 }));
  assert.equal(decoded, { type: 'SUBSCRIBE', frameworkInfo: { name: 'x', checkpoint: false } });
});

codec('survives deep nesting without crashing', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 5_000; i++) deep = [deep];
  let bytes: Buffer;
  try {
    bytes = encode({ type: 'HEARTBEAT', deep });
  } catch {
    return; // the encoder itself refused: nothing to decode
  }
  const decoded = (() => {
    try {
      return decodeFrame(ExecutorCall, bytes);
    } catch (error) {
      assert.instance(error, ProtocolError);
      return undefined;
    }
  })();
  if (decoded) assert.equal(decoded, { type: 'HEARTBEAT' });
});

// Found by the hostile fault run (scripts/faults/hostile.ts): a 600 KB REREGISTER with 200k tiny
// invalid items cost the master seconds of CPU and ~400 MiB, one issue object per item.
codec('validation stops at the first bad item of a huge array instead of visiting them all', () => {
  let visited = 0;
  const items = new Proxy(Array.from({ length: 200_000 }, () => 0), {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^[0-9]+$/.test(key) && key !== '0') visited++;
      return Reflect.get(target, key, receiver);
    },
  });
  const frame = { type: 'REREGISTER', agentInfo: { id: 'a1', hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true }, frameworks: items, executors: [], tasks: [] };
  try {
    validate(AgentCall, frame, 'frame');
    assert.unreachable('expected a ProtocolError');
  } catch (error) {
    assert.instance(error, ProtocolError);
    assert.match((error as Error).message, 'field frameworks.0');
  }
  assert.is(visited, 0, `visited ${visited} items after the first bad one`);
});

codec.run();
