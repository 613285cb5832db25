// Every number a peer sends has an upper bound that keeps the receiver's arithmetic finite and its
// timers in range (issue 14, point 4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentCall, AgentEvent, ExecutorEvent, MAX_REFUSE_SECONDS, MAX_RESOURCE, MAX_TIMER_MS, Resources, SchedulerCall, SchedulerEvent, TaskInfo, validate } from '../../src/protocol/index.js';
import { refusal } from './refusal.js';

const agentInfo = { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: false };

test('refuses a resource amount over MAX_RESOURCE, naming the field and the value', () => {
  assert.match(refusal(AgentCall, { type: 'REGISTER', agentInfo: { ...agentInfo, resources: { cpus: 1e306, mem: 1, disk: 1 } } }), /invalid REGISTER frame: field agentInfo\.resources\.cpus .*1e\+306/);
  assert.match(refusal(Resources, { cpus: 1, mem: MAX_RESOURCE * 2 }, 'record'), /field mem/);
  assert.match(refusal(Resources, { cpus: 1, mem: 1, disk: Number.MAX_VALUE }, 'record'), /field disk/);
  validate(Resources, { cpus: MAX_RESOURCE, mem: MAX_RESOURCE, disk: MAX_RESOURCE }, 'record');
});

test('refuses a DECLINE filter longer than a year', () => {
  validate(SchedulerCall, { type: 'DECLINE', offerIds: [], refuseSeconds: MAX_REFUSE_SECONDS }, 'frame');
  assert.match(refusal(SchedulerCall, { type: 'DECLINE', offerIds: [], refuseSeconds: MAX_REFUSE_SECONDS + 1 }), /field refuseSeconds/);
});

test('refuses grace periods and intervals past a Node.js timer (2^31-1 ms)', () => {
  const task = { taskId: 't', name: 't', agentId: 'a', resources: { cpus: 1, mem: 1 }, command: { value: 'true' } };
  validate(TaskInfo, { ...task, killPolicy: { gracePeriodMs: MAX_TIMER_MS } }, 'record');
  assert.match(refusal(TaskInfo, { ...task, killPolicy: { gracePeriodMs: MAX_TIMER_MS + 1 } }, 'record'), /killPolicy\.gracePeriodMs/);
  assert.match(refusal(ExecutorEvent, { type: 'SHUTDOWN', gracePeriodMs: 2 ** 40 }), /field gracePeriodMs/);
  assert.match(refusal(SchedulerEvent, { type: 'SUBSCRIBED', frameworkId: 'f', heartbeatIntervalMs: 2 ** 40 }), /heartbeatIntervalMs/);
  assert.match(refusal(AgentEvent, { type: 'REGISTERED', agentId: 'a', pingIntervalMs: 2 ** 40 }), /pingIntervalMs/);
});

test('refuses an offer hostname over 1024 characters', () => {
  assert.match(refusal(SchedulerEvent, { type: 'OFFERS', offers: [{ id: 'o', agentId: 'a', hostname: 'h'.repeat(1025), resources: { cpus: 1, mem: 1 } }] }), /offers\.0\.hostname/);
});

test.run();
