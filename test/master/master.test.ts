import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { InvalidOptionError } from '../../src/protocol/index.js';
import { Master } from '../../src/master/index.js';
import { getJson, waitFor } from '../helpers.js';
import { agentStatus, commandTask, Harness, launchOne } from './harness.js';

const Flow = suite<{ h: Harness }>('Master: the task path');

Flow.before.each(async (context) => {
  context.h = await new Harness().start();
});
Flow.after.each(async ({ h }) => {
  await h.stop();
});

Flow('registers an agent, offers it, launches, routes updates, acknowledgements and kills', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ name: 'flow' });

  const { offers } = await scheduler.next('OFFERS');
  assert.is(offers.length, 1);
  assert.is(offers[0]!.agentId, agentId);
  assert.is(offers[0]!.hostname, 'node-1');
  assert.equal(offers[0]!.resources, { cpus: 4, mem: 4096, disk: 10_000 });

  scheduler.send({ type: 'ACCEPT', offerIds: [offers[0]!.id], tasks: [commandTask('t1')] });
  const run = await agent.next('RUN_TASK');
  assert.equal(run.frameworkInfo, { id: frameworkId, name: 'flow', checkpoint: false });
  assert.is(run.task.taskId, 't1');
  assert.is(run.task.agentId, agentId, 'the master fills agentId from the offer');
  assert.equal(run.task.command, { value: 'sleep 100' });

  // What the task does not use goes back to the pool and is offered again.
  const again = await scheduler.next('OFFERS');
  assert.equal(again.offers[0]!.resources, { cpus: 3, mem: 3968, disk: 10_000 });

  let state = await h.state();
  assert.equal(state.frameworks[0]!.tasks.map(({ id, state, agentId, executorId }) => ({ id, state, agentId, executorId })), [{ id: 't1', state: 'TASK_STAGING', agentId, executorId: 't1' }]);

  const running = agentStatus(agentId, 't1', 'TASK_RUNNING');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: running });
  const update = await scheduler.next('UPDATE');
  assert.is(update.status.state, 'TASK_RUNNING');
  assert.is(update.status.uuid, running.uuid);
  assert.is(update.status.agentId, agentId);
  assert.is(update.status.executorId, 't1');
  state = await h.state();
  assert.is(state.frameworks[0]!.tasks[0]!.state, 'TASK_RUNNING');

  scheduler.send({ type: 'ACKNOWLEDGE', agentId, taskId: 't1', uuid: running.uuid });
  assert.equal(await agent.next('ACKNOWLEDGE'), { type: 'ACKNOWLEDGE', frameworkId, taskId: 't1', uuid: running.uuid });

  scheduler.send({ type: 'KILL', taskId: 't1' });
  assert.equal(await agent.next('KILL_TASK'), { type: 'KILL_TASK', frameworkId, taskId: 't1' });

  scheduler.send({ type: 'MESSAGE', agentId, executorId: 't1', data: new Uint8Array([1, 2, 3]) });
  const toExecutor = await agent.next('FRAMEWORK_MESSAGE');
  assert.equal([...toExecutor.data], [1, 2, 3]);
  agent.send({ type: 'EXECUTOR_MESSAGE', frameworkId, executorId: 't1', data: new Uint8Array([4]) });
  const toScheduler = await scheduler.next('MESSAGE');
  assert.is(toScheduler.agentId, agentId);
  assert.equal([...toScheduler.data], [4]);

  const killed = agentStatus(agentId, 't1', 'TASK_KILLED');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: killed });
  assert.is((await scheduler.next('UPDATE')).status.state, 'TASK_KILLED');
  await waitFor(async () => (await h.state()).frameworks[0]!.tasks[0]!.state === 'TASK_KILLED', { message: 'TASK_KILLED in /state' });
  assert.equal(agent.invalid, [], 'every frame the master sent matches the agent protocol');
  assert.equal(scheduler.invalid, [], 'every frame the master sent matches the scheduler protocol');
});

