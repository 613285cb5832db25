import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers.js';
import { reregisterFrames } from '../../src/agent/reregistration.js';
import { encode } from '../../src/protocol/index.js';
import { bigReregister } from '../fixtures/reregister.js';
import { agentStatus, commandTask, Harness, launchOne, type AgentPeer, type SchedulerPeer } from './harness.js';

// The master's side of agent recovery (DESIGN §7 step 6, §8): what a re-registering agent's report
// does to the master's view, and how disconnections found by pings are handled.
const Recovery = suite<{ h: Harness }>('Master: agent recovery');

Recovery.before.each((context) => {
  context.h = new Harness();
});
Recovery.after.each(async ({ h }) => {
  await h.stop();
});

async function agentStatusIn(h: Harness, agentId: string) {
  return (await h.state()).agents.find((agent) => agent.id === agentId)?.status;
}

/**
 * A barrier on the agent's connection: a framework message relayed by the master arrives after
 * everything the master sent that agent before it (one ordered socket).
 */
async function flush(scheduler: SchedulerPeer, agent: AgentPeer, agentId: string): Promise<void> {
  scheduler.send({ type: 'MESSAGE', agentId, executorId: 'barrier', data: new Uint8Array([1]) });
  await agent.next('FRAMEWORK_MESSAGE');
}

Recovery('adds the tasks and frameworks a re-registering agent reports that it never knew (a restarted master)', async ({ h }) => {
  await h.start();
  const frameworkId = 'fw-from-before';
  const running = { ...commandTask('survivor', 1, 100), agentId: 'agent-from-before' };
  const finished = { ...commandTask('done-while-away', 1, 100), agentId: 'agent-from-before' };
  const back = await h.reregister('agent-from-before', {
    frameworks: [{ id: frameworkId, name: 'old', checkpoint: true }],
    tasks: [
      { frameworkId, executorId: 'survivor', task: running, state: 'TASK_RUNNING' },
      { frameworkId, executorId: 'done-while-away', task: finished, state: 'TASK_FINISHED', unacknowledgedState: 'TASK_FINISHED', unacknowledgedUuid: '6f1c1c49-3a51-4f5e-9a63-0d3f0e0b7a11' },
    ],
  });
  assert.is((await back.next('REREGISTERED')).agentId, 'agent-from-before');
  const state = await h.state();
  assert.equal(state.agents.map((a) => [a.id, a.status]), [['agent-from-before', 'ACTIVE']]);
  const framework = state.frameworks.find((f) => f.id === frameworkId);
  assert.ok(framework, JSON.stringify(state));
  assert.is(framework.status, 'DISCONNECTED', 'it waits for its scheduler');
  assert.equal(framework.tasks.map((t) => [t.id, t.state, t.agentId]), [
    ['survivor', 'TASK_RUNNING', 'agent-from-before'],
    ['done-while-away', 'TASK_FINISHED', 'agent-from-before'],
  ]);

  // Its scheduler comes back under the same ID: it is offered only what the running task leaves free.
  const { peer: scheduler } = await h.scheduler({ id: frameworkId, name: 'old', checkpoint: true });
  const { offers } = await scheduler.next('OFFERS');
  assert.equal(offers[0]!.resources, { cpus: 3, mem: 3996, disk: 10_000 });
  await flush(scheduler, back, 'agent-from-before');
  assert.equal(back.pending('KILL_TASK'), [], 'nothing is killed');
});

