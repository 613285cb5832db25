// Bad input against real processes: hostile peers on the master's two endpoints and on a real
// agent's executor socket each get a clear ERROR (or close 1009 for an oversize frame) and are
// disconnected, while the real executor, the real framework and a new task are served throughout.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, type RoutedTaskStatus } from '../../src/protocol/index.js';
import { SchedulerDriver } from '../../src/scheduler/index.js';
import { getJson, lifeline, waitFor, withTimeout } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';
import { connectPeer, type Peer } from '../../harness/lib/fault-cluster.js';

/** Sends one frame and returns the close code and the ERROR (if any) that came before it. */
async function refused(url: string, frame: Uint8Array | string): Promise<{ code: number; error?: Record<string, unknown>; events: Peer['events'] }> {
  const peer = await connectPeer(url);
  peer.ws.send(frame, { binary: typeof frame !== 'string' });
  const code = await withTimeout(peer.closed, 10_000, `close after sending a bad frame to ${url}`);
  return { code, error: peer.events.find((event) => event.type === 'ERROR'), events: peer.events };
}

interface Ctx {
  cluster: Cluster;
  driver: SchedulerDriver;
  updates: RoutedTaskStatus[];
}

const Bad = suite<Ctx>('bad input end to end');

Bad.before.each(async (ctx) => {
  ctx.cluster = await startCluster();
  ctx.updates = [];
  ctx.driver = new SchedulerDriver({
    master: ctx.cluster.masterAddress,
    frameworkInfo: { name: 'good-framework' },
    onUpdate: (status) => void ctx.updates.push(status),
    // Hand every offer back at once, so that other frameworks are offered the agent too.
    onOffers: (offers) => ctx.driver.decline(offers.map((offer) => offer.id), 0),
  });
});
Bad.after.each(async (ctx) => {
  await ctx.driver.stop();
  await ctx.cluster.stop();
});


Bad('the master refuses hostile frames on both endpoints and keeps serving a real framework and agent', async (ctx) => {
  await ctx.driver.start();
  const scheduler = `ws://${ctx.cluster.masterAddress}/api/v1/scheduler`;
  const agent = `ws://${ctx.cluster.masterAddress}/api/v1/agent`;

  const garbage = await refused(scheduler, Buffer.from([0xc1, 0xde, 0xad, 0xbe, 0xef]));
  assert.is(garbage.code, 1008);
  assert.is(garbage.error?.code, 'ERR_PROTOCOL');

  const unknown = await refused(scheduler, encode({ type: 'LAUNCH_EVERYTHING' }));
  assert.is(unknown.code, 1008);
  assert.match(String(unknown.error?.message), 'LAUNCH_EVERYTHING');

  for (const id of ['../x', 'a/b', '', 'bad\u0001id']) {
    const result = await refused(scheduler, encode({ type: 'SUBSCRIBE', frameworkInfo: { name: 'evil', id } }));
    assert.is(result.code, 1008, `id ${JSON.stringify(id)}`);
    assert.match(String(result.error?.message), 'frameworkInfo.id', `id ${JSON.stringify(id)}`);
  }

  const badAgent = await refused(agent, encode({ type: 'REGISTER', agentInfo: { hostname: 'h', resources: { cpus: -1, mem: 1, disk: 1 }, checkpoint: true } }));
  assert.is(badAgent.code, 1008);
  assert.match(String(badAgent.error?.message), 'resources.cpus');

  const oversize = await refused(scheduler, Buffer.alloc(2 * 1024 * 1024, 0x61));
  assert.is(oversize.code, 1009);

  // The real agent is still registered and the real framework still gets a task done.
  const state = (await getJson(`http://${ctx.cluster.masterAddress}/state`)).body as { agents: Array<{ status: string }> };
  assert.equal(state.agents.map((a) => a.status), ['ACTIVE']);
  const run = lifeline(['run', `--master=${ctx.cluster.masterAddress}`, '--command=true', '--json']);
  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 0, run.stdout + run.stderr);
});

Bad("the agent refuses hostile executors on its socket and keeps serving the real one", async (ctx) => {
  let launched = false;
  const driver: SchedulerDriver = new SchedulerDriver({
    master: ctx.cluster.masterAddress,
    frameworkInfo: { name: 'sleeper' },
    onUpdate: (status) => void ctx.updates.push(status),
    onOffers: (offers): void => {
      if (launched) return driver.decline(offers.map((o) => o.id));
      launched = true;
      driver.accept([offers[0]!.id], [{ taskId: 'sleeper', name: 'sleeper', resources: { cpus: 0.1, mem: 32 }, command: { value: 'sleep 30' } }]);
    },
  });
  await ctx.driver.stop();
  ctx.driver = driver;
  await driver.start();
  await waitFor(() => ctx.updates.some((s) => s.state === 'TASK_RUNNING'), { timeoutMs: 15_000, message: 'TASK_RUNNING of the real task' });

  const agentState = (await getJson(`http://${ctx.cluster.agentAddress}/state`)).body as {
    frameworks: Array<{ id: string; executors: Array<{ id: string; containerId: string }> }>;
  };
  const framework = agentState.frameworks[0]!;
  const executor = framework.executors[0]!;
  const socket = path.join(ctx.cluster.workDir, 'rt', 'executors', 'agent.sock');
  const url = `ws+unix://${socket}:/api/v1/executor`;
  const subscribe = (overrides: Record<string, unknown>) =>
    encode({
      type: 'SUBSCRIBE',
      frameworkId: framework.id,
      executorId: executor.id,
      containerId: executor.containerId,
      token: 'f'.repeat(64),
      protocol: 1,
      unacknowledgedTasks: [],
      unacknowledgedUpdates: [],
      ...overrides,
    });

  const wrongToken = await refused(url, subscribe({}));
  assert.is(wrongToken.code, 1008);
  assert.is(wrongToken.error?.code, 'ERR_UNAUTHORIZED');

  const unknownExecutor = await refused(url, subscribe({ executorId: 'nobody-here', containerId: randomUUID() }));
  assert.ok(unknownExecutor.events.some((e) => e.type === 'SHUTDOWN'), JSON.stringify(unknownExecutor.events));

  const pathTrick = await refused(url, subscribe({ executorId: '../../etc' }));
  assert.is(pathTrick.code, 1008);
  assert.match(String(pathTrick.error?.message), 'executorId');

  const garbage = await refused(url, Buffer.from('not msgpack at all'));
  assert.is(garbage.code, 1008);

  const oversize = await refused(url, Buffer.alloc(2 * 1024 * 1024));
  assert.is(oversize.code, 1009);

  // The real executor is still connected: a kill reaches it and its task ends TASK_KILLED.
  driver.kill('sleeper');
  await waitFor(() => ctx.updates.some((s) => s.state === 'TASK_KILLED'), { timeoutMs: 15_000, message: 'TASK_KILLED of the real task' });
  const states = ctx.updates.map((s) => s.state);
  assert.not.ok(states.includes('TASK_FAILED'), states.join(' '));
});

Bad.run();
