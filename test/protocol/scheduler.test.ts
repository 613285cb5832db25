import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { Offer, SchedulerCall, SchedulerEvent, Uuid, validate } from '../../src/protocol/index.js';
import { refusal } from './refusal.js';

const uuid = '0b6a1e7c-3f4d-4a49-9f1c-2d7f0c2e1a55';
const newTask = { taskId: 't1', name: 'sleep', resources: { cpus: 0.5, mem: 32 }, command: { value: 'sleep 1' } };
const offer = { id: 'o1', agentId: 'a1', hostname: 'node-1', resources: { cpus: 2, mem: 1024, disk: 10 } };


const calls = suite('protocol/scheduler: calls');

calls('accepts every call a framework makes', () => {
  const all = [
    { type: 'SUBSCRIBE', frameworkInfo: { name: 'fw', checkpoint: true } },
    { type: 'ACCEPT', offerIds: ['o1'], tasks: [newTask] },
    { type: 'ACCEPT', offerIds: ['o1', 'o2'], tasks: [] },
    { type: 'DECLINE', offerIds: ['o1'] },
    { type: 'DECLINE', offerIds: [], refuseSeconds: 0 },
    { type: 'KILL', taskId: 't1' },
    { type: 'ACKNOWLEDGE', agentId: 'a1', taskId: 't1', uuid },
    { type: 'RECONCILE' },
    { type: 'RECONCILE', taskIds: ['t1', 't2'] },
    { type: 'MESSAGE', agentId: 'a1', executorId: 'e1', data: Buffer.from('hi') },
    { type: 'TEARDOWN' },
  ];
  for (const call of all) assert.is(validate(SchedulerCall, call, 'frame').type, call.type);
});

calls('lets an accepted task leave its agentId to the master', () => {
  const call = validate(SchedulerCall, { type: 'ACCEPT', offerIds: ['o1'], tasks: [newTask] }, 'frame');
  assert.is(call.type === 'ACCEPT' && call.tasks[0]!.agentId, undefined);
});

calls('refuses an ACCEPT without an offer, with too many, or with a bad task, naming the field', () => {
  assert.match(refusal(SchedulerCall, { type: 'ACCEPT', offerIds: [], tasks: [newTask] }), /invalid ACCEPT frame: field offerIds invalid length/);
  assert.match(refusal(SchedulerCall, { type: 'ACCEPT', offerIds: Array.from({ length: 10_001 }, (_, i) => `o${i}`), tasks: [] }), /field offerIds invalid length/);
  assert.match(refusal(SchedulerCall, { type: 'ACCEPT', offerIds: ['o/1'], tasks: [] }), /field offerIds\.0 .*"o\/1"/);
  assert.match(refusal(SchedulerCall, { type: 'ACCEPT', offerIds: ['o1'] }), /field tasks/);
  assert.match(refusal(SchedulerCall, { type: 'ACCEPT', offerIds: ['o1'], tasks: [{ ...newTask, name: undefined }] }), /field tasks\.0\.name/);
  assert.match(refusal(SchedulerCall, { type: 'ACCEPT', offerIds: ['o1'], tasks: [{ ...newTask, resources: { cpus: 1 } }] }), /field tasks\.0\.resources\.mem/);
});

calls('refuses a DECLINE with a negative or infinite refuseSeconds', () => {
  assert.match(refusal(SchedulerCall, { type: 'DECLINE', offerIds: ['o1'], refuseSeconds: -1 }), /invalid DECLINE frame: field refuseSeconds/);
  assert.match(refusal(SchedulerCall, { type: 'DECLINE', offerIds: ['o1'], refuseSeconds: Infinity }), /field refuseSeconds invalid finite/);
  assert.match(refusal(SchedulerCall, { type: 'DECLINE' }), /field offerIds/);
});

calls('refuses each bad field of ACKNOWLEDGE, RECONCILE, MESSAGE, KILL and SUBSCRIBE', () => {
  const ack = { type: 'ACKNOWLEDGE', agentId: 'a1', taskId: 't1', uuid };
  assert.match(refusal(SchedulerCall, { ...ack, agentId: '.a' }), /invalid ACKNOWLEDGE frame: field agentId/);
  assert.match(refusal(SchedulerCall, { ...ack, taskId: undefined }), /field taskId/);
  assert.match(refusal(SchedulerCall, { ...ack, uuid: 'not-a-uuid' }), /field uuid must be a UUID/);
  assert.match(refusal(SchedulerCall, { type: 'RECONCILE', taskIds: ['ok', '../no'] }), /invalid RECONCILE frame: field taskIds\.1/);
  assert.match(refusal(SchedulerCall, { type: 'MESSAGE', agentId: 'a1', executorId: 'e1', data: [1] }), /invalid MESSAGE frame: field data/);
  assert.match(refusal(SchedulerCall, { type: 'MESSAGE', agentId: 'a1', data: Buffer.from('x') }), /field executorId/);
  assert.match(refusal(SchedulerCall, { type: 'KILL', taskId: 7 }), /invalid KILL frame: field taskId/);
  assert.match(refusal(SchedulerCall, { type: 'SUBSCRIBE', frameworkInfo: { name: 5 } }), /invalid SUBSCRIBE frame: field frameworkInfo\.name/);
  assert.match(refusal(SchedulerCall, { type: 'SUBSCRIBE' }), /field frameworkInfo/);
});