Recovery('takes the latest state an agent reports for a task it knows, and loses the ones it does not report', async ({ h }) => {
  await h.start({ agentReregisterTimeoutMs: 60_000 });
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  const { offers } = await scheduler.next('OFFERS');
  scheduler.send({ type: 'ACCEPT', offerIds: [offers[0]!.id], tasks: [commandTask('finished-away'), commandTask('vanished')] });
  const first = await agent.next('RUN_TASK');
  await agent.next('RUN_TASK');
  agent.close();
  await waitFor(async () => (await agentStatusIn(h, agentId)) === 'DISCONNECTED', { message: 'agent DISCONNECTED' });

  const back = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }],
    tasks: [{ frameworkId, executorId: 'finished-away', task: first.task, state: 'TASK_FINISHED' }],
  });
  await back.next('REREGISTERED');
  const lost = await scheduler.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason, lost.status.source], ['vanished', 'TASK_LOST', 'REASON_RECONCILIATION', 'SOURCE_MASTER']);
  const tasks = (await h.state()).frameworks[0]!.tasks;
  assert.equal(tasks.map((t) => [t.id, t.state]), [['finished-away', 'TASK_FINISHED'], ['vanished', 'TASK_LOST']]);
  // Both tasks' resources are free again.
  const offer = await waitFor(() => scheduler.pending('OFFERS').find((o) => o.type === 'OFFERS' && o.offers[0]!.resources.cpus === 4), { message: 'an offer of the whole agent' });
  assert.ok(offer);
});

Recovery('kills a task the agent still runs that the master lost when the agent disconnected', async ({ h }) => {
  await h.start({ agentReregisterTimeoutMs: 60_000 });
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: false });
  const { run } = await launchOne(scheduler, agent, agentId, 'plain');
  agent.close();
  const lost = await scheduler.next('UPDATE');
  assert.equal([lost.status.state, lost.status.reason], ['TASK_LOST', 'REASON_AGENT_DISCONNECTED']);

  // The agent did not restart (only its connection broke): it still runs the task.
  const back = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: false }],
    tasks: [{ frameworkId, executorId: 'plain', task: run.task, state: 'TASK_RUNNING' }],
  });
  await back.next('REREGISTERED');
  assert.equal(await back.next('KILL_TASK'), { type: 'KILL_TASK', frameworkId, taskId: 'plain' });
  assert.is((await h.state()).frameworks[0]!.tasks[0]!.state, 'TASK_LOST', 'the master keeps the state it reported');
  // The agent's TASK_KILLED that follows is still forwarded (the framework may want it).
  back.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus(agentId, 'plain', 'TASK_KILLED') });
  assert.is((await scheduler.next('UPDATE')).status.state, 'TASK_KILLED');
});

Recovery('does not send a remembered kill for a task the re-registered agent no longer has', async ({ h }) => {
  await h.start({ agentReregisterTimeoutMs: 60_000 });
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  await launchOne(scheduler, agent, agentId, 'gone');
  agent.close();
  await waitFor(async () => (await agentStatusIn(h, agentId)) === 'DISCONNECTED', { message: 'agent DISCONNECTED' });
  scheduler.send({ type: 'KILL', taskId: 'gone' });
  scheduler.send({ type: 'RECONCILE', taskIds: ['gone'] });
  await scheduler.next('UPDATE');

  const back = await h.reregister(agentId, { frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }] });
  await back.next('REREGISTERED');
  const lost = await scheduler.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason], ['gone', 'TASK_LOST', 'REASON_RECONCILIATION']);
  await flush(scheduler, back, agentId);
  assert.equal(back.pending('KILL_TASK'), []);
});

Recovery('tells a re-registering agent to shut down a framework removed while it was away', async ({ h }) => {
  await h.start({ agentReregisterTimeoutMs: 60_000 });
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  const { run } = await launchOne(scheduler, agent, agentId, 'orphaned');
  agent.close();
  await waitFor(async () => (await agentStatusIn(h, agentId)) === 'DISCONNECTED', { message: 'agent DISCONNECTED' });
  scheduler.send({ type: 'TEARDOWN' });
  await waitFor(async () => (await h.state()).completedFrameworks.some((f) => f.id === frameworkId), { message: 'framework removed' });

  const back = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }],
    tasks: [{ frameworkId, executorId: 'orphaned', task: run.task, state: 'TASK_RUNNING' }],
  });
  await back.next('REREGISTERED');
  assert.equal(await back.next('SHUTDOWN_FRAMEWORK'), { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  assert.equal((await h.state()).frameworks, [], 'the removed framework does not come back');
});

