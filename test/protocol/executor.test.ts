import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { EXECUTOR_PROTOCOL_VERSION, ExecutorCall, ExecutorEvent, validate } from '../../src/protocol/index.js';
import { refusal } from './refusal.js';

const uuid = '0b6a1e7c-3f4d-4a49-9f1c-2d7f0c2e1a55';
const task = { taskId: 't1', name: 'sleep', agentId: 'a1', resources: { cpus: 0.5, mem: 32 }, command: { value: 'sleep 1' } };
const status = { taskId: 't1', state: 'TASK_RUNNING', uuid, timestamp: 1_700_000_000_000 };
const subscribe = {
  type: 'SUBSCRIBE',
  frameworkId: 'f1',
  executorId: 'e1',
  containerId: 'c1',
  token: 'x'.repeat(64),
  protocol: EXECUTOR_PROTOCOL_VERSION,
  unacknowledgedTasks: [task],
  unacknowledgedUpdates: [status],
};
const subscribed = {
  type: 'SUBSCRIBED',
  agentId: 'a1',
  containerId: 'c1',
  executorInfo: { executorId: 'e1', frameworkId: 'f1', command: { value: './exec' } },
  frameworkInfo: { id: 'f1', name: 'fw', checkpoint: true },
  heartbeatIntervalMs: 5000,
};


const calls = suite('protocol/executor: calls');

calls('accepts every call an executor makes', () => {
  for (const call of [subscribe, { type: 'UPDATE', status }, { type: 'MESSAGE', data: new Uint8Array([1]) }, { type: 'HEARTBEAT' }]) {
    assert.is(validate(ExecutorCall, call, 'frame').type, call.type);
  }
});

calls('accepts a first SUBSCRIBE with empty backlogs', () => {
  const call = validate(ExecutorCall, { ...subscribe, unacknowledgedTasks: [], unacknowledgedUpdates: [] }, 'frame');
  assert.equal(call.type === 'SUBSCRIBE' && [call.unacknowledgedTasks, call.unacknowledgedUpdates], [[], []]);
});

calls('refuses each bad field of SUBSCRIBE, naming it', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ frameworkId: 'f/1' }, /invalid SUBSCRIBE frame: field frameworkId .*"f\/1"/],
    [{ executorId: '' }, /field executorId/],
    [{ containerId: '..' }, /field containerId/],
    [{ token: '' }, /field token invalid length/],
    [{ token: 't'.repeat(257) }, /field token invalid length/],
    [{ token: 42 }, /field token invalid type/],
    [{ protocol: 0 }, /field protocol .*0/],
    [{ protocol: 1.5 }, /field protocol invalid integer/],
    [{ protocol: '1' }, /field protocol invalid type/],
    [{ unacknowledgedTasks: 3 }, /field unacknowledgedTasks invalid type/],
    [{ unacknowledgedTasks: [{ ...task, taskId: 'a/b' }] }, /field unacknowledgedTasks\.0\.taskId/],
    [{ unacknowledgedUpdates: undefined }, /field unacknowledgedUpdates/],
    [{ unacknowledgedUpdates: [status, { ...status, state: 'task_nope' }] }, /field unacknowledgedUpdates\.1\.state/],
  ];
  for (const [change, pattern] of cases) assert.match(refusal(ExecutorCall, { ...subscribe, ...change }), pattern);
});

calls('refuses a backlog of more than 10,000 entries', () => {
  const tasks = Array.from({ length: 10_001 }, () => task);
  assert.match(refusal(ExecutorCall, { ...subscribe, unacknowledgedTasks: tasks }), /field unacknowledgedTasks invalid length/);
  const updates = Array.from({ length: 10_001 }, () => status);
  assert.match(refusal(ExecutorCall, { ...subscribe, unacknowledgedUpdates: updates }), /field unacknowledgedUpdates invalid length/);
});

calls('refuses an UPDATE without a status or with a bad one', () => {
  assert.match(refusal(ExecutorCall, { type: 'UPDATE' }), /invalid UPDATE frame: field status/);
  assert.match(refusal(ExecutorCall, { type: 'UPDATE', status: { ...status, uuid: 'nope' } }), /field status\.uuid must be a UUID/);
  assert.match(refusal(ExecutorCall, { type: 'UPDATE', status: { ...status, timestamp: 1.5 } }), /field status\.timestamp/);
});

