// /api/v1/agent on a real in-process Master with raw WebSocket agents and schedulers (./harness):
// registration (told its ping interval and the epoch, recorded in the registry first), removed
// agents told to shut down (also by a restarted master), split re-registrations, a newer
// connection superseding an older one, and the refusals of an agent speaking for another's tasks.
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRegistryFile } from '../../src/master/registry-store-file.js';
import type { MasterOptions } from '../../src/master/index.js';
import { waitFor } from '../helpers.js';
import { AGENT_INFO, agentStatus, Harness, TestScope, launchOne, type AgentPeer, type SchedulerPeer } from './harness.js';

interface Ctx {
  scope: TestScope;
}

const AgentEndpoint = suite<Ctx>('master/agent-endpoint: /api/v1/agent');

AgentEndpoint.before.each((ctx) => {
  ctx.scope = new TestScope('ll-agent-endpoint-');
});
AgentEndpoint.after.each((ctx) => ctx.scope.close());

const master = (ctx: Ctx, options: MasterOptions = {}): Promise<Harness> => ctx.scope.master(options);
const workDir = (ctx: Ctx): string => ctx.scope.workDir();

/** ERROR with this code and message, then the 1008 close of a refused call. */
async function refused(peer: AgentPeer | SchedulerPeer, code: string, message: RegExp): Promise<void> {
  const error = await (peer as AgentPeer).next('ERROR');
  assert.is(error.code, code);
  assert.match(error.message, message);
  assert.is((await peer.waitClosed()).code, 1008);
}

AgentEndpoint('REGISTER is answered REGISTERED with a fresh agent ID, the ping interval and epoch 0 without a registry', async (ctx) => {
  const h = await master(ctx, { agentPingTimeoutMs: 30_000.4 });
  const peer = await h.agentPeer();
  peer.send({ type: 'REGISTER', agentInfo: AGENT_INFO });
  const registered = await peer.next('REGISTERED');
  assert.is(registered.pingIntervalMs, 30_000, 'whole milliseconds');
  assert.is(registered.epoch, 0);
  const other = await h.agent();
  assert.is.not(other.agentId, registered.agentId);
  const state = await h.state();
  assert.equal(state.agents.map((agent) => [agent.id, agent.status, agent.events.map((event) => event.type)]).sort(), [
    [registered.agentId, 'ACTIVE', ['REGISTERED']],
    [other.agentId, 'ACTIVE', ['REGISTERED']],
  ].sort());
});

AgentEndpoint('with a work dir the agent is in the registry file before it is told its ID, and REGISTERED carries the term', async (ctx) => {
  const dir = workDir(ctx);
  const h = await master(ctx, { workDir: dir });
  const peer = await h.agentPeer();
  peer.send({ type: 'REGISTER', agentInfo: AGENT_INFO });
  const { agentId, epoch } = await peer.next('REGISTERED');
  assert.is(epoch, 1);
  const recorded = (await readRegistryFile(dir)).agents;
  assert.is(recorded.length, 1);
  const [agent] = recorded;
  assert.equal([agent!.id, agent!.hostname, agent!.checkpoint, agent!.resources], [agentId, AGENT_INFO.hostname, true, AGENT_INFO.resources]);
  assert.match(agent!.address ?? '', /^127\.0\.0\.1:\d+$/);
  assert.is(agent!.principal, undefined, 'it registered unauthenticated');
});

AgentEndpoint('the registry records the release an agent runs, and records it again when an upgraded agent re-registers', async (ctx) => {
  const dir = workDir(ctx);
  const h = await master(ctx, { workDir: dir, agentReregisterTimeoutMs: 60_000 });
  const peer = await h.agentPeer();
  peer.send({ type: 'REGISTER', agentInfo: AGENT_INFO, protocol: 1, protocolMax: 2, release: '0.2.0' });
  const { agentId } = await peer.next('REGISTERED');
  assert.equal((await readRegistryFile(dir)).agents.map((agent) => [agent.id, agent.version]), [[agentId, '0.2.0']]);
  peer.close();
  const upgraded = await h.agentPeer();
  upgraded.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: agentId }, frameworks: [], executors: [], tasks: [], protocol: 1, protocolMax: 2, release: '0.2.1' });
  await upgraded.next('REREGISTERED');
  assert.equal((await readRegistryFile(dir)).agents.map((agent) => [agent.id, agent.version]), [[agentId, '0.2.1']]);
});

