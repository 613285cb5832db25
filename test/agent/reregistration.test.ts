import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { reregisterFrames } from '../../src/agent/reregistration.js';
import { AgentCall, decodeFrame, MAX_REREGISTER_PARTS, type ReregisterCall as Reregister } from '../../src/protocol/index.js';
import { bigReregister } from '../fixtures/reregister.js';

const test = suite('reregisterFrames');

function decodeAll(frames: Uint8Array[]): Reregister[] {
  return frames.map((frame) => decodeFrame(AgentCall, frame) as Reregister);
}

test('a call that fits in one part is one frame without a part field', () => {
  const call = bigReregister(10);
  const frames = reregisterFrames(call, 512 * 1024);
  assert.is(frames.length, 1);
  const [only] = decodeAll(frames);
  assert.is(only!.part, undefined);
  assert.equal(only, call);
});

test('a large call is cut into valid parts under the size, each repeating agentInfo, that join back to the call in order', () => {
  const call = bigReregister(5_000);
  const partBytes = 256 * 1024;
  const frames = reregisterFrames(call, partBytes);
  assert.ok(frames.length >= 5, `${frames.length} parts for a call of 5,000 tasks at ${partBytes} bytes each`);
  for (const frame of frames) assert.ok(frame.length <= partBytes, `a part of ${frame.length} bytes is over ${partBytes}`);
  const parts = decodeAll(frames);
  parts.forEach((part, index) => {
    assert.equal(part.part, { index, count: frames.length });
    assert.equal(part.agentInfo, call.agentInfo);
  });
  assert.equal(parts.flatMap((part) => part.frameworks), call.frameworks);
  assert.equal(parts.flatMap((part) => part.executors), call.executors);
  assert.equal(parts.flatMap((part) => part.tasks), call.tasks);
});

test('an item larger than a part on its own gets a part to itself', () => {
  const call = bigReregister(6);
  call.tasks[3]!.task.command = { value: `echo ${'x'.repeat(4_000)}` };
  const frames = reregisterFrames(call, 1_200);
  const parts = decodeAll(frames);
  const holder = parts.find((part) => part.tasks.some((entry) => entry.task.taskId === 'task-3'))!;
  assert.is(holder.tasks.length, 1, 'the oversize task is alone in its part');
  assert.equal(parts.flatMap((part) => part.tasks), call.tasks);
});

test('a call that would need more parts than a master accepts is refused with ERR_FRAME_TOO_LARGE naming the counts', () => {
  const call = bigReregister(2_000);
  try {
    reregisterFrames(call, 1_024);
    assert.unreachable('it should have thrown');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_FRAME_TOO_LARGE');
    assert.match((error as Error).message, /REREGISTER of 2000 tasks and 2000 executors needs \d+ parts of 1024 bytes/);
    assert.match((error as Error).message, new RegExp(`at most ${MAX_REREGISTER_PARTS}`));
  }
});

test.run();
