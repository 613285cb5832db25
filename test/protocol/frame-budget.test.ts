import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFrameBudget } from '../../src/protocol/frame-budget.js';
import { AgentCall, decodeFrame, encode, ExecutorCall, ProtocolError } from '../../src/protocol/index.js';

/** `{type, x: [count × one-byte `fill`]}`: a frame of almost nothing but tiny objects. */
function tinyObjects(count: number, fill: number): Buffer {
  const head = encode({ type: 'SUBSCRIBE', x: null }).subarray(0, -1);
  const array = Buffer.from([0xdd, (count >>> 24) & 255, (count >>> 16) & 255, (count >>> 8) & 255, count & 255]);
  return Buffer.concat([head, array, Buffer.alloc(count, fill)]);
}

// Found by the hostile fault run: 1 MiB of empty maps decoded to a million objects (~90 MB each).
test('a frame made of one-byte maps, arrays or binaries is refused before it is decoded', () => {
  for (const [fill, what] of [[0x80, 'maps'], [0x90, 'arrays']] as const) {
    const bytes = tinyObjects(500_000, fill);
    assert.throws(() => checkFrameBudget(bytes), (error: Error) => error instanceof ProtocolError && /more than \d+ maps, arrays and binaries/.test(error.message), what);
    assert.throws(() => decodeFrame(ExecutorCall, bytes), (error: Error) => error instanceof ProtocolError && /at most one per 8 bytes/.test(error.message));
  }
  const bins = Buffer.concat([encode({ type: 'SUBSCRIBE', x: null }).subarray(0, -1), Buffer.from([0xdc, 0xff, 0xff]), Buffer.alloc(2 * 0xffff).fill(Buffer.from([0xc4, 0x00]))]);
  assert.throws(() => checkFrameBudget(bins), /maps, arrays and binaries/);
});

test('real frames, even large ones, are within the budget', () => {
  const status = () => ({ taskId: 'task-1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now(), data: Buffer.from('x') });
  const subscribe = { type: 'SUBSCRIBE', frameworkId: 'f', executorId: 'e', containerId: randomUUID(), token: 'a'.repeat(64), protocol: 1, unacknowledgedTasks: [], unacknowledgedUpdates: Array.from({ length: 5_000 }, status) };
  assert.is((decodeFrame(ExecutorCall, encode(subscribe)) as { unacknowledgedUpdates: unknown[] }).unacknowledgedUpdates.length, 5_000);
  const task = (i: number) => ({
    frameworkId: 'f1',
    executorId: `e${i}`,
    task: { taskId: `t${i}`, name: '', agentId: 'a1', resources: { cpus: 0, mem: 0 }, executor: { executorId: `e${i}`, frameworkId: 'f1', command: { value: 'x' } } },
    state: 'TASK_RUNNING',
  });
  const reregister = { type: 'REREGISTER', agentInfo: { id: 'a1', hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true }, frameworks: [], executors: [], tasks: Array.from({ length: 5_000 }, (_, i) => task(i)) };
  assert.is((decodeFrame(AgentCall, encode(reregister)) as { tasks: unknown[] }).tasks.length, 5_000);
  checkFrameBudget(encode({ type: 'HEARTBEAT' }));
  checkFrameBudget(encode([[], {}, [[]], {}]));
});

test('malformed or truncated msgpack is left to the decoder (but the byte 0xC1 is refused at once)', () => {
  assert.throws(() => checkFrameBudget(Buffer.from([0xc1, 0x80, 0x80])), /0xC1/);
  checkFrameBudget(Buffer.from([0xdd, 0xff]));
  checkFrameBudget(Buffer.from([]));
  assert.throws(() => decodeFrame(ExecutorCall, Buffer.from([0xdd, 0xff])), (error: Error) => error instanceof ProtocolError && /not valid msgpack/.test(error.message));
});

test.run();