AgentEndpoint('every event to an agent names the leader epoch, not only the registration answer (issue 12 point 3)', async (ctx) => {
  const h = await master(ctx, { workDir: workDir(ctx), agentPingTimeoutMs: 50 });
  const peer = await h.agentPeer();
  peer.send({ type: 'REGISTER', agentInfo: AGENT_INFO });
  const { epoch } = await peer.next('REGISTERED');
  const ping = await peer.next('PING');
  assert.is(epoch, 1);
  assert.is(ping.epoch, 1);
});

AgentEndpoint('a re-registration with the same facts writes nothing; one with other facts is recorded again first', async (ctx) => {
  const dir = workDir(ctx);
  const h = await master(ctx, { workDir: dir, agentReregisterTimeoutMs: 60_000 });
  const file = `${dir}/registry.json`;
  const { peer, agentId } = await h.agent();
  // Every registry write replaces the file by a rename: a new inode.
  const written = fs.statSync(file).ino;
  peer.close();
  const same = await h.reregister(agentId);
  await same.next('REREGISTERED');
  assert.is(fs.statSync(file).ino, written, 'the same facts are not written again');

  same.close();
  const moved = await h.agentPeer();
  moved.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: agentId, hostname: 'node-1b', resources: { cpus: 8, mem: 4096, disk: 10_000 } }, frameworks: [], executors: [], tasks: [] });
  await moved.next('REREGISTERED');
  assert.is.not(fs.statSync(file).ino, written);
  const after = (await readRegistryFile(dir)).agents;
  assert.equal(after.map((agent) => [agent.id, agent.hostname, agent.resources.cpus]), [[agentId, 'node-1b', 8]]);
});

AgentEndpoint('an agent that comes back after it was removed is told SHUTDOWN, why and what to do, and closed', async (ctx) => {
  const h = await master(ctx, { agentReregisterTimeoutMs: 120_000 });
  const { peer, agentId } = await h.agent();
  peer.send({ type: 'UNREGISTER' });
  assert.equal(await peer.waitClosed(), { code: 1000, reason: 'unregistered' });
  const back = await h.reregister(agentId);
  const shutdown = await back.next('SHUTDOWN');
  assert.is(shutdown.message, `agent ${agentId} was removed by the master (it did not re-register within 2mins, or it unregistered); shut down its executors and register as a new agent`);
  assert.is(shutdown.epoch, 0);
  assert.equal(await back.waitClosed(), { code: 1000, reason: 'agent removed' });
  assert.equal(back.pending('REREGISTERED'), []);
  assert.equal((await h.state()).agents.map((agent) => agent.status), ['REMOVED']);
});

AgentEndpoint('a master restarted on the same work dir remembers a removed agent and tells it to shut down, in its new term', async (ctx) => {
  const dir = workDir(ctx);
  const first = await master(ctx, { workDir: dir });
  const { peer, agentId } = await first.agent();
  peer.send({ type: 'UNREGISTER' });
  await peer.waitClosed();
  // The removal is recorded after the connection is closed: wait for it before stopping.
  await waitFor(async () => (await readRegistryFile(dir)).removedAgents.some((removed) => removed.id === agentId), { message: 'the removal in the registry file' });
  assert.equal((await readRegistryFile(dir)).agents, [], 'no longer admitted');
  await first.stop();

  const second = await master(ctx, { workDir: dir });
  const back = await second.reregister(agentId);
  const shutdown = await back.next('SHUTDOWN');
  assert.match(shutdown.message, new RegExp(`^agent ${agentId} was removed by the master`));
  assert.is(shutdown.epoch, 2);
  const fresh = await second.agentPeer();
  fresh.send({ type: 'REGISTER', agentInfo: { ...AGENT_INFO, id: agentId } });
  assert.match((await fresh.next('SHUTDOWN')).message, /was removed/, 'a REGISTER naming its old ID too');
});

AgentEndpoint('a REREGISTER in parts is acted on once, with the last part, holding the lists of all of them', async (ctx) => {
  const h = await master(ctx);
  const peer = await h.agentPeer();
  const info = { ...AGENT_INFO, id: 'split-agent' };
  const entry = (taskId: string) => ({
    frameworkId: 'fw-split',
    executorId: taskId,
    state: 'TASK_RUNNING',
    task: { taskId, name: taskId, agentId: 'split-agent', resources: { cpus: 1, mem: 16 }, command: { value: 'sleep 100' } },
  });
  peer.send({ type: 'REREGISTER', agentInfo: info, frameworks: [{ id: 'fw-split', name: 'split', checkpoint: true }], executors: [], tasks: [entry('t1')], part: { index: 0, count: 3 } });
  peer.send({ type: 'REREGISTER', agentInfo: info, frameworks: [], executors: [], tasks: [entry('t2')], part: { index: 1, count: 3 } });
  peer.send({ type: 'REREGISTER', agentInfo: info, frameworks: [], executors: [], tasks: [entry('t3')], part: { index: 2, count: 3 } });
  assert.is((await peer.next('REREGISTERED')).agentId, 'split-agent');
  // Had a part before the last been taken as the whole, the next one would have been refused.
  await h.state();
  assert.equal([peer.pending('REREGISTERED'), peer.pending('ERROR')], [[], []]);
  const state = await h.state();
  assert.equal(state.frameworks.map((framework) => [framework.id, framework.status, framework.tasks.map((task) => task.id)]), [['fw-split', 'DISCONNECTED', ['t1', 't2', 't3']]]);
});

