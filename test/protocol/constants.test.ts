import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXECUTOR_PROTOCOL_VERSION, isTerminal, REASONS, SOURCES, TASK_STATES } from '../../src/protocol/constants.js';
import * as common from '../../src/protocol/common.js';

const constants = suite('protocol/constants');

constants('lists the eleven task states once each', () => {
  assert.is(TASK_STATES.length, 11);
  assert.is(new Set(TASK_STATES).size, TASK_STATES.length);
  for (const state of TASK_STATES) assert.match(state, /^TASK_[A-Z]+$/);
});

constants('calls exactly the end states terminal', () => {
  const terminal = TASK_STATES.filter((state) => isTerminal(state));
  assert.equal(terminal, ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR']);
  for (const state of ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING'] as const) assert.not.ok(isTerminal(state), state);
});

constants('names the three sources and distinct reasons', () => {
  assert.equal([...SOURCES], ['SOURCE_EXECUTOR', 'SOURCE_AGENT', 'SOURCE_MASTER']);
  assert.is(new Set(REASONS).size, REASONS.length);
  for (const reason of REASONS) assert.match(reason, /^REASON_[A-Z_]+$/);
  for (const reason of ['REASON_AGENT_RESTARTED', 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', 'REASON_RECONCILIATION'] as const) {
    assert.ok(REASONS.includes(reason), reason);
  }
});

constants('speaks executor protocol version 1', () => {
  assert.is(EXECUTOR_PROTOCOL_VERSION, 1);
});

constants('are the same values that the schemas of common.ts re-export', () => {
  assert.is(common.TASK_STATES, TASK_STATES);
  assert.is(common.SOURCES, SOURCES);
  assert.is(common.REASONS, REASONS);
  assert.is(common.isTerminal, isTerminal);
});

constants('imports nothing, so the executor side can use them without loading the schemas', () => {
  const compiled = fs.readFileSync(new URL('../../src/protocol/constants.js', import.meta.url), 'utf8');
  assert.not.match(compiled, /^\s*import\b/m);
  assert.not.match(compiled, /\bimport\(/);
});

constants.run();
