// A peer that sends what the schema allows at its very edges must not break the master or any
// framework: a huge resource amount, hundreds of stale offers, a failover timeout past setTimeout's
// range, more agents than one OFFERS event holds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_OFFERS_PER_EVENT, MAX_RESOURCE } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';
import { AGENT_INFO, commandTask, Harness, launchOne } from './harness.js';

const Hostile = suite<{ h: Harness }>('Master: peers at the edges of the schema');

Hostile.before.each(async (context) => {
  context.h = await new Harness().start({ allocationIntervalMs: 50 });
});
Hostile.after.each(async ({ h }) => {
  await h.stop();
});

Hostile('refuses a REGISTER with cpus 1e306, naming the field, and the framework goes on', async ({ h }) => {
  const { peer: scheduler } = await h.scheduler({ name: 'victim' });
  const { agentId } = await h.agent();
  const first = await scheduler.next('OFFERS');
  assert.is(first.offers[0]!.agentId, agentId);

  const poison = await h.agentPeer();
  poison.send({ type: 'REGISTER', agentInfo: { ...AGENT_INFO, hostname: 'evil', resources: { cpus: 1e306, mem: 1, disk: 1 } } });
  const error = await poison.next('ERROR');
  assert.is(error.code, 'ERR_PROTOCOL');
  assert.match(error.message, /agentInfo\.resources\.cpus/);
  assert.match(error.message, /1e\+?306/);
  await poison.waitClosed();

  // An agent at the bound is offered with its amounts intact (three decimals, all finite).
  const { agentId: big } = await h.agent({ hostname: 'big', resources: { cpus: MAX_RESOURCE, mem: MAX_RESOURCE - 0.001, disk: MAX_RESOURCE } });
  const offers = await waitFor(() => scheduler.frames.flatMap((frame) => (frame.type === 'OFFERS' ? frame.offers : [])).find((offer) => offer.agentId === big), {
    message: 'an offer of the agent at the bound',
  });
  assert.equal(offers.resources, { cpus: MAX_RESOURCE, mem: MAX_RESOURCE - 0.001, disk: MAX_RESOURCE });
  assert.equal(scheduler.invalid, []);
  assert.is(scheduler.ws.readyState, scheduler.ws.OPEN);
  const state = await h.state();
  assert.is(state.frameworks.length, 1);
});

Hostile('answers an ACCEPT of 1,500 stale offers with a TASK_DROPPED whose message fits the schema', async ({ h }) => {
  const { peer: scheduler } = await h.scheduler({ name: 'stale' });
  const offerIds = Array.from({ length: 1_500 }, (_, i) => `stale-offer-${i}`);
  scheduler.send({ type: 'ACCEPT', offerIds, tasks: [commandTask('t1')] });
  const update = await scheduler.next('UPDATE');
  assert.is(update.status.state, 'TASK_DROPPED');
  assert.is(update.status.reason, 'REASON_INVALID_OFFERS');
  assert.ok(update.status.message!.length < 4_096, `message of ${update.status.message!.length} characters`);
  assert.match(update.status.message!, /offer stale-offer-0 is not outstanding/);
  assert.match(update.status.message!, /and 1490 more/);
  assert.equal(scheduler.invalid, []);
});

Hostile('keeps a disconnected framework whose failover timeout is past setTimeout range (2^40 ms)', async ({ h }) => {
  const { peer, frameworkId } = await h.scheduler({ name: 'long', failoverTimeoutMs: 2 ** 40 });
  peer.close();
  await waitFor(async () => (await h.state()).frameworks.find((f) => f.id === frameworkId && f.status === 'DISCONNECTED'), { message: 'the framework DISCONNECTED' });
  // Node fires a setTimeout over 2^31-1 ms after 1 ms: the framework was removed at once.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const state = await h.state();
  assert.ok(state.frameworks.some((f) => f.id === frameworkId && f.status === 'DISCONNECTED'), JSON.stringify(state.frameworks));
});

Hostile(`sends the offers of ${MAX_OFFERS_PER_EVENT + 5} agents in OFFERS events of at most ${MAX_OFFERS_PER_EVENT}`, async ({ h }) => {
  const count = MAX_OFFERS_PER_EVENT + 5;
  const agents = [];
  for (let i = 0; i < count; i += 50) {
    agents.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => h.agent({ hostname: `n-${i + k}` })))));
  }
  const { peer: scheduler } = await h.scheduler({ name: 'many' });
  const offered = new Set<string>();
  await waitFor(
    () => {
      for (const frame of scheduler.frames) if (frame.type === 'OFFERS') for (const offer of frame.offers) offered.add(offer.agentId);
      return offered.size === count;
    },
    { timeoutMs: 20_000, message: `offers of all ${count} agents (got ${offered.size})` },
  );
  const events = scheduler.frames.filter((frame) => frame.type === 'OFFERS');
  assert.ok(events.length >= 2);
  assert.ok(events.every((frame) => frame.type === 'OFFERS' && frame.offers.length <= MAX_OFFERS_PER_EVENT));
  assert.is(agents.length, count);
});

Hostile("a REREGISTER reporting another agent's live task does not take it over: the reporter is told to kill its copy", async ({ h }) => {
  const { peer: scheduler, frameworkId } = await h.scheduler({ name: 'victim', checkpoint: true });
  const { peer: owner, agentId: ownerId } = await h.agent({ hostname: 'owner' });
  await launchOne(scheduler, owner, ownerId, 't1');
  const { peer: first, agentId: thiefId } = await h.agent({ hostname: 'thief' });
  first.close();
  await waitFor(() => h.master.state().agents.find((agent) => agent.id === thiefId)?.status === 'DISCONNECTED', { message: 'the thief disconnected' });
  const stolen = { frameworkId, executorId: 't1', state: 'TASK_RUNNING', task: { ...commandTask('t1'), agentId: thiefId } };
  const thief = await h.reregister(thiefId, { frameworks: [{ id: frameworkId, name: 'victim', checkpoint: true }], tasks: [stolen] });
  assert.is((await thief.next('REREGISTERED')).agentId, thiefId);
  const kill = await thief.next('KILL_TASK');
  assert.equal([kill.frameworkId, kill.taskId], [frameworkId, 't1']);
  const task = h.master.state().frameworks.find((framework) => framework.id === frameworkId)!.tasks.find((t) => t.id === 't1')!;
  assert.is(task.agentId, ownerId, 'the task stays on the agent the master placed it on');
  assert.is(task.state, 'TASK_STAGING');
  assert.equal(scheduler.pending('UPDATE'), [], 'the framework hears nothing of the claim');
  assert.is(owner.ws.readyState, 1, 'the real agent keeps its connection');
});

Hostile.run();