AgentEndpoint('a newer connection of the same agent supersedes the older one, which is closed without a disconnection', async (ctx) => {
  const h = await master(ctx);
  const { peer: old, agentId } = await h.agent();
  const newer = await h.reregister(agentId);
  await newer.next('REREGISTERED');
  assert.equal(await old.waitClosed(), { code: 1000, reason: 'superseded by a newer connection of the same agent' });
  const [agent] = (await h.state()).agents;
  assert.equal([agent!.status, agent!.events.map((event) => event.type)], ['ACTIVE', ['REGISTERED', 'REREGISTERED']]);
  // The newer connection is the one served.
  const { peer: scheduler } = await h.scheduler();
  assert.is((await scheduler.next('OFFERS')).offers[0]!.agentId, agentId);
});

AgentEndpoint('a STATUS_UPDATE whose status.agentId is not the connection\'s is refused, and changes nothing', async (ctx) => {
  const h = await master(ctx);
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  await launchOne(scheduler, agent, agentId, 't1');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus('someone-else', 't1', 'TASK_FAILED') });
  await refused(agent, 'ERR_PROTOCOL', new RegExp(`field status\\.agentId is someone-else but this connection is agent ${agentId}`));
  assert.equal(scheduler.pending('UPDATE'), []);
  assert.is((await h.state()).frameworks[0]!.tasks[0]!.state, 'TASK_STAGING');
});

AgentEndpoint('an agent cannot report a status for a task that runs on another agent (ERR_UNAUTHORIZED)', async (ctx) => {
  const h = await master(ctx);
  const { peer: owner, agentId: ownerId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  await launchOne(scheduler, owner, ownerId, 't1');
  const { peer: forger, agentId: forgerId } = await h.agent({ hostname: 'node-2' });
  forger.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus(forgerId, 't1', 'TASK_FINISHED') });
  await refused(forger, 'ERR_UNAUTHORIZED', new RegExp(`agent ${forgerId} \\(an unauthenticated peer\\) cannot send STATUS_UPDATE TASK_FINISHED for task t1 of framework ${frameworkId}: it runs on agent ${ownerId}`));
  assert.equal(scheduler.pending('UPDATE'), []);
  assert.is((await h.state()).frameworks[0]!.tasks[0]!.state, 'TASK_STAGING');
});

AgentEndpoint('EXECUTOR_MESSAGE only from the agent that runs the executor: from any other it is ERR_UNAUTHORIZED', async (ctx) => {
  const h = await master(ctx);
  const { peer: runner, agentId: runnerId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  await launchOne(scheduler, runner, runnerId, 't1');
  const { peer: other, agentId: otherId } = await h.agent({ hostname: 'node-2' });

  other.send({ type: 'EXECUTOR_MESSAGE', frameworkId, executorId: 't1', data: new Uint8Array([9]) });
  await refused(other, 'ERR_UNAUTHORIZED', new RegExp(`agent ${otherId} .*cannot send EXECUTOR_MESSAGE from executor t1 about task \\(any\\) of framework ${frameworkId}: no task of that executor runs on agent ${otherId}`));
  runner.send({ type: 'EXECUTOR_MESSAGE', frameworkId, executorId: 'no-such-executor', data: new Uint8Array([8]) });
  await refused(runner, 'ERR_UNAUTHORIZED', /from executor no-such-executor/);

  assert.equal(scheduler.pending('MESSAGE'), [], 'no refused message reached the framework');
});

AgentEndpoint('EXECUTOR_MESSAGE from the agent that runs the executor reaches its framework, naming the agent', async (ctx) => {
  const h = await master(ctx);
  const { peer: runner, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  await launchOne(scheduler, runner, agentId, 't1');
  runner.send({ type: 'EXECUTOR_MESSAGE', frameworkId, executorId: 't1', data: new Uint8Array([1, 2]) });
  const message = await scheduler.next('MESSAGE');
  assert.equal([message.agentId, message.executorId, [...message.data]], [agentId, 't1', [1, 2]]);
});

AgentEndpoint.run();
