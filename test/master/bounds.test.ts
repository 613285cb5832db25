// The master's bounds (issue 13, point 2): connections, bytes waiting for a slow reader, bytes of
// unfinished REREGISTERs, offers held too long, removed agents and completed frameworks
// remembered. Each bound refuses or forgets one thing and leaves every other peer served.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { AGENT_INFO, Harness } from './harness.js';
import { waitFor, withTimeout } from '../helpers.js';

const Bounds = suite<{ h: Harness }>('Master: bounds');

Bounds.after.each(async ({ h }) => {
  await h?.stop();
});

/** The HTTP status a WebSocket upgrade is answered with (101 when it opens). */
function upgradeStatus(url: string): Promise<{ status: number; ws: WebSocket }> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  return withTimeout(
    new Promise((resolve) => {
      ws.once('open', () => resolve({ status: 101, ws }));
      ws.once('unexpected-response', (_request, response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0, ws });
      });
    }),
    5_000,
    'the upgrade answered',
  );
}

Bounds('past --max_connections an upgrade is answered 503; a closed connection frees its slot', async (ctx) => {
  ctx.h = await new Harness().start({ maxConnections: 2 });
  const { h } = ctx;
  const { peer: agent } = await h.agent();
  const scheduler = await h.scheduler();
  const refused = await upgradeStatus(`ws://127.0.0.1:${h.port}/api/v1/scheduler`);
  assert.is(refused.status, 503);
  refused.ws.terminate();
  assert.is((await upgradeStatus(`ws://127.0.0.1:${h.port}/api/v1/agent`)).status, 503, 'the cap counts both endpoints');
  scheduler.peer.close();
  await waitFor(async () => {
    const attempt = await upgradeStatus(`ws://127.0.0.1:${h.port}/api/v1/scheduler`);
    attempt.ws.terminate();
    return attempt.status === 101;
  }, { timeoutMs: 5_000, message: 'a slot freed by the closed scheduler' });
  // The connections under the cap were never touched.
  assert.is(agent.ws.readyState, WebSocket.OPEN);
});

Bounds('an agent that reads slower than it is sent to is closed once --max_connection_buffer_bytes wait for it; others go on', async (ctx) => {
  ctx.h = await new Harness().start({ maxConnectionBufferBytes: 65_536 });
  const { h } = ctx;
  const { peer: slow, agentId } = await h.agent({ hostname: 'slow' });
  const { peer: fast } = await h.agent({ hostname: 'fast' });
  const { peer: scheduler } = await h.scheduler();
  // The slow agent stops reading: what the master sends it piles up in the master.
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const data = new Uint8Array(512 * 1024);
  for (let i = 0; i < 120 && slow.ws.readyState === WebSocket.OPEN; i++) {
    scheduler.send({ type: 'MESSAGE', agentId, executorId: 'e1', data });
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await waitFor(() => h.master.state().agents.find((agent) => agent.id === agentId)?.status === 'DISCONNECTED', { timeoutMs: 10_000, message: 'the slow agent closed and marked DISCONNECTED' });
  assert.is(h.master.state().agents.find((agent) => agent.hostname === 'fast')?.status, 'ACTIVE');
  assert.is(fast.ws.readyState, WebSocket.OPEN);
  assert.is(scheduler.ws.readyState, WebSocket.OPEN);
});

Bounds('a REREGISTER part past --max_reregister_bytes is refused; its bytes are released, so a smaller one is taken', async (ctx) => {
  ctx.h = await new Harness().start({ maxReregisterBytes: 65_536 });
  const { h } = ctx;
  const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({
    frameworkId: 'f1', executorId: `t${i}`, state: 'TASK_RUNNING',
    task: { taskId: `t${i}`, name: 'x'.repeat(200), agentId: 'a1', resources: { cpus: 0.1, mem: 1 }, command: { value: 'sleep 1' } },
  }));
  const big = await h.agentPeer();
  big.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: 'a1' }, frameworks: [], executors: [], tasks: tasks(400), part: { index: 0, count: 2 } });
  const error = await big.next('ERROR');
  assert.is(error.code, 'ERR_CONNECTION');
  assert.match(error.message, /unfinished REREGISTERs, at its limit of 65536 \(--max_reregister_bytes\): try again later/);
  assert.is((await big.waitClosed()).code, 1008);
  // Nothing of the refused part is still counted: a part under the cap, then its last part, re-register the agent.
  const small = await h.agentPeer();
  small.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: 'a1' }, frameworks: [], executors: [], tasks: tasks(50).slice(0, 25), part: { index: 0, count: 2 } });
  small.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: 'a1' }, frameworks: [], executors: [], tasks: tasks(50).slice(25), part: { index: 1, count: 2 } });
  assert.is((await small.next('REREGISTERED')).agentId, 'a1');
});

