// /api/v1/scheduler on a real in-process Master with raw WebSocket schedulers and agents
// (./harness): SUBSCRIBE and its answer, one SUBSCRIBE per connection, the failover timeout (0:
// removed at disconnect; otherwise kept for a re-subscription in time), TEARDOWN, the removal
// recorded in the registry, and a framework's principal taken from its connection, never its word.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MasterOptions } from '../../src/master/index.js';
import { readRegistryFile } from '../../src/master/registry-store-file.js';
import { respond, Secret, type Credential } from '../../src/session/authentication.js';
import { waitFor } from '../helpers.js';
import { Harness, TestScope, launchOne, type SchedulerPeer } from './harness.js';

interface Ctx {
  scope: TestScope;
}

const SchedulerEndpoint = suite<Ctx>('master/scheduler-endpoint: /api/v1/scheduler');

SchedulerEndpoint.before.each((ctx) => {
  ctx.scope = new TestScope('ll-scheduler-endpoint-');
});
SchedulerEndpoint.after.each((ctx) => ctx.scope.close());

const master = (ctx: Ctx, options: MasterOptions = {}): Promise<Harness> => ctx.scope.master(options);
const workDir = (ctx: Ctx): string => ctx.scope.workDir();

async function refused(peer: SchedulerPeer, code: string, message: RegExp): Promise<void> {
  const error = await peer.next('ERROR');
  assert.is(error.code, code);
  assert.match(error.message, message);
  assert.is((await peer.waitClosed()).code, 1008);
}

async function frameworkStatus(h: Harness, frameworkId: string): Promise<string | undefined> {
  const state = await h.state();
  return [...state.frameworks, ...state.completedFrameworks].find((framework) => framework.id === frameworkId)?.status;
}

const ALICE: Credential = { principal: 'alice', secret: new Secret('alice-secret-7c1d') };

SchedulerEndpoint('SUBSCRIBE is answered SUBSCRIBED with a fresh framework ID, the heartbeat interval and epoch 0', async (ctx) => {
  const h = await master(ctx, { heartbeatIntervalMs: 20_000.4 });
  const peer = await h.schedulerPeer();
  peer.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'first', checkpoint: true } });
  const subscribed = await peer.next('SUBSCRIBED');
  assert.is(subscribed.heartbeatIntervalMs, 20_000, 'whole milliseconds');
  assert.is(subscribed.epoch, 0);
  const { frameworkId: other } = await h.scheduler({ name: 'second' });
  assert.is.not(other, subscribed.frameworkId);
  const state = await h.state();
  assert.equal(state.frameworks.map((framework) => [framework.id, framework.name, framework.status, framework.checkpoint]), [
    [subscribed.frameworkId, 'first', 'ACTIVE', true],
    [other, 'second', 'ACTIVE', false],
  ]);
});

SchedulerEndpoint('a framework ID this master does not know (it restarted without a registry) is accepted as given', async (ctx) => {
  const h = await master(ctx);
  const { frameworkId } = await h.scheduler({ id: 'fw-from-before', failoverTimeoutMs: 60_000 });
  assert.is(frameworkId, 'fw-from-before');
  assert.is(await frameworkStatus(h, 'fw-from-before'), 'ACTIVE');
});

SchedulerEndpoint('a second SUBSCRIBE on the same connection is refused, naming the framework it is already', async (ctx) => {
  const h = await master(ctx);
  const { peer, frameworkId } = await h.scheduler({ failoverTimeoutMs: 60_000 });
  peer.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'again', id: frameworkId } });
  await refused(peer, 'ERR_PROTOCOL', new RegExp(`SUBSCRIBE on a connection already \\w+ as ${frameworkId}; open a new connection instead`));
  await waitFor(async () => (await frameworkStatus(h, frameworkId)) === 'DISCONNECTED', { message: 'the framework DISCONNECTED' });
  assert.equal((await h.state()).frameworks.map((framework) => [framework.name, framework.status]), [['test', 'DISCONNECTED']], 'the refused call renamed nothing');
});

SchedulerEndpoint('failover timeout 0: the framework is removed at disconnect, its executors shut down, its ID refused after', async (ctx) => {
  const h = await master(ctx);
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ name: 'once', checkpoint: true });
  await launchOne(scheduler, agent, agentId, 't1');
  scheduler.close();
  assert.equal(await agent.next('SHUTDOWN_FRAMEWORK'), { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  const state = await h.state();
  assert.equal(state.frameworks, []);
  assert.equal(state.completedFrameworks.map((framework) => [framework.id, framework.status, framework.tasks.map((task) => task.state)]), [[frameworkId, 'REMOVED', ['TASK_KILLED']]]);

  const again = await h.schedulerPeer();
  again.send({ type: 'SUBSCRIBE', frameworkInfo: { id: frameworkId, name: 'once', checkpoint: true } });
  await refused(again, 'ERR_ILLEGAL_STATE', new RegExp(`framework ${frameworkId} was removed .*; subscribe without an id to register a new framework`));
});