calls('refuses the types only the master sends', () => {
  for (const type of ['SUBSCRIBED', 'OFFERS', 'RESCIND', 'UPDATE', 'FAILURE', 'ERROR', 'HEARTBEAT']) {
    assert.match(refusal(SchedulerCall, { type }), new RegExp(`unknown or missing type "${type}"`));
  }
});

const events = suite('protocol/scheduler: events');

events('accepts every event the master sends', () => {
  const all = [
    { type: 'SUBSCRIBED', frameworkId: 'f1', heartbeatIntervalMs: 15_000 },
    { type: 'OFFERS', offers: [offer] },
    { type: 'OFFERS', offers: [] },
    { type: 'RESCIND', offerId: 'o1' },
    { type: 'UPDATE', status: { taskId: 't1', state: 'TASK_RUNNING', uuid, timestamp: 1 } },
    { type: 'MESSAGE', agentId: 'a1', executorId: 'e1', data: new Uint8Array(0) },
    { type: 'FAILURE' },
    { type: 'FAILURE', agentId: 'a1', executorId: 'e1', message: 'exited with 1' },
    { type: 'HEARTBEAT' },
    { type: 'ERROR', code: 'ERR_PROTOCOL', message: 'bad' },
  ];
  for (const event of all) assert.is(validate(SchedulerEvent, event, 'frame').type, event.type);
});

events('passes a reconciliation UPDATE that carries no uuid', () => {
  const event = validate(SchedulerEvent, { type: 'UPDATE', status: { taskId: 't1', state: 'TASK_LOST', timestamp: 1, reason: 'REASON_RECONCILIATION' } }, 'frame');
  assert.is(event.type === 'UPDATE' && event.status.uuid, undefined);
});

events('refuses each bad field of an event, naming it', () => {
  assert.match(refusal(SchedulerEvent, { type: 'SUBSCRIBED', frameworkId: 'f1', heartbeatIntervalMs: 0 }), /invalid SUBSCRIBED frame: field heartbeatIntervalMs/);
  assert.match(refusal(SchedulerEvent, { type: 'SUBSCRIBED', heartbeatIntervalMs: 1 }), /field frameworkId/);
  assert.match(refusal(SchedulerEvent, { type: 'OFFERS', offers: [{ ...offer, id: 'o 1' }] }), /invalid OFFERS frame: field offers\.0\.id/);
  assert.match(refusal(SchedulerEvent, { type: 'OFFERS', offers: [{ ...offer, hostname: 1 }] }), /field offers\.0\.hostname/);
  assert.match(refusal(SchedulerEvent, { type: 'OFFERS', offers: [{ ...offer, resources: { cpus: -2, mem: 1 } }] }), /field offers\.0\.resources\.cpus/);
  assert.match(refusal(SchedulerEvent, { type: 'RESCIND', offerId: '' }), /invalid RESCIND frame: field offerId/);
  assert.match(refusal(SchedulerEvent, { type: 'UPDATE', status: { taskId: 't1', state: 'RUNNING', timestamp: 1 } }), /invalid UPDATE frame: field status\.state/);
  assert.match(refusal(SchedulerEvent, { type: 'FAILURE', executorId: 'e/1' }), /invalid FAILURE frame: field executorId/);
  assert.match(refusal(SchedulerEvent, { type: 'FAILURE', message: 'm'.repeat(64 * 1024 + 1) }), /field message/);
});

events('refuses the types only a framework sends', () => {
  for (const type of ['SUBSCRIBE', 'ACCEPT', 'DECLINE', 'KILL', 'ACKNOWLEDGE', 'RECONCILE', 'TEARDOWN']) {
    assert.match(refusal(SchedulerEvent, { type }), new RegExp(`unknown or missing type "${type}"`));
  }
});

events('exports the Offer and Uuid schemas the scheduler driver checks with', () => {
  assert.ok(v.is(Offer, offer));
  assert.not.ok(v.is(Offer, { ...offer, agentId: undefined }));
  assert.ok(v.is(Uuid, uuid));
});

calls.run();
events.run();