Bounds('an offer neither accepted nor declined within --offer_timeout is rescinded and offered again', async (ctx) => {
  ctx.h = await new Harness().start({ offerTimeoutMs: 300, allocationIntervalMs: 50 });
  const { h } = ctx;
  const { agentId } = await h.agent();
  const { peer: scheduler } = await h.scheduler();
  const first = (await scheduler.next('OFFERS')).offers[0]!;
  assert.is(first.agentId, agentId);
  const rescind = await scheduler.next('RESCIND', 5_000);
  assert.is(rescind.offerId, first.id);
  const again = (await scheduler.next('OFFERS', 5_000)).offers[0]!;
  assert.is(again.agentId, agentId);
  assert.is.not(again.id, first.id);
  // The rescinded offer cannot be used any more.
  scheduler.send({ type: 'ACCEPT', offerIds: [first.id], tasks: [{ taskId: 'late', name: 'late', resources: { cpus: 1, mem: 1 }, command: { value: 'true' } }] });
  const dropped = await scheduler.next('UPDATE');
  assert.is(dropped.status.state, 'TASK_DROPPED');
});

Bounds('only --registry_max_agent_count removed agents are remembered: the oldest forgotten one may register again', async (ctx) => {
  ctx.h = await new Harness().start({ registryMaxAgentCount: 2 });
  const { h } = ctx;
  const ids: string[] = [];
  for (const hostname of ['n1', 'n2', 'n3']) {
    const { peer, agentId } = await h.agent({ hostname });
    ids.push(agentId);
    peer.send({ type: 'UNREGISTER' });
    await peer.waitClosed();
    await waitFor(() => h.master.state().agents.find((agent) => agent.id === agentId)?.status === 'REMOVED', { message: `${hostname} removed` });
  }
  assert.equal(h.master.state().agents.map((agent) => agent.id), ids.slice(1), 'the oldest removed agent is forgotten');
  // The newest removed one is still told to shut down; the forgotten one is taken back with its own ID.
  const remembered = await h.reregister(ids[2]!);
  assert.is((await remembered.next('SHUTDOWN')).type, 'SHUTDOWN');
  const forgotten = await h.reregister(ids[0]!);
  assert.is((await forgotten.next('REREGISTERED')).agentId, ids[0]);
});

Bounds('--max_completed_frameworks removed frameworks are kept in /state, and their IDs stay refused', async (ctx) => {
  ctx.h = await new Harness().start({ maxCompletedFrameworks: 1 });
  const { h } = ctx;
  const ids: string[] = [];
  for (const name of ['one', 'two']) {
    const { peer, frameworkId } = await h.scheduler({ name });
    ids.push(frameworkId);
    peer.send({ type: 'TEARDOWN' });
    await peer.waitClosed();
  }
  await waitFor(() => h.master.state().completedFrameworks.length === 1 && h.master.state().completedFrameworks[0]!.id === ids[1], { message: 'one completed framework kept' });
  const back = await h.schedulerPeer();
  back.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'one', checkpoint: false, id: ids[0] } });
  assert.match((await back.next('ERROR')).message, new RegExp(`framework ${ids[0]} was removed`));
});

Bounds.run();
