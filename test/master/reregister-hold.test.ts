// ReregisterHold: split REREGISTERs held per connection within one byte budget
// (--max_reregister_bytes): bytes counted for every part but the last, given back when the call is
// whole or the connection closes, and a part past the cap refused with ERR_CONNECTION.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { ReregisterHold } from '../../src/master/reregister-hold.js';
import type { ReregisterCall as Reregister } from '../../src/protocol/index.js';

const Hold = suite('master/reregister-hold: ReregisterHold');

const AGENT_INFO = { id: 'agent-1', hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

function part(index: number, count: number, taskIds: string[]): Reregister {
  return {
    type: 'REREGISTER',
    agentInfo: AGENT_INFO,
    frameworks: [],
    executors: [],
    tasks: taskIds.map((taskId) => ({
      frameworkId: 'fw', executorId: taskId, state: 'TASK_RUNNING',
      task: { taskId, name: taskId, agentId: AGENT_INFO.id, resources: { cpus: 1, mem: 16 }, command: { value: 'sleep 1' } },
    })),
    part: { index, count },
  };
}

Hold('a call without parts is whole at once and holds nothing', () => {
  const hold = new ReregisterHold(100, silentLogger);
  const { part: _omit, ...whole } = part(0, 1, ['a']);
  assert.is(hold.add({ remote: 'a' }, whole, 500), whole);
  assert.is(hold.heldBytes, 0);
});

Hold('every part but the last is counted, and the whole call gives the bytes back', () => {
  const hold = new ReregisterHold(1000, silentLogger);
  const connection = { remote: 'a' };
  assert.is(hold.add(connection, part(0, 3, ['a']), 100), undefined);
  assert.is(hold.add(connection, part(1, 3, ['b']), 200), undefined);
  assert.is(hold.heldBytes, 300);
  const whole = hold.add(connection, part(2, 3, ['c']), 400);
  assert.equal(whole?.tasks.map((task) => task.task.taskId), ['a', 'b', 'c']);
  assert.is(hold.heldBytes, 0);
});

Hold('the budget is shared by all connections; a closed one gives its bytes back', () => {
  const hold = new ReregisterHold(1000, silentLogger);
  const one = { remote: 'one' };
  const two = { remote: 'two' };
  hold.add(one, part(0, 2, ['a']), 300);
  hold.add(two, part(0, 2, ['b']), 400);
  assert.is(hold.heldBytes, 700);
  hold.release(one);
  assert.is(hold.heldBytes, 400);
  hold.release(one);
  assert.is(hold.heldBytes, 400, 'released twice, counted once');
});

Hold('a part past the cap is refused with ERR_CONNECTION naming the flag, and its connection holds nothing after', () => {
  const warned: unknown[] = [];
  const hold = new ReregisterHold(500, { ...silentLogger, warn: (obj: object | string, msg?: string) => void warned.push([obj, msg]) });
  const other = { remote: 'other' };
  const connection = { remote: '10.0.0.1:4000' };
  hold.add(other, part(0, 2, ['x']), 200);
  hold.add(connection, part(0, 3, ['a']), 200);
  try {
    hold.add(connection, part(1, 3, ['b']), 200);
    assert.unreachable('it should have thrown');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CONNECTION');
    assert.match((error as Error).message, /holds 200 bytes of unfinished REREGISTERs, at its limit of 500 \(--max_reregister_bytes\): try again later/);
  }
  assert.is(hold.heldBytes, 200, 'only the other connection\'s part is held');
  assert.equal(warned, [[{ heldBytes: 400, partBytes: 200, maxReregisterBytes: 500, remote: '10.0.0.1:4000' }, 'REREGISTER part refused: --max_reregister_bytes reached']]);
});

Hold.run();
