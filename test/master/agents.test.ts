import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers.js';
import { agentStatus, commandTask, Harness, launchOne } from './harness.js';

const Agents = suite<{ h: Harness }>('Master: agent lifecycle');

Agents.before.each((context) => {
  context.h = new Harness(); // each test starts it with the options it needs
});
Agents.after.each(async ({ h }) => {
  await h.stop();
});

async function agentStatusIn(h: Harness, agentId: string) {
  return (await h.state()).agents.find((agent) => agent.id === agentId)?.status;
}

Agents('on disconnection rescinds offers and loses only non-checkpointing tasks at once', async ({ h }) => {
  // A short re-registration window, so that the removal can be waited for.
  await h.start({ agentReregisterTimeoutMs: 300 });
  const { peer: agent, agentId } = await h.agent();
  const { peer: plain } = await h.scheduler({ name: 'plain', checkpoint: false });
  await launchOne(plain, agent, agentId, 'plain-task');
  // The plain framework declines the rest, so the durable one gets it and launches there too.
  const rest = await plain.next('OFFERS');
  plain.send({ type: 'DECLINE', offerIds: rest.offers.map((offer) => offer.id), refuseSeconds: 3600 });
  const { peer: durable } = await h.scheduler({ name: 'durable', checkpoint: true });
  await launchOne(durable, agent, agentId, 'durable-task');
  const outstanding = await durable.next('OFFERS');

  agent.close();
  const lost = await plain.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason, lost.status.source], ['plain-task', 'TASK_LOST', 'REASON_AGENT_DISCONNECTED', 'SOURCE_MASTER']);
  const rescind = await durable.next('RESCIND');
  assert.is(rescind.offerId, outstanding.offers[0]!.id);
  // (DISCONNECTED in between is checked by the re-registration test, which has a long window.)

  // Past --agent_reregister_timeout the agent is removed and the durable task is lost too.
  const removed = await durable.next('UPDATE');
  assert.equal([removed.status.taskId, removed.status.state, removed.status.reason], ['durable-task', 'TASK_LOST', 'REASON_AGENT_REMOVED']);
  assert.is(await agentStatusIn(h, agentId), 'REMOVED');

  // A removed agent that comes back is told to shut down.
  const back = await h.reregister(agentId);
  const shutdown = await back.next('SHUTDOWN');
  assert.match(shutdown.message, new RegExp(`agent ${agentId} was removed`));
  await back.waitClosed();
});

Agents('a REGISTER with the ID of a removed agent is told to shut down', async ({ h }) => {
  await h.start();
  const { peer, agentId } = await h.agent();
  peer.send({ type: 'UNREGISTER' });
  await peer.waitClosed();
  const again = await h.agentPeer();
  again.send({ type: 'REGISTER', agentInfo: { hostname: 'node-1', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true, id: agentId } });
  assert.match((await again.next('SHUTDOWN')).message, /was removed/);
});

Agents('re-registering in time keeps the agent, reports unknown tasks lost, and delivers remembered kills', async ({ h }) => {
  await h.start({ agentReregisterTimeoutMs: 60_000 });
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  const { offers } = await scheduler.next('OFFERS');
  scheduler.send({ type: 'ACCEPT', offerIds: [offers[0]!.id], tasks: [commandTask('kept'), commandTask('forgotten')] });
  const first = await agent.next('RUN_TASK');
  const second = await agent.next('RUN_TASK');

  agent.close();
  await waitFor(async () => (await agentStatusIn(h, agentId)) === 'DISCONNECTED', { message: 'agent DISCONNECTED' });
  scheduler.send({ type: 'KILL', taskId: 'kept' });
  // The kill is remembered; RECONCILE answers after it, so the master has handled the KILL.
  scheduler.send({ type: 'RECONCILE', taskIds: ['kept'] });
  await scheduler.next('UPDATE');

  const back = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }],
    tasks: [{ frameworkId, executorId: 'kept', task: first.task, state: 'TASK_RUNNING' }],
  });
  const reregistered = await back.next('REREGISTERED');
  assert.is(reregistered.agentId, agentId);
  assert.equal(await back.next('KILL_TASK'), { type: 'KILL_TASK', frameworkId, taskId: 'kept' });
  const lost = await scheduler.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason], [second.task.taskId, 'TASK_LOST', 'REASON_RECONCILIATION']);
  const state = await h.state();
  assert.is(state.agents[0]!.status, 'ACTIVE');
  assert.equal(state.frameworks[0]!.tasks.map((t) => [t.id, t.state]), [['kept', 'TASK_RUNNING'], ['forgotten', 'TASK_LOST']]);
});

Agents('UNREGISTER loses every live task on the agent and removes it', async ({ h }) => {
  await h.start();
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  await launchOne(scheduler, agent, agentId, 't1');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus(agentId, 't1', 'TASK_RUNNING') });
  await scheduler.next('UPDATE');
  agent.send({ type: 'UNREGISTER' });
  const lost = await scheduler.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason], ['t1', 'TASK_LOST', 'REASON_AGENT_REMOVED']);
  assert.is((await agent.waitClosed()).code, 1000);
  assert.is(await agentStatusIn(h, agentId), 'REMOVED');
});

Agents('an update for a removed framework is acknowledged by the master itself', async ({ h }) => {
  await h.start();
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler();
  await launchOne(scheduler, agent, agentId, 't1');
  scheduler.send({ type: 'TEARDOWN' });
  assert.equal(await agent.next('SHUTDOWN_FRAMEWORK'), { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  const killed = agentStatus(agentId, 't1', 'TASK_KILLED');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: killed });
  assert.equal(await agent.next('ACKNOWLEDGE'), { type: 'ACKNOWLEDGE', frameworkId, taskId: 't1', uuid: killed.uuid });
});

Agents.run();

const Pings = suite<{ h: Harness }>('Master: agent pings');

Pings.before.each(async (context) => {
  context.h = await new Harness().start({ agentPingTimeoutMs: 50, maxAgentPingTimeouts: 5, agentReregisterTimeoutMs: 60_000 });
});
Pings.after.each(async ({ h }) => {
  await h.stop();
});

Pings('tells the agent its ping interval and keeps an agent that answers', async ({ h }) => {
  const answering = await h.agentPeer();
  answering.send({ type: 'REGISTER', agentInfo: { hostname: 'n', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: false } });
  assert.is((await answering.next('REGISTERED')).pingIntervalMs, 50);
  for (let i = 0; i < 6; i++) {
    await answering.next('PING');
    answering.send({ type: 'PONG' });
  }
  assert.is((await h.state()).agents[0]!.status, 'ACTIVE');
});

Pings('disconnects an agent that misses --max_agent_ping_timeouts pings in a row', async ({ h }) => {
  const { peer, agentId } = await h.agent({}, { pong: false });
  await peer.waitClosed();
  assert.ok(peer.pending('PING').length >= 5, 'it was pinged before being dropped');
  await waitFor(async () => (await h.state()).agents.find((a) => a.id === agentId)?.status === 'DISCONNECTED', { message: 'agent DISCONNECTED' });
});

Pings.run();