Flow('offers a checkpointing framework no checkpoint:false agent, while a non-checkpointing one gets it', async ({ h }) => {
  const { agentId: plainAgent } = await h.agent({ hostname: 'plain', checkpoint: false });
  const { peer: durable } = await h.scheduler({ name: 'durable', checkpoint: true });
  const { peer: plain } = await h.scheduler({ name: 'plain', checkpoint: false });

  const offer = (await plain.next('OFFERS')).offers[0]!;
  assert.is(offer.agentId, plainAgent);
  // Once declined, the agent is free again: only the durable framework could take it now.
  plain.send({ type: 'DECLINE', offerIds: [offer.id], refuseSeconds: 3600 });
  // A checkpointing agent arrives; its offer reaches the durable framework after every earlier one.
  const { agentId: durableAgent } = await h.agent({ hostname: 'durable', checkpoint: true });
  const got = await durable.next('OFFERS');
  assert.equal(got.offers.map((o) => o.agentId), [durableAgent]);
  assert.equal(durable.pending('OFFERS'), [], 'no offer of the checkpoint:false agent ever reached the checkpointing framework');
});

Flow('answers an ACCEPT of an unknown offer with TASK_DROPPED and a bad task with TASK_ERROR', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler } = await h.scheduler();
  const { offers } = await scheduler.next('OFFERS');

  scheduler.send({ type: 'ACCEPT', offerIds: ['no-such-offer'], tasks: [commandTask('dropped')] });
  const dropped = await scheduler.next('UPDATE');
  assert.is(dropped.status.taskId, 'dropped');
  assert.is(dropped.status.state, 'TASK_DROPPED');
  assert.is(dropped.status.reason, 'REASON_INVALID_OFFERS');
  assert.is(dropped.status.source, 'SOURCE_MASTER');
  assert.match(dropped.status.message!, /no-such-offer/);

  const tooBig = commandTask('too-big', 64);
  scheduler.send({ type: 'ACCEPT', offerIds: [offers[0]!.id], tasks: [tooBig, commandTask('fine')] });
  const error = await scheduler.next('UPDATE');
  assert.is(error.status.taskId, 'too-big');
  assert.is(error.status.state, 'TASK_ERROR');
  assert.is(error.status.reason, 'REASON_TASK_INVALID');
  assert.match(error.status.message!, /needs cpus:64/);
  assert.ok(error.status.uuid);
  assert.is((await agent.next('RUN_TASK')).task.taskId, 'fine');

  // The acknowledgement of an update the master made stops at the master; a real one is relayed.
  scheduler.send({ type: 'ACKNOWLEDGE', agentId, taskId: 'too-big', uuid: error.status.uuid! });
  const real = agentStatus(agentId, 'fine', 'TASK_RUNNING');
  scheduler.send({ type: 'ACKNOWLEDGE', agentId, taskId: 'fine', uuid: real.uuid });
  const ack = await agent.next('ACKNOWLEDGE');
  assert.is(ack.uuid, real.uuid);
  assert.equal(agent.pending('ACKNOWLEDGE'), []);
});

Flow('answers RECONCILE and a KILL of an unknown task from its own state, without uuids', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler } = await h.scheduler();
  await launchOne(scheduler, agent, agentId, 't1');

  scheduler.send({ type: 'RECONCILE', taskIds: ['t1', 'ghost'] });
  const first = await scheduler.next('UPDATE');
  const second = await scheduler.next('UPDATE');
  assert.equal([first.status.taskId, first.status.state, first.status.reason], ['t1', 'TASK_STAGING', 'REASON_RECONCILIATION']);
  assert.equal([second.status.taskId, second.status.state, second.status.reason], ['ghost', 'TASK_LOST', 'REASON_RECONCILIATION']);
  assert.is(first.status.uuid, undefined);

  scheduler.send({ type: 'RECONCILE' });
  assert.is((await scheduler.next('UPDATE')).status.taskId, 't1');

  scheduler.send({ type: 'KILL', taskId: 'ghost' });
  const lost = await scheduler.next('UPDATE');
  assert.equal([lost.status.taskId, lost.status.state, lost.status.reason, lost.status.uuid], ['ghost', 'TASK_LOST', 'REASON_RECONCILIATION', undefined]);
});

