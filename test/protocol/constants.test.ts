import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXECUTOR_PROTOCOL_VERSION, REASONS, SOURCES, TASK_STATES, isTerminal } from '../../src/protocol/constants.js';

const test = suite('protocol constants');

test('terminal states are exactly the seven of DESIGN §2', () => {
  const terminal = TASK_STATES.filter((state) => isTerminal(state));
  assert.equal(terminal, ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR']);
  assert.equal(
    TASK_STATES.filter((state) => !isTerminal(state)),
    ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING'],
  );
});

test('sources and the reasons DESIGN names are all there, once each', () => {
  assert.equal([...SOURCES], ['SOURCE_EXECUTOR', 'SOURCE_AGENT', 'SOURCE_MASTER']);
  for (const reason of ['REASON_AGENT_DISCONNECTED', 'REASON_AGENT_REMOVED', 'REASON_AGENT_RESTARTED', 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', 'REASON_EXECUTOR_TERMINATED', 'REASON_EXECUTOR_RECOVERY_TIMEOUT', 'REASON_COMMAND_EXECUTOR_FAILED', 'REASON_RECONCILIATION', 'REASON_TASK_KILLED_DURING_LAUNCH', 'REASON_FRAMEWORK_REMOVED'] as const) {
    assert.ok(REASONS.includes(reason), reason);
  }
  assert.is(new Set(REASONS).size, REASONS.length);
  assert.is(new Set(TASK_STATES).size, TASK_STATES.length);
});

test("the executor protocol is release 0.1.0's: 1", () => {
  assert.is(EXECUTOR_PROTOCOL_VERSION, 1);
});

test.run();
