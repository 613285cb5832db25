// The executor side's link to the agent on its own (src/executor/connection.ts): agentPeer (the
// endpoint, the schema, the frame bound) and AgentConnection, whose user drives SUBSCRIBE itself,
// against the fake agent on a real Unix socket.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AgentConnection,
  EXECUTOR_ENDPOINT_PATH,
  HANDSHAKE_TIMEOUT_MS,
  MAX_EVENT_BYTES,
  RECONNECT_HANDSHAKE_TIMEOUT_MS,
  agentPeer,
  type ConnectionHandlers,
} from '../../src/executor/connection.js';
import { decodeEvent } from '../../src/executor/events.js';
import { firstFrameVersion } from '../../src/protocol/version.js';
import { LifelineError, ProtocolError, type ExecutorEvent } from '../../src/protocol/index.js';
import { removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';
import { FakeAgent, IDS, commandTask } from './fake-agent.js';

interface Context {
  dir: string;
  agent: FakeAgent | undefined;
  connections: AgentConnection[];
}

const Connection = suite<Context>('AgentConnection', { dir: '', agent: undefined, connections: [] });

Connection.before.each((context) => {
  context.dir = tempDir('ll-conn-');
  context.agent = undefined;
  context.connections = [];
});

Connection.after.each(async (context) => {
  for (const connection of context.connections) await connection.close();
  await context.agent?.close();
  removeDir(context.dir);
});

/** Handlers that record everything; `open` sends SUBSCRIBE, and SUBSCRIBED starts heartbeats when asked to. */
function recording(getConnection: () => AgentConnection, { heartbeatMs }: { heartbeatMs?: number } = {}) {
  const seen = { opened: 0, events: [] as ExecutorEvent[], malformed: [] as ProtocolError[], closed: [] as LifelineError[] };
  const handlers: ConnectionHandlers = {
    open: () => {
      seen.opened += 1;
      getConnection().send({
        type: 'SUBSCRIBE',
        frameworkId: IDS.frameworkId,
        executorId: IDS.executorId,
        containerId: IDS.containerId,
        token: IDS.token,
        ...firstFrameVersion(),
        unacknowledgedTasks: [],
        unacknowledgedUpdates: [],
      });
    },
    event: (event) => {
      seen.events.push(event);
      if (event.type === 'SUBSCRIBED' && heartbeatMs !== undefined) getConnection().startHeartbeats(heartbeatMs);
    },
    malformed: (error) => void seen.malformed.push(error),
    closed: (error) => void seen.closed.push(error),
  };
  return { handlers, seen };
}

function connect(context: Context, options: { heartbeatMs?: number; handshakeTimeoutMs?: number } = {}, socketPath = context.agent!.socketPath) {
  let connection: AgentConnection | undefined;
  const { handlers, seen } = recording(() => connection!, options);
  connection = new AgentConnection(socketPath, handlers, { handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5_000 });
  context.connections.push(connection);
  return { connection, seen };
}

Connection('agentPeer() names the agent by its socket and validates with the executor schema', () => {
  const peer = agentPeer('/run/agent.sock');
  assert.is(peer.peer, 'the agent at /run/agent.sock');
  assert.is(peer.decode, decodeEvent);
  assert.type(peer.connect, 'function');
  assert.is(EXECUTOR_ENDPOINT_PATH, '/api/v1/executor');
  assert.ok(RECONNECT_HANDSHAKE_TIMEOUT_MS < HANDSHAKE_TIMEOUT_MS, 'a restarted agent gets a shorter deadline than the first one');
});

Connection('opens to the agent endpoint, lets its user send SUBSCRIBE, and passes every event on; heartbeats start when asked', async (context) => {
  const agent = (context.agent = await FakeAgent.start(context.dir, { heartbeatIntervalMs: 50, heartbeat: false }));
  const { seen } = connect(context, { heartbeatMs: 50 });
  const subscribe = await agent.waitForCall('SUBSCRIBE');
  assert.is(subscribe.executorId, IDS.executorId);
  await waitFor(() => seen.events.some((e) => e.type === 'SUBSCRIBED') || undefined, { message: 'SUBSCRIBED', timeoutMs: 5_000 });
  assert.is(seen.opened, 1);
  agent.send({ type: 'LAUNCH', task: commandTask('task-1', 'true') });
  await waitFor(() => seen.events.some((e) => e.type === 'LAUNCH') || undefined, { message: 'LAUNCH', timeoutMs: 5_000 });
  await agent.waitForCall('HEARTBEAT', 'a HEARTBEAT from the executor', 5_000);
  assert.equal(seen.closed, []);
  assert.equal(agent.invalid, []);
});

Connection('without startHeartbeats() the handshake never ends: the subscription deadline closes the connection', async (context) => {
  context.agent = await FakeAgent.start(context.dir);
  const { seen } = connect(context, { handshakeTimeoutMs: 200 });
  await waitFor(() => seen.closed[0], { message: 'the connection to close', timeoutMs: 5_000 });
  assert.ok(seen.events.some((e) => e.type === 'SUBSCRIBED'), 'SUBSCRIBED came, and was handed to the user');
  assert.instance(seen.closed[0], LifelineError);
  assert.match(seen.closed[0]!.message, 'subscription');
});

Connection('a malformed event is reported to malformed(), then the connection closes with 1008', async (context) => {
  const agent = (context.agent = await FakeAgent.start(context.dir));
  const { seen } = connect(context, { heartbeatMs: 5_000 });
  await waitFor(() => seen.events.some((e) => e.type === 'SUBSCRIBED') || undefined, { message: 'SUBSCRIBED', timeoutMs: 5_000 });
  agent.sendRaw(new Uint8Array([0xc1])); // a byte msgpack never uses
  await waitFor(() => seen.closed[0], { message: 'the connection to close', timeoutMs: 5_000 });
  assert.is(seen.malformed.length, 1);
  assert.instance(seen.malformed[0], ProtocolError);
  assert.is(await agent.waitForClose(), 1008);
});

Connection(`an event over MAX_EVENT_BYTES (${MAX_EVENT_BYTES}) closes the connection with 1009, not delivered`, async (context) => {
  const agent = (context.agent = await FakeAgent.start(context.dir));
  const { seen } = connect(context, { heartbeatMs: 5_000 });
  await waitFor(() => seen.events.some((e) => e.type === 'SUBSCRIBED') || undefined, { message: 'SUBSCRIBED', timeoutMs: 5_000 });
  agent.send({ type: 'LAUNCH', task: commandTask('task-big', 'true', { data: new Uint8Array(MAX_EVENT_BYTES) }) });
  await waitFor(() => seen.closed[0], { message: 'the connection to close', timeoutMs: 5_000 });
  assert.not.ok(seen.events.some((e) => e.type === 'LAUNCH'));
  assert.is(await agent.waitForClose(), 1009);
});

Connection('close() ends it with closed() called exactly once; send() then returns false', async (context) => {
  const agent = (context.agent = await FakeAgent.start(context.dir));
  const { connection, seen } = connect(context, { heartbeatMs: 5_000 });
  await agent.waitForCall('SUBSCRIBE');
  await withTimeout(connection.close(1000, 'done'), 5_000, 'close()');
  await connection.close();
  assert.is(seen.closed.length, 1);
  assert.is(connection.send({ type: 'HEARTBEAT' }), false);
  assert.is(await agent.waitForClose(), 1000);
});

Connection('nothing listening on the socket: closed() with ERR_CONNECTION, and open() is never called', async (context) => {
  const { connection, seen } = connect(context, {}, `${context.dir}/nobody.sock`);
  assert.is(connection.send({ type: 'HEARTBEAT' }), false, 'nothing is sent before the connection is open');
  await waitFor(() => seen.closed[0], { message: 'the connection to close', timeoutMs: 5_000 });
  assert.is(seen.closed[0]!.code, 'ERR_CONNECTION');
  assert.match(seen.closed[0]!.message, `${context.dir}/nobody.sock`);
  assert.is(seen.opened, 0);
});

Connection.run();
