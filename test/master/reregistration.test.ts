import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ReregisterParts } from '../../src/master/reregistration.js';
import { MAX_REREGISTER_ITEMS, type ReregisterCall as Reregister } from '../../src/protocol/index.js';

const test = suite('ReregisterParts');

const AGENT_INFO = { id: 'agent-1', hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

function part(index: number, count: number, taskIds: string[], agentId = 'agent-1'): Reregister {
  return {
    type: 'REREGISTER',
    agentInfo: { ...AGENT_INFO, id: agentId },
    frameworks: index === 0 ? [{ id: 'fw', name: 'fw', checkpoint: true }] : [],
    executors: [],
    tasks: taskIds.map((taskId) => ({
      frameworkId: 'fw', executorId: taskId, state: 'TASK_RUNNING',
      task: { taskId, name: taskId, agentId, resources: { cpus: 1, mem: 16 }, command: { value: 'sleep 1' } },
    })),
    part: { index, count },
  };
}

function throwsWith(action: () => unknown, pattern: RegExp): void {
  try {
    action();
    assert.unreachable('it should have thrown');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_PROTOCOL');
    assert.match((error as Error).message, pattern);
  }
}

test('a call without parts passes straight through', () => {
  const parts = new ReregisterParts();
  const { part: _omit, ...whole } = part(0, 2, ['a']);
  assert.is(parts.add(whole), whole);
});

test('parts are joined in order and the whole comes out with the last one only', () => {
  const parts = new ReregisterParts();
  assert.is(parts.add(part(0, 3, ['a', 'b'])), undefined);
  assert.is(parts.add(part(1, 3, ['c'])), undefined);
  const whole = parts.add(part(2, 3, ['d']));
  assert.ok(whole);
  assert.is(whole.part, undefined);
  assert.equal(whole.tasks.map((entry) => entry.task.taskId), ['a', 'b', 'c', 'd']);
  assert.equal(whole.frameworks.map((framework) => framework.id), ['fw']);
  // A second, later call on another connection would start afresh; this one is reusable too.
  assert.is(parts.add(part(0, 2, ['e'])), undefined);
  assert.equal(parts.add(part(1, 2, ['f']))!.tasks.map((entry) => entry.task.taskId), ['e', 'f']);
});

test('out-of-order, mismatched and mixed parts are protocol errors that name what was wrong', () => {
  throwsWith(() => new ReregisterParts().add(part(1, 3, ['a'])), /REREGISTER part 1 of 3 arrived, but part 0 was expected/);
  const skipped = new ReregisterParts();
  skipped.add(part(0, 3, ['a']));
  throwsWith(() => skipped.add(part(2, 3, ['b'])), /part 2 of 3 arrived, but part 1 was expected/);
  const recount = new ReregisterParts();
  recount.add(part(0, 3, ['a']));
  throwsWith(() => recount.add(part(1, 4, ['b'])), /part 1 says count 4, but part 0 said 3/);
  const other = new ReregisterParts();
  other.add(part(0, 2, ['a']));
  throwsWith(() => other.add(part(1, 2, ['b'], 'agent-2')), /part 1 is from agent agent-2, but part 0 was from agent agent-1/);
  const mixed = new ReregisterParts();
  mixed.add(part(0, 2, ['a']));
  const { part: _omit, ...whole } = part(0, 2, ['b']);
  throwsWith(() => mixed.add(whole), /a REREGISTER without part arrived while part 1 of 2 was expected/);
});

test('parts that together list too many tasks are refused', () => {
  const parts = new ReregisterParts();
  const half = Math.ceil(MAX_REREGISTER_ITEMS / 2) + 1;
  parts.add(part(0, 2, Array.from({ length: half }, (_, i) => `a${i}`)));
  throwsWith(() => parts.add(part(1, 2, Array.from({ length: half }, (_, i) => `b${i}`))), new RegExp(`more than ${MAX_REREGISTER_ITEMS} tasks`));
});

test.run();