calls('refuses a MESSAGE whose data is not bytes', () => {
  assert.match(refusal(ExecutorCall, { type: 'MESSAGE', data: 'text' }), /invalid MESSAGE frame: field data/);
  assert.match(refusal(ExecutorCall, { type: 'MESSAGE' }), /field data/);
});

calls('refuses the types that only the agent sends', () => {
  for (const type of ['SUBSCRIBED', 'LAUNCH', 'KILL', 'ACKNOWLEDGED', 'SHUTDOWN', 'ERROR']) {
    assert.match(refusal(ExecutorCall, { type }), new RegExp(`unknown or missing type "${type}"`));
  }
});

const events = suite('protocol/executor: events');

events('accepts every event an agent sends', () => {
  const all = [
    subscribed,
    { type: 'LAUNCH', task },
    { type: 'KILL', taskId: 't1' },
    { type: 'KILL', taskId: 't1', gracePeriodMs: 0 },
    { type: 'ACKNOWLEDGED', taskId: 't1', uuid },
    { type: 'MESSAGE', data: Buffer.from('hi') },
    { type: 'SHUTDOWN', gracePeriodMs: 5000 },
    { type: 'HEARTBEAT' },
    { type: 'ERROR', code: 'ERR_PROTOCOL', message: 'bad frame' },
  ];
  for (const event of all) assert.is(validate(ExecutorEvent, event, 'frame').type, event.type);
});

events('refuses each bad field of SUBSCRIBED, naming it', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ agentId: 'a b' }, /invalid SUBSCRIBED frame: field agentId/],
    [{ containerId: undefined }, /field containerId/],
    [{ executorInfo: { ...subscribed.executorInfo, command: { value: '' } } }, /field executorInfo\.command\.value/],
    [{ frameworkInfo: { name: 'fw', checkpoint: 'no' } }, /field frameworkInfo\.checkpoint/],
    [{ heartbeatIntervalMs: 0 }, /field heartbeatIntervalMs/],
    [{ heartbeatIntervalMs: 2.5 }, /field heartbeatIntervalMs invalid integer/],
  ];
  for (const [change, pattern] of cases) assert.match(refusal(ExecutorEvent, { ...subscribed, ...change }), pattern);
});

events('refuses a LAUNCH of an invalid task, naming the task field', () => {
  assert.match(refusal(ExecutorEvent, { type: 'LAUNCH', task: { ...task, resources: { cpus: -1, mem: 1 } } }), /invalid LAUNCH frame: field task\.resources\.cpus/);
  assert.match(refusal(ExecutorEvent, { type: 'LAUNCH' }), /field task/);
});

events('refuses a KILL or SHUTDOWN with a negative or fractional grace period, and a SHUTDOWN without one', () => {
  assert.match(refusal(ExecutorEvent, { type: 'KILL', taskId: 't1', gracePeriodMs: -1 }), /invalid KILL frame: field gracePeriodMs/);
  assert.match(refusal(ExecutorEvent, { type: 'KILL', taskId: 't1', gracePeriodMs: 1.5 }), /field gracePeriodMs invalid integer/);
  assert.match(refusal(ExecutorEvent, { type: 'KILL', gracePeriodMs: 1 }), /field taskId/);
  assert.match(refusal(ExecutorEvent, { type: 'SHUTDOWN' }), /invalid SHUTDOWN frame: field gracePeriodMs/);
  assert.match(refusal(ExecutorEvent, { type: 'SHUTDOWN', gracePeriodMs: -5 }), /field gracePeriodMs/);
});

events('refuses an ACKNOWLEDGED without a valid uuid or task ID', () => {
  assert.match(refusal(ExecutorEvent, { type: 'ACKNOWLEDGED', taskId: 't1', uuid: 'zz' }), /invalid ACKNOWLEDGED frame: field uuid must be a UUID: "zz"/);
  assert.match(refusal(ExecutorEvent, { type: 'ACKNOWLEDGED', taskId: '/t', uuid }), /field taskId/);
});

events('refuses an ERROR with an overlong code or no message', () => {
  assert.match(refusal(ExecutorEvent, { type: 'ERROR', code: 'E'.repeat(65), message: 'm' }), /invalid ERROR frame: field code invalid length/);
  assert.match(refusal(ExecutorEvent, { type: 'ERROR', code: 'ERR_PROTOCOL' }), /field message/);
});

events('refuses the types that only an executor sends', () => {
  for (const type of ['SUBSCRIBE', 'UPDATE']) assert.match(refusal(ExecutorEvent, { type }), new RegExp(`unknown or missing type "${type}"`));
});

calls.run();
events.run();