Recovery('takes a re-registration of 5,000 tasks in parts under its frame limit, and refuses the same call as one frame with 1009', async ({ h }) => {
  await h.start();
  const call = bigReregister(5_000);
  const whole = encode(call);
  assert.ok(whole.length > 1_048_576, `the call is ${whole.length} bytes, over the default --max_frame_bytes`);
  const single = await h.agentPeer();
  single.ws.send(whole);
  assert.is((await single.waitClosed()).code, 1009, 'one frame is too large');

  const frames = reregisterFrames(call, 512 * 1024);
  const peer = await h.agentPeer();
  for (const frame of frames) peer.ws.send(frame);
  assert.is((await peer.next('REREGISTERED', 20_000)).agentId, 'agent-1');
  const state = await h.state();
  assert.equal(state.agents.map((agent) => [agent.id, agent.status]), [['agent-1', 'ACTIVE']]);
  const tasks = state.frameworks.flatMap((framework) => framework.tasks);
  assert.is(tasks.length, 5_000, `all 5,000 tasks from ${frames.length} parts`);
  assert.ok(tasks.every((task) => task.state === 'TASK_RUNNING' && task.agentId === 'agent-1'));
  assert.equal(state.frameworks.map((framework) => framework.id).sort(), ['framework-0', 'framework-1', 'framework-2']);
});

Recovery('closes a connection whose REREGISTER parts come out of order, naming the part, and goes on serving other agents', async ({ h }) => {
  await h.start();
  const frames = reregisterFrames(bigReregister(200), 4_096);
  assert.ok(frames.length >= 3);
  const peer = await h.agentPeer();
  peer.ws.send(frames[0]!);
  peer.ws.send(frames[2]!);
  const error = await peer.next('ERROR');
  assert.match(error.message, /REREGISTER part 2 of \d+ arrived, but part 1 was expected/);
  assert.is((await peer.waitClosed()).code, 1008);
  assert.equal((await h.state()).agents, [], 'nothing of the broken call was applied');
  const { agentId } = await h.agent();
  assert.ok(agentId, 'another agent registers');
});

Recovery.run();

const PingLoss = suite<{ h: Harness }>('Master: ping timeouts are disconnections');

PingLoss.before.each(async (context) => {
  context.h = await new Harness().start({ agentPingTimeoutMs: 40, maxAgentPingTimeouts: 3, agentReregisterTimeoutMs: 400 });
});
PingLoss.after.each(async ({ h }) => {
  await h.stop();
});

PingLoss('loses non-checkpointing tasks at once, then removes the silent agent after the re-registration timeout', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent({}, { pong: false });
  const { peer: plain } = await h.scheduler({ name: 'plain', checkpoint: false });
  await launchOne(plain, agent, agentId, 'plain-task');
  const rest = await plain.next('OFFERS');
  plain.send({ type: 'DECLINE', offerIds: rest.offers.map((offer) => offer.id), refuseSeconds: 3600 });
  const { peer: durable } = await h.scheduler({ name: 'durable', checkpoint: true });
  await launchOne(durable, agent, agentId, 'durable-task');

  // The agent stays connected but never answers a PING.
  const lost = await plain.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason, lost.status.source], ['plain-task', 'TASK_LOST', 'REASON_AGENT_DISCONNECTED', 'SOURCE_MASTER']);
  await agent.waitClosed();
  const removed = await durable.next('UPDATE');
  assert.equal([removed.status.taskId, removed.status.state, removed.status.reason], ['durable-task', 'TASK_LOST', 'REASON_AGENT_REMOVED']);
  assert.is(await agentStatusIn(h, agentId), 'REMOVED');
});

PingLoss('keeps an agent that re-registers after a ping timeout, with its checkpointed task', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent({}, { pong: false });
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true });
  const { run } = await launchOne(scheduler, agent, agentId, 'kept');
  await agent.waitClosed();
  const back = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }],
    tasks: [{ frameworkId, executorId: 'kept', task: run.task, state: 'TASK_RUNNING' }],
  });
  await back.next('REREGISTERED');
  // Only waiting past the 400 ms re-registration window can show that the removal was cancelled.
  await new Promise((resolve) => setTimeout(resolve, 800));
  assert.is(await agentStatusIn(h, agentId), 'ACTIVE');
  assert.is((await h.state()).frameworks[0]!.tasks[0]!.state, 'TASK_RUNNING');
  assert.equal(scheduler.pending('UPDATE'), []);
});

PingLoss.run();