Flow('serves /health, /state and /metrics, and refuses unknown paths', async ({ h }) => {
  assert.equal(await getJson(h.url('/health')), { status: 200, body: { status: 'ok' } });
  const { agentId } = await h.agent();
  const { frameworkId } = await h.scheduler({ name: 'watched' });
  const state = await h.state();
  assert.equal(state.agents.map((a) => [a.id, a.hostname, a.checkpoint, a.status]), [[agentId, 'node-1', true, 'ACTIVE']]);
  assert.equal(state.frameworks.map((f) => [f.id, f.name, f.checkpoint, f.tasks]), [[frameworkId, 'watched', false, []]]);
  assert.equal(state.completedFrameworks, []);

  const metrics = await fetch(h.url('/metrics'));
  const text = await metrics.text();
  assert.is(metrics.status, 200);
  assert.match(text, /lifeline_master_agents\{status="ACTIVE"\} 1/);
  assert.match(text, /lifeline_master_frameworks\{status="ACTIVE"\} 1/);
  assert.match(text, /lifeline_master_tasks\{state="TASK_RUNNING"\} 0/);
  assert.match(text, /lifeline_master_frames_rejected_total/);

  assert.is((await getJson(h.url('/nope'))).status, 404);
  const refused = await new Promise<string>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/api/v1/elsewhere`);
    ws.on('error', (error) => resolve(error.message));
    ws.on('open', () => resolve('opened'));
  });
  assert.match(refused, /404/);
});

Flow.run();

const Lifecycle = suite('Master: options and lifecycle');

Lifecycle('validates its options up front, naming the option and the value', () => {
  assert.throws(() => new Master({ port: 70_000 }), (error: unknown) => error instanceof InvalidOptionError && /option port .* got 70000/.test((error as Error).message));
  assert.throws(() => new Master({ agentPingTimeoutMs: 0 }), /option agentPingTimeoutMs/);
  assert.throws(() => new Master({ maxAgentPingTimeouts: 1.5 }), /option maxAgentPingTimeouts/);
  assert.throws(() => new Master({ ip: '' }), /option ip/);
});

Lifecycle('stop() closes every connection and the HTTP server', async () => {
  const h = await new Harness().start();
  try {
    const { peer: agent } = await h.agent();
    const { peer: scheduler } = await h.scheduler();
    await h.master.stop();
    assert.is(h.master.lifecycle, 'STOPPED');
    await agent.waitClosed();
    await scheduler.waitClosed();
    await fetch(h.url('/health')).then(
      () => assert.unreachable('the HTTP server still answers'),
      () => {},
    );
    await h.master.stop(); // a second stop is harmless
  } finally {
    await h.stop();
  }
});

Lifecycle('a master stopped before it started is STOPPED, and cannot start any more', async () => {
  const master = new Master({ port: 0 });
  await master.stop();
  assert.is(master.lifecycle, 'STOPPED');
  await master.start().then(
    () => assert.unreachable('a stopped master started'),
    (error: Error) => assert.match(error.message, /cannot move the master to STARTING in STOPPED state/),
  );
});

Lifecycle('cannot start twice', async () => {
  const h = await new Harness().start();
  try {
    await h.master.start().then(
      () => assert.unreachable('started twice'),
      (error: Error) => assert.match(error.message, /cannot move the master to STARTING in RUNNING state/),
    );
  } finally {
    await h.stop();
  }
});

Lifecycle('a master whose start failed (its port taken) can still be stopped, twice', async () => {
  const first = await new Harness().start();
  try {
    const second = new Master({ ip: '127.0.0.1', port: first.port });
    let refused: unknown;
    await second.start().catch((error: unknown) => (refused = error));
    assert.is((refused as NodeJS.ErrnoException | undefined)?.code, 'EADDRINUSE');
    await second.stop();
    await second.stop();
    assert.is(second.lifecycle, 'STOPPED');
  } finally {
    await first.stop();
  }
});

Lifecycle.run();
