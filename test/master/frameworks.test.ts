import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers.js';
import { agentStatus, Harness, launchOne } from './harness.js';

const Frameworks = suite<{ h: Harness }>('Master: framework lifecycle');

Frameworks.before.each(async (context) => {
  context.h = await new Harness().start();
});
Frameworks.after.each(async ({ h }) => {
  await h.stop();
});

Frameworks('TEARDOWN removes the framework, kills its tasks in the state and shuts it down on the agent', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ name: 'short-lived' });
  await launchOne(scheduler, agent, agentId, 't1');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus(agentId, 't1', 'TASK_RUNNING') });
  await scheduler.next('UPDATE');

  scheduler.send({ type: 'TEARDOWN' });
  assert.equal(await agent.next('SHUTDOWN_FRAMEWORK'), { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  assert.is((await scheduler.waitClosed()).code, 1000);
  const state = await h.state();
  assert.equal(state.frameworks, []);
  assert.equal(state.completedFrameworks.map((f) => [f.id, f.name, f.tasks.map((t) => t.state)]), [[frameworkId, 'short-lived', ['TASK_KILLED']]]);
});

Frameworks('a scheduler that disconnects with failover timeout 0 has its framework removed at once', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler();
  await launchOne(scheduler, agent, agentId, 't1');
  scheduler.close();
  assert.equal(await agent.next('SHUTDOWN_FRAMEWORK'), { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  await waitFor(async () => (await h.state()).completedFrameworks.some((f) => f.id === frameworkId), { message: 'framework completed' });

  // Its ID cannot be used again.
  const again = await h.schedulerPeer();
  again.send({ type: 'SUBSCRIBE', frameworkInfo: { id: frameworkId, name: 'test', checkpoint: false } });
  assert.match((await again.next('ERROR')).message, /was removed/);
  assert.is((await again.waitClosed()).code, 1008);
});

Frameworks('a scheduler that re-subscribes within its failover timeout keeps its framework and tasks', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true, failoverTimeoutMs: 60_000 });
  await launchOne(scheduler, agent, agentId, 't1');
  scheduler.close();
  await waitFor(async () => (await h.state()).frameworks[0]?.status === 'DISCONNECTED', { message: 'framework DISCONNECTED' });

  // An update while no scheduler is connected is not acknowledged by anyone (the agent resends it).
  const running = agentStatus(agentId, 't1', 'TASK_RUNNING');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: running });

  const { peer: back, frameworkId: sameId } = await h.scheduler({ id: frameworkId, checkpoint: true, failoverTimeoutMs: 60_000 });
  assert.is(sameId, frameworkId);
  const state = await h.state();
  assert.equal(state.frameworks.map((f) => [f.id, f.status, f.tasks.map((t) => [t.id, t.state])]), [[frameworkId, 'ACTIVE', [['t1', 'TASK_RUNNING']]]]);
  assert.equal(agent.pending('ACKNOWLEDGE'), []);
  assert.equal(agent.pending('SHUTDOWN_FRAMEWORK'), []);

  // The agent's resend now reaches the new scheduler.
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: running });
  assert.is((await back.next('UPDATE')).status.uuid, running.uuid);
});

Frameworks('a second scheduler subscribing with the same framework ID takes over from the first', async ({ h }) => {
  const { peer: first, frameworkId } = await h.scheduler({ failoverTimeoutMs: 60_000 });
  const { peer: second } = await h.scheduler({ id: frameworkId, failoverTimeoutMs: 60_000 });
  assert.match((await first.next('ERROR')).message, /failed over/);
  await first.waitClosed();
  const { agentId } = await h.agent();
  assert.is((await second.next('OFFERS')).offers[0]!.agentId, agentId);
  assert.is((await h.state()).frameworks[0]!.status, 'ACTIVE');
});

Frameworks('sends schedulers HEARTBEAT at the interval given in SUBSCRIBED', async () => {
  const h = await new Harness().start({ heartbeatIntervalMs: 20 });
  try {
    const peer = await h.schedulerPeer();
    peer.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'beat' } });
    assert.is((await peer.next('SUBSCRIBED')).heartbeatIntervalMs, 20);
    await peer.next('HEARTBEAT');
    await peer.next('HEARTBEAT');
  } finally {
    await h.stop();
  }
});

Frameworks.run();