SchedulerEndpoint('a re-subscription within failoverTimeoutMs keeps the framework, and its next disconnection counts afresh; one not back in time is removed', async (ctx) => {
  const h = await master(ctx);
  const { peer: kept, frameworkId: keptId } = await h.scheduler({ name: 'kept', failoverTimeoutMs: 300 });
  const { peer: late, frameworkId: lateId } = await h.scheduler({ name: 'late', failoverTimeoutMs: 300 });
  kept.close();
  await waitFor(async () => (await frameworkStatus(h, keptId)) === 'DISCONNECTED', { message: 'kept DISCONNECTED' });
  late.close();
  await waitFor(async () => (await frameworkStatus(h, lateId)) === 'DISCONNECTED', { message: 'late DISCONNECTED' });

  // Back in time, with a longer failover timeout this time; then gone again.
  const { peer: back, frameworkId } = await h.scheduler({ id: keptId, name: 'kept again', failoverTimeoutMs: 60_000 });
  assert.is(frameworkId, keptId);
  assert.is(await frameworkStatus(h, keptId), 'ACTIVE');
  back.close();
  await waitFor(async () => (await frameworkStatus(h, keptId)) === 'DISCONNECTED', { message: 'kept DISCONNECTED again' });

  // The late one's 300 ms timer was set after the kept one's first: once it has removed the late
  // framework, that first timer would have fired too, had the re-subscription not cancelled it.
  await waitFor(async () => (await frameworkStatus(h, lateId)) === 'REMOVED', { message: 'late removed after its failover timeout' });
  const state = await h.state();
  assert.equal(state.frameworks.map((framework) => [framework.id, framework.name, framework.status]), [[keptId, 'kept again', 'DISCONNECTED']]);
});

SchedulerEndpoint('TEARDOWN removes the framework, shuts it down on its agents and closes the connection', async (ctx) => {
  const h = await master(ctx);
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler({ checkpoint: true, failoverTimeoutMs: 3_600_000 });
  await launchOne(scheduler, agent, agentId, 't1');
  scheduler.send({ type: 'TEARDOWN' });
  assert.equal(await agent.next('SHUTDOWN_FRAMEWORK'), { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  assert.equal(await scheduler.waitClosed(), { code: 1000, reason: 'framework torn down' });
  assert.is(await frameworkStatus(h, frameworkId), 'REMOVED', 'a long failover timeout does not keep a torn-down framework');
});

SchedulerEndpoint('with a work dir a removed framework is recorded, so that a restarted master refuses its ID too', async (ctx) => {
  const dir = workDir(ctx);
  const first = await master(ctx, { workDir: dir });
  const { peer, frameworkId } = await first.scheduler({ name: 'gone' });
  peer.send({ type: 'TEARDOWN' });
  await peer.waitClosed();
  await waitFor(async () => (await readRegistryFile(dir)).goneFrameworks.some((framework) => framework.id === frameworkId), { message: 'the removal in the registry file' });
  const [gone] = (await readRegistryFile(dir)).goneFrameworks;
  assert.equal([gone!.id, gone!.name, typeof gone!.removedAt], [frameworkId, 'gone', 'number']);
  await first.stop();

  const second = await master(ctx, { workDir: dir });
  const again = await second.schedulerPeer();
  again.send({ type: 'SUBSCRIBE', frameworkInfo: { id: frameworkId, name: 'gone' } });
  await refused(again, 'ERR_ILLEGAL_STATE', /was removed/);
});

SchedulerEndpoint('a principal an unauthenticated scheduler writes into its FrameworkInfo is dropped', async (ctx) => {
  const h = await master(ctx);
  const { peer: agent, agentId } = await h.agent();
  const scheduler = await h.schedulerPeer();
  scheduler.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'claims', checkpoint: true, failoverTimeoutMs: 60_000, principal: 'admin' } });
  const { frameworkId } = await scheduler.next('SUBSCRIBED');
  const { run } = await launchOne(scheduler, agent, agentId, 't1');
  assert.is(run.frameworkInfo.id, frameworkId);
  assert.is(run.frameworkInfo.name, 'claims');
  assert.not.ok('principal' in run.frameworkInfo, `RUN_TASK carries ${JSON.stringify(run.frameworkInfo)}`);

  // The framework belongs to no principal: another unauthenticated scheduler may fail over to it.
  const { frameworkId: same } = await h.scheduler({ id: frameworkId, name: 'claims', checkpoint: true, failoverTimeoutMs: 60_000 });
  assert.is(same, frameworkId);
});

SchedulerEndpoint('an authenticated scheduler\'s framework carries the connection\'s principal, recorded before SUBSCRIBED, and is its own', async (ctx) => {
  const dir = workDir(ctx);
  const h = await master(ctx, { workDir: dir, credentials: [ALICE], authenticateAgents: false, authenticateFrameworks: false });
  const { peer: agent, agentId } = await h.agent();
  const scheduler = await h.schedulerPeer();
  scheduler.send({ type: 'AUTHENTICATE' });
  const { challenge } = await scheduler.next('CHALLENGE');
  scheduler.send({
    type: 'SUBSCRIBE',
    frameworkInfo: { name: 'alices', checkpoint: true, failoverTimeoutMs: 60_000, principal: 'admin' },
    authentication: respond(ALICE, 'scheduler', challenge),
  });
  const { frameworkId } = await scheduler.next('SUBSCRIBED');
  assert.equal((await readRegistryFile(dir)).frameworkOwners, [{ id: frameworkId, principal: 'alice' }]);
  const { run } = await launchOne(scheduler, agent, agentId, 't1');
  assert.is(run.frameworkInfo.principal, 'alice', 'the connection\'s principal, not the one it claimed');

  // Not another's to take: even where authentication is optional, an unauthenticated scheduler cannot subscribe as it.
  const intruder = await h.schedulerPeer();
  intruder.send({ type: 'SUBSCRIBE', frameworkInfo: { id: frameworkId, name: 'alices', checkpoint: true } });
  await refused(intruder, 'ERR_UNAUTHORIZED', new RegExp(`^framework ${frameworkId} belongs to principal alice: an unauthenticated peer cannot subscribe as it$`));
  assert.is(await frameworkStatus(h, frameworkId), 'ACTIVE');
});

SchedulerEndpoint.run();
