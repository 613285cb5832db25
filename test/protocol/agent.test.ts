import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validate } from '../../src/protocol/codec.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import {
  AgentCall, AgentEvent, MAX_REREGISTER_ITEMS, MAX_REREGISTER_PARTS, REREGISTER_LISTS, REREGISTER_PART_BYTES, ReportedTask, ReregisterPart,
} from '../../src/protocol/agent.js';

const agentInfo = { id: 'a1', hostname: 'node1', resources: { cpus: 2, mem: 1024, disk: 0 }, checkpoint: true };
const task = { taskId: 't1', name: 'sleep', agentId: 'a1', resources: { cpus: 0.1, mem: 32 } };
const reported = { frameworkId: 'f1', executorId: 'e1', task, state: 'TASK_RUNNING' };
const reregister = () => ({
  type: 'REREGISTER', agentInfo, frameworks: [{ id: 'f1', name: 'fw' }],
  executors: [{ executorId: 'e1', frameworkId: 'f1', command: { value: 'x' } }], tasks: [reported],
});

function refuses(schema: Parameters<typeof validate>[0], value: unknown, pattern: RegExp, what = 'frame') {
  let caught: unknown;
  try {
    validate(schema, value, what);
  } catch (error) {
    caught = error;
  }
  assert.instance(caught, ProtocolError, `expected a ProtocolError matching ${pattern}`);
  assert.match((caught as Error).message, pattern);
}

const agent = suite('agent protocol');

agent('the limits of a split REREGISTER fit the master\'s default frame size', () => {
  assert.is(MAX_REREGISTER_PARTS, 128);
  assert.is(REREGISTER_PART_BYTES, 512 * 1024);
  assert.is(MAX_REREGISTER_ITEMS, 100_000);
  assert.equal([...REREGISTER_LISTS], ['frameworks', 'executors', 'tasks']);
});

agent('accepts every call an agent sends', () => {
  const calls = [
    { type: 'REGISTER', agentInfo: { ...agentInfo, id: undefined } },
    reregister(),
    { ...reregister(), part: { index: 1, count: 2 } },
    { type: 'STATUS_UPDATE', frameworkId: 'f1', status: { taskId: 't1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1, agentId: 'a1', executorId: 'e1' } },
    { type: 'EXECUTOR_MESSAGE', frameworkId: 'f1', executorId: 'e1', data: new Uint8Array([1]) },
    { type: 'UNREGISTER' },
    { type: 'PONG' },
  ];
  for (const call of calls) assert.is(validate(AgentCall, call, 'frame').type, call.type);
});

agent('a REREGISTER must carry the agent ID and each framework\'s ID', () => {
  refuses(AgentCall, { ...reregister(), agentInfo: { ...agentInfo, id: undefined } }, /^invalid REREGISTER frame: field agentInfo\.id /);
  refuses(AgentCall, { ...reregister(), frameworks: [{ name: 'fw' }] }, /field frameworks\.0\.id /);
});

agent('a status leaving the node must say which agent and executor it comes from', () => {
  const status = { taskId: 't1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 1 };
  refuses(AgentCall, { type: 'STATUS_UPDATE', frameworkId: 'f1', status }, /^invalid STATUS_UPDATE frame: field status\.agentId /);
  refuses(AgentCall, { type: 'STATUS_UPDATE', frameworkId: 'f1', status: { ...status, agentId: 'a1' } }, /field status\.executorId /);
});

agent('a part index must be below its count, and a count is 2 to 128', () => {
  assert.equal(validate(ReregisterPart, { index: 0, count: 2 }, 'part'), { index: 0, count: 2 });
  refuses(ReregisterPart, { index: 2, count: 2 }, /index must be below count/, 'part');
  refuses(ReregisterPart, { index: 0, count: 1 }, /^invalid part: field count .*: 1$/, 'part');
  refuses(ReregisterPart, { index: 0, count: 129 }, /field count /, 'part');
  refuses(AgentCall, { ...reregister(), part: { index: 3, count: 3 } }, /index must be below count/);
});

agent('a reported task names its state and optionally its oldest unacknowledged update', () => {
  assert.equal(validate(ReportedTask, reported, 'task'), reported);
  const pending = { ...reported, unacknowledgedState: 'TASK_FINISHED', unacknowledgedUuid: randomUUID() };
  assert.is(validate(ReportedTask, pending, 'task').unacknowledgedState, 'TASK_FINISHED');
  refuses(ReportedTask, { ...reported, unacknowledgedState: 'done' }, /field unacknowledgedState /, 'task');
});

agent('accepts every event the master sends an agent', () => {
  const events = [
    { type: 'REGISTERED', agentId: 'a1', pingIntervalMs: 1000 },
    { type: 'REREGISTERED', agentId: 'a1', pingIntervalMs: 1000 },
    { type: 'RUN_TASK', frameworkInfo: { id: 'f1', name: 'fw' }, task },
    { type: 'KILL_TASK', frameworkId: 'f1', taskId: 't1' },
    { type: 'ACKNOWLEDGE', frameworkId: 'f1', taskId: 't1', uuid: randomUUID() },
    { type: 'FRAMEWORK_MESSAGE', frameworkId: 'f1', executorId: 'e1', data: new Uint8Array() },
    { type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'f1' },
    { type: 'SHUTDOWN', message: 'removed' },
    { type: 'PING' },
    { type: 'ERROR', code: 'ERR_X', message: 'x' },
  ];
  for (const event of events) assert.is(validate(AgentEvent, event, 'frame').type, event.type);
});

agent('an event with a bad field is refused naming the type and the field', () => {
  refuses(AgentEvent, { type: 'REGISTERED', agentId: 'a1', pingIntervalMs: 0 }, /^invalid REGISTERED frame: field pingIntervalMs /);
  refuses(AgentEvent, { type: 'RUN_TASK', frameworkInfo: { name: 'fw' }, task }, /^invalid RUN_TASK frame: field frameworkInfo\.id /);
  refuses(AgentEvent, { type: 'PONG' }, /^frame has unknown or missing type "PONG"$/);
});

agent.run();
