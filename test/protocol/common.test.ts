import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import {
  AgentInfo,
  Bytes,
  ErrorEvent,
  ExecutorInfo,
  FrameworkInfo,
  Id,
  NewTaskInfo,
  ProtocolError,
  Resources,
  RoutedTaskStatus,
  TaskInfo,
  TaskStatus,
  Text,
  Uuid,
  validate,
} from '../../src/protocol/index.js';
import { refusal as refusalOf } from './refusal.js';

const task = { taskId: 't1', name: 'sleep', agentId: 'a1', resources: { cpus: 0.5, mem: 32 }, command: { value: 'sleep 1' } };
const status = { taskId: 't1', state: 'TASK_RUNNING', uuid: '0b6a1e7c-3f4d-4a49-9f1c-2d7f0c2e1a55', timestamp: 1_700_000_000_000 };

/** Validates `value` and returns the ProtocolError's message (fails the test when it is accepted). */
/** Values refused here are records unless said otherwise. */
const refusal = (schema: v.GenericSchema, value: unknown, what = 'record'): string => refusalOf(schema, value, what);

const common = suite('protocol/common');

common('accepts IDs up to 200 characters and refuses path-like or longer ones', () => {
  assert.ok(v.is(Id, 'task-1.a_b'));
  assert.ok(v.is(Id, 'x'.repeat(200)));
  for (const bad of ['', '..', '../x', 'a/b', '-x', 'x'.repeat(201), 42]) assert.not.ok(v.is(Id, bad), JSON.stringify(bad));
  assert.is(v.safeParse(Id, 'a/b').issues?.[0].message, 'must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$');
});

common('accepts UUID-like hex strings and refuses anything else', () => {
  assert.ok(v.is(Uuid, status.uuid));
  assert.ok(v.is(Uuid, 'DEADBEEF'));
  for (const bad of ['', 'xyz-not-hex', 'abc', 'a'.repeat(65)]) assert.not.ok(v.is(Uuid, bad), bad);
  assert.is(v.safeParse(Uuid, 'nope').issues?.[0].message, 'must be a UUID');
});

common('takes bytes as any Uint8Array (a Buffer too) and never as a string or array', () => {
  assert.ok(v.is(Bytes, new Uint8Array(3)));
  assert.ok(v.is(Bytes, Buffer.from('x')));
  assert.not.ok(v.is(Bytes, 'bytes'));
  assert.not.ok(v.is(Bytes, [1, 2]));
});

common('bounds free text at 64 KiB', () => {
  assert.ok(v.is(Text, 'x'.repeat(64 * 1024)));
  assert.not.ok(v.is(Text, 'x'.repeat(64 * 1024 + 1)));
});

common('refuses negative, infinite and missing resources, with the field named', () => {
  assert.equal(validate(Resources, { cpus: 0, mem: 0 }, 'resources'), { cpus: 0, mem: 0 });
  assert.match(refusal(Resources, { cpus: -1, mem: 1 }), /field cpus .*-1/);
  assert.match(refusal(Resources, { cpus: 1, mem: Infinity }), /field mem invalid finite/);
  assert.match(refusal(Resources, { cpus: 1 }), /field mem/);
  assert.match(refusal(Resources, { cpus: 1, mem: 1, disk: -5 }), /field disk/);
});

common('accepts a task with an executor, kill policy and data, and keeps its data as bytes', () => {
  const full = {
    ...task,
    command: undefined,
    executor: { executorId: 'e1', frameworkId: 'f1', command: { value: './executor' }, name: 'exec', shutdownGracePeriodMs: 3000 },
    killPolicy: { gracePeriodMs: 0 },
    data: new Uint8Array([1, 2, 3]),
  };
  const checked = validate(TaskInfo, full, 'task');
  assert.is(checked.executor?.executorId, 'e1');
  assert.instance(checked.data, Uint8Array);
  assert.equal([...checked.data!], [1, 2, 3]);
});

common('names each bad field of a task', () => {
  assert.match(refusal(TaskInfo, { ...task, taskId: '../t' }, 'task'), /invalid task: field taskId .*"\.\.\/t"/);
  assert.match(refusal(TaskInfo, { ...task, name: 'n'.repeat(1025) }, 'task'), /field name/);
  assert.match(refusal(TaskInfo, { ...task, agentId: undefined }, 'task'), /field agentId/);
  assert.match(refusal(TaskInfo, { ...task, command: { value: '' } }, 'task'), /field command\.value/);
  assert.match(refusal(TaskInfo, { ...task, killPolicy: { gracePeriodMs: -1 } }, 'task'), /field killPolicy\.gracePeriodMs/);
  assert.match(refusal(TaskInfo, { ...task, killPolicy: { gracePeriodMs: 1.5 } }, 'task'), /field killPolicy\.gracePeriodMs invalid integer/);
  assert.match(refusal(TaskInfo, { ...task, data: 'text' }, 'task'), /field data/);
  assert.match(refusal(TaskInfo, { ...task, executor: { executorId: 'e1', frameworkId: 'f/1', command: { value: 'x' } } }, 'task'), /field executor\.frameworkId/);
});

