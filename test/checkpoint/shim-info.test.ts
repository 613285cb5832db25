import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { ShimInfo } from '../../src/checkpoint/shim-info.js';

const test = suite('shim-info');

const good = { pid: 4242, startTime: 123_456, protocol: 1, executorId: 'e1', containerId: 'c-1', tasks: [{ taskId: 't1', pgid: 4243, startTime: 123_457 }] };

test('accepts the identity an executor writes about itself', () => {
  assert.equal(v.parse(ShimInfo, good), good);
});

test('refuses what a task could plant to make the agent signal the wrong process', () => {
  const bad: Array<[string, unknown]> = [
    ['pid 0', { ...good, pid: 0 }],
    ['pid over the kernel limit', { ...good, pid: 2 ** 22 + 1 }],
    ['a fractional start time', { ...good, startTime: 1.5 }],
    ['a task group of 0', { ...good, tasks: [{ ...good.tasks[0], pgid: 0 }] }],
    ['a task ID that is a path', { ...good, tasks: [{ ...good.tasks[0], taskId: '../x' }] }],
    ['an executor ID that is a path', { ...good, executorId: '../../etc' }],
    ['no protocol', { ...good, protocol: undefined }],
  ];
  for (const [what, value] of bad) assert.is(v.safeParse(ShimInfo, value).success, false, what);
});

test.run();