common('lets a new task in ACCEPT leave out its agentId, which a launched task must have', () => {
  const { agentId: _agentId, ...withoutAgent } = task;
  assert.is(validate(NewTaskInfo, withoutAgent, 'task').agentId, undefined);
  assert.match(refusal(TaskInfo, withoutAgent, 'task'), /field agentId/);
  assert.match(refusal(NewTaskInfo, { ...withoutAgent, agentId: 'a b' }, 'task'), /field agentId/);
});

common('defaults a framework to checkpoint: false and bounds its failover timeout', () => {
  assert.equal(validate(FrameworkInfo, { name: 'fw' }, 'framework'), { name: 'fw', checkpoint: false });
  assert.is(validate(FrameworkInfo, { name: 'fw', checkpoint: true, failoverTimeoutMs: 2 ** 47 }, 'framework').failoverTimeoutMs, 2 ** 47);
  assert.match(refusal(FrameworkInfo, { name: 'fw', failoverTimeoutMs: 2 ** 47 + 1 }), /field failoverTimeoutMs/);
  assert.match(refusal(FrameworkInfo, { name: 'fw', checkpoint: 'yes' }), /field checkpoint/);
  assert.match(refusal(FrameworkInfo, { name: 'fw', id: '.x' }), /field id/);
});

common('requires an agent to state its hostname, its disk and whether it checkpoints', () => {
  const agent = { hostname: 'node-1', resources: { cpus: 2, mem: 1024, disk: 0 }, checkpoint: true };
  assert.equal(validate(AgentInfo, agent, 'agent'), agent);
  assert.match(refusal(AgentInfo, { ...agent, hostname: '' }), /field hostname/);
  assert.match(refusal(AgentInfo, { ...agent, resources: { cpus: 2, mem: 1024 } }), /field resources\.disk/);
  assert.match(refusal(AgentInfo, { ...agent, checkpoint: undefined }), /field checkpoint/);
});

common('accepts a status with its optional fields and names each bad one', () => {
  const full = { ...status, source: 'SOURCE_AGENT', reason: 'REASON_AGENT_RESTARTED', message: 'hi', data: Buffer.from('d'), healthy: true, agentId: 'a1', executorId: 'e1' };
  assert.is(validate(TaskStatus, full, 'status').reason, 'REASON_AGENT_RESTARTED');
  // A newer release's names are kept as they are (issue 11); malformed ones are refused, naming the value.
  const future = validate(TaskStatus, { ...status, state: 'TASK_DANCING', source: 'SOURCE_ME', reason: 'REASON_WHY_NOT' }, 'status');
  assert.equal([future.state, future.source, future.reason], ['TASK_DANCING', 'SOURCE_ME', 'REASON_WHY_NOT']);
  assert.match(refusal(TaskStatus, { ...status, state: 'TASK_dancing' }), /field state .*"TASK_dancing"/);
  assert.match(refusal(TaskStatus, { ...status, state: 'RUNNING' }), /field state .*"RUNNING"/);
  assert.match(refusal(TaskStatus, { ...status, source: 'me' }), /field source/);
  assert.match(refusal(TaskStatus, { ...status, reason: 'REASON_' }), /field reason/);
  assert.match(refusal(TaskStatus, { ...status, reason: 42 }), /field reason/);
  assert.match(refusal(TaskStatus, { ...status, timestamp: -1 }), /field timestamp/);
  assert.match(refusal(TaskStatus, { ...status, timestamp: 2 ** 48 }), /field timestamp/);
  assert.match(refusal(TaskStatus, { ...status, message: 'm'.repeat(64 * 1024 + 1) }), /field message/);
  assert.match(refusal(TaskStatus, { ...status, healthy: 1 }), /field healthy/);
});

common('requires a uuid on a status from the node, but not on a routed one (a reconciliation answer)', () => {
  const { uuid: _uuid, ...withoutUuid } = status;
  assert.match(refusal(TaskStatus, withoutUuid), /field uuid/);
  assert.is(validate(RoutedTaskStatus, withoutUuid, 'status').uuid, undefined);
  assert.match(refusal(RoutedTaskStatus, { ...status, uuid: 'zz' }), /field uuid must be a UUID/);
});

common('bounds the code of an ERROR event at 64 characters', () => {
  assert.ok(v.is(ErrorEvent, { type: 'ERROR', code: 'ERR_PROTOCOL', message: 'bad frame' }));
  assert.not.ok(v.is(ErrorEvent, { type: 'ERROR', code: 'x'.repeat(65), message: 'bad frame' }));
  assert.not.ok(v.is(ErrorEvent, { type: 'ERROR', code: 'ERR_PROTOCOL' }));
});

common('an ExecutorInfo refuses a negative or fractional shutdown grace period', () => {
  const info = { executorId: 'e1', frameworkId: 'f1', command: { value: 'x' } };
  assert.ok(v.is(ExecutorInfo, { ...info, shutdownGracePeriodMs: 0 }));
  assert.match(refusal(ExecutorInfo, { ...info, shutdownGracePeriodMs: -1 }), /field shutdownGracePeriodMs/);
  assert.match(refusal(ExecutorInfo, { ...info, shutdownGracePeriodMs: 0.5 }), /field shutdownGracePeriodMs/);
});

common.run();
