// ExecutorDriver against a fake agent on a real Unix socket: subscription, acknowledged updates,
// the backlog carried in SUBSCRIBE, events to callbacks, bad events, broken connections, stop().
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExecutorDriver, type ExecutorDriverOptions } from '../../src/executor/index.js';
import { EXECUTOR_PROTOCOL_VERSION, LifelineError, encode, type TaskStatus } from '../../src/protocol/index.js';
import { FIXTURES, Proc, removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';
import { FakeAgent, IDS, commandTask, type FakeAgentOptions } from './fake-agent.js';

interface Context {
  dir: string;
  agent: FakeAgent | undefined;
  drivers: ExecutorDriver[];
  procs: Proc[];
  savedEnv: NodeJS.ProcessEnv;
}

const Driver = suite<Context>('ExecutorDriver', { dir: '', agent: undefined, drivers: [], procs: [], savedEnv: {} });

Driver.before.each((context) => {
  context.dir = tempDir('ll-ex-');
  context.agent = undefined;
  context.drivers = [];
  context.procs = [];
  context.savedEnv = { ...process.env };
});

Driver.after.each(async (context) => {
  for (const driver of context.drivers) await driver.stop();
  for (const proc of context.procs) await proc.stop(500);
  await context.agent?.close();
  for (const key of Object.keys(process.env)) if (!(key in context.savedEnv)) delete process.env[key];
  Object.assign(process.env, context.savedEnv);
  removeDir(context.dir);
});

async function startAgent(context: Context, options: FakeAgentOptions = {}, env: Record<string, string> = {}): Promise<FakeAgent> {
  const agent = await FakeAgent.start(context.dir, options);
  context.agent = agent;
  Object.assign(process.env, agent.env(context.dir, env));
  return agent;
}

/** A driver that records its callbacks (never the default onShutdown: that exits the process). */
function recordingDriver(context: Context, extra: ExecutorDriverOptions = {}) {
  const seen = {
    launched: [] as string[],
    killed: [] as Array<[string, number]>,
    messages: [] as string[],
    shutdowns: [] as number[],
    errors: [] as Error[],
  };
  const driver = new ExecutorDriver({
    onLaunch: (task) => void seen.launched.push(task.taskId),
    onKill: (taskId, gracePeriodMs) => void seen.killed.push([taskId, gracePeriodMs]),
    onMessage: (data) => void seen.messages.push(Buffer.from(data).toString()),
    onShutdown: (gracePeriodMs) => void seen.shutdowns.push(gracePeriodMs),
    onError: (error) => void seen.errors.push(error),
    ...extra,
  });
  context.drivers.push(driver);
  return { driver, seen };
}

function subscribed(agent: FakeAgent, heartbeatIntervalMs = 5_000): void {
  agent.send({
    type: 'SUBSCRIBED',
    agentId: IDS.agentId,
    containerId: IDS.containerId,
    executorInfo: { executorId: IDS.executorId, frameworkId: IDS.frameworkId, command: { value: 'x' } },
    frameworkInfo: { id: IDS.frameworkId, name: 'test', checkpoint: false },
    heartbeatIntervalMs,
  });
}

async function rejection(promise: Promise<unknown>, what: string): Promise<LifelineError> {
  const error = await withTimeout(
    promise.then(
      () => undefined,
      (e: unknown) => e,
    ),
    10_000,
    what,
  );
  assert.instance(error, LifelineError, `${what} should reject with a LifelineError, got ${String(error)}`);
  return error as LifelineError;
}

Driver('start() subscribes with the IDs and token of its environment, deletes the token and resolves on SUBSCRIBED', async (context) => {
  const agent = await startAgent(context, { subscribe: false });
  const { driver } = recordingDriver(context);
  let started = false;
  const starting = driver.start().then(() => (started = true));
  const subscribe = await agent.waitForCall('SUBSCRIBE');
  assert.is(subscribe.frameworkId, IDS.frameworkId);
  assert.is(subscribe.executorId, IDS.executorId);
  assert.is(subscribe.containerId, IDS.containerId);
  assert.is(subscribe.token, IDS.token);
  assert.is(subscribe.protocol, EXECUTOR_PROTOCOL_VERSION);
  assert.equal(subscribe.unacknowledgedTasks, []);
  assert.equal(subscribe.unacknowledgedUpdates, []);
  assert.is(process.env.LIFELINE_EXECUTOR_TOKEN, undefined, 'the token is deleted from process.env');
  assert.is(process.env.LIFELINE_EXECUTOR_ID, IDS.executorId, 'the other variables stay');
  assert.is(started, false, 'start() has not resolved before SUBSCRIBED');
  assert.is(driver.state, 'SUBSCRIBING');
  subscribed(agent);
  await withTimeout(starting, 5_000, 'start() after SUBSCRIBED');
  assert.is(driver.state, 'SUBSCRIBED');
  await driver.stop();
  assert.is(driver.state, 'STOPPED');
  assert.equal(agent.invalid, []);
});

Driver('an environment given to the driver (internals.env) is read instead of process.env, and loses its token', async (context) => {
  const agent = await FakeAgent.start(context.dir, { subscribe: false });
  context.agent = agent;
  const env: NodeJS.ProcessEnv = { ...agent.env(context.dir), LIFELINE_EXECUTOR_ID: 'executor-given' };
  assert.is(process.env.LIFELINE_EXECUTOR_ID, undefined, 'process.env has no executor environment');
  const driver = new ExecutorDriver({ onShutdown: () => {}, onError: () => {} }, { env });
  context.drivers.push(driver);
  const starting = driver.start();
  const subscribe = await agent.waitForCall('SUBSCRIBE');
  assert.is(subscribe.executorId, 'executor-given', 'the IDs come from the given environment');
  assert.is(subscribe.token, IDS.token);
  assert.is(env.LIFELINE_EXECUTOR_TOKEN, undefined, 'the token is deleted from the given environment');
  assert.is(env.LIFELINE_EXECUTOR_ID, 'executor-given', 'the other variables stay');
  subscribed(agent);
  await withTimeout(starting, 5_000, 'start() after SUBSCRIBED');
  assert.is(driver.state, 'SUBSCRIBED');
});

Driver('update() resolves only once the agent acknowledges it, with several in flight', async (context) => {
  const agent = await startAgent(context, { acknowledge: false });
  const { driver } = recordingDriver(context);
  await driver.start();
  const before = Date.now();
  const acknowledged: number[] = [];
  const updates = [0, 1, 2].map((i) =>
    driver.update({ taskId: 'task-1', state: 'TASK_RUNNING', message: `progress ${i}` }).then(() => void acknowledged.push(i)),
  );
  await waitFor(() => agent.statuses().length === 3, { message: 'three UPDATE calls' });
  const statuses = agent.statuses();
  assert.equal(statuses.map((status) => status.message), ['progress 0', 'progress 1', 'progress 2'], 'sent in order');
  assert.is(new Set(statuses.map((status) => status.uuid)).size, 3, 'each update has its own uuid');
  for (const status of statuses) {
    assert.is(status.source, 'SOURCE_EXECUTOR');
    assert.ok(status.timestamp >= before && status.timestamp <= Date.now(), 'timestamp in milliseconds since the epoch');
  }
  assert.equal(acknowledged, [], 'nothing resolves before its ACKNOWLEDGED');
  agent.acknowledge(statuses[1]!);
  await waitFor(() => acknowledged.length === 1, { message: 'update 1 to resolve' });
  assert.equal(acknowledged, [1], 'only the acknowledged update resolves');
  agent.acknowledge(statuses[2]!);
  agent.acknowledge(statuses[0]!);
  await withTimeout(Promise.all(updates), 5_000, 'all updates');
  assert.equal(acknowledged.sort(), [0, 1, 2]);
});

Driver('SUBSCRIBE carries the updates made while connecting, in order, and they resolve on their acknowledgements', async (context) => {
  const agent = await startAgent(context);
  const { driver } = recordingDriver(context);
  const starting = driver.start();
  const first = driver.update({ taskId: 'task-1', state: 'TASK_STARTING' });
  const second = driver.update({ taskId: 'task-1', state: 'TASK_RUNNING' });
  await starting;
  await withTimeout(Promise.all([first, second]), 5_000, 'updates carried in SUBSCRIBE');
  const subscribe = await agent.waitForCall('SUBSCRIBE');
  assert.equal(subscribe.unacknowledgedUpdates.map((status) => status.state), ['TASK_STARTING', 'TASK_RUNNING']);
  assert.is(agent.calls.filter((call) => call.type === 'UPDATE').length, 0, 'not sent a second time as UPDATE');
});

Driver('updates made between SUBSCRIBE and SUBSCRIBED go out after SUBSCRIBED', async (context) => {
  const agent = await startAgent(context, { subscribe: false });
  const { driver } = recordingDriver(context);
  const starting = driver.start();
  await agent.waitForCall('SUBSCRIBE');
  const update = driver.update({ taskId: 'task-1', state: 'TASK_RUNNING' });
  subscribed(agent);
  await starting;
  await withTimeout(update, 5_000, 'update made while subscribing');
  assert.equal(agent.calls.map((call) => call.type).filter((type) => type !== 'HEARTBEAT'), ['SUBSCRIBE', 'UPDATE']);
});

Driver('LAUNCH, KILL and MESSAGE reach their callbacks, and sendMessage() reaches the agent', async (context) => {
  const agent = await startAgent(context, { launch: commandTask('task-1', 'true') });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await waitFor(() => seen.launched.length === 1, { message: 'onLaunch' });
  assert.equal(seen.launched, ['task-1']);
  agent.send({ type: 'KILL', taskId: 'task-1', gracePeriodMs: 700 });
  agent.send({ type: 'KILL', taskId: 'task-1' });
  agent.send({ type: 'MESSAGE', data: Buffer.from('hello executor') });
  await waitFor(() => seen.messages.length === 1, { message: 'onMessage' });
  assert.equal(seen.killed, [['task-1', 700], ['task-1', 2_000]], 'without gracePeriodMs, the environment grace period');
  assert.equal(seen.messages, ['hello executor']);
  driver.sendMessage(Buffer.from('hello scheduler'));
  const message = await agent.waitForCall('MESSAGE');
  assert.is(Buffer.from(message.data).toString(), 'hello scheduler');
  assert.equal(seen.errors, []);
});

Driver('SHUTDOWN calls onShutdown once with its grace period', async (context) => {
  const agent = await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  agent.send({ type: 'SHUTDOWN', gracePeriodMs: 1_234 });
  agent.send({ type: 'SHUTDOWN', gracePeriodMs: 99 });
  await waitFor(() => seen.shutdowns.length > 0, { message: 'onShutdown' });
  await driver.stop();
  assert.equal(seen.shutdowns, [1_234]);
});

Driver('a malformed event calls onError with ERR_PROTOCOL, closes the connection with 1008 and shuts down', async (context) => {
  const agent = await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  agent.sendRaw(encode({ type: 'LAUNCH', task: { taskId: '../x', name: 'x' } }));
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown' });
  assert.is(seen.errors.length, 1);
  assert.is((seen.errors[0] as LifelineError).code, 'ERR_PROTOCOL');
  assert.match(seen.errors[0]!.message, /LAUNCH/);
  assert.is(await agent.waitForClose(), 1008);
  assert.equal(seen.shutdowns, [2_000], 'onShutdown is called once, with the environment grace period');
});

Driver('bytes that are not msgpack are a protocol error too', async (context) => {
  const agent = await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  agent.sendRaw(Buffer.from([0xc1, 0xc1, 0xc1]));
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown' });
  assert.is((seen.errors[0] as LifelineError).code, 'ERR_PROTOCOL');
  assert.is(await agent.waitForClose(), 1008);
});

Driver('an event of a type a newer agent added is ignored: no error, no shutdown, the next LAUNCH goes through (issue 11)', async (context) => {
  const agent = await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  agent.sendRaw(encode({ type: 'FUTURE_EVENT', anything: [1, 2] }));
  agent.send({ type: 'LAUNCH', task: commandTask('task-after', 'true') });
  await waitFor(() => seen.launched.length === 1, { message: 'onLaunch after the unknown event' });
  assert.equal(seen.launched, ['task-after']);
  assert.equal(seen.errors, []);
  assert.equal(seen.shutdowns, []);
  assert.is(driver.state, 'SUBSCRIBED');
});

Driver("the agent's ERROR reaches onError with its code, then the driver shuts down", async (context) => {
  const agent = await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  agent.send({ type: 'ERROR', code: 'ERR_PROTOCOL', message: 'field status.taskId is bad' });
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown' });
  assert.is((seen.errors[0] as LifelineError).code, 'ERR_PROTOCOL');
  assert.match(seen.errors[0]!.message, /status\.taskId/);
});

Driver('a connection the agent drops shuts a non-checkpointing executor down at once, without reconnecting', async (context) => {
  const agent = await startAgent(context, {}, { LIFELINE_CHECKPOINT: '0' });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  agent.dropConnections();
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown after the connection broke' });
  assert.is(driver.state, 'DISCONNECTED');
  assert.equal(seen.errors, [], 'a lost agent is not an error');
  assert.is(driver.diagnostics.attempts, 1, 'no attempt to reconnect');
  assert.is(driver.diagnostics.recovering, false);
  assert.is(agent.calls.filter((call) => call.type === 'SUBSCRIBE').length, 1);
});

Driver('the driver sends heartbeats and counts three silent intervals as a broken connection', async (context) => {
  const agent = await startAgent(context, { heartbeatIntervalMs: 40, heartbeat: false });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown after the agent went silent' });
  assert.ok(agent.calls.some((call) => call.type === 'HEARTBEAT'), 'the executor sent HEARTBEAT');
  await agent.waitForClose();
});

Driver('an agent that answers its heartbeats keeps the connection up', async (context) => {
  const agent = await startAgent(context, { heartbeatIntervalMs: 20 });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await waitFor(() => agent.calls.filter((call) => call.type === 'HEARTBEAT').length >= 10, { message: 'ten heartbeats' });
  assert.equal(seen.shutdowns, []);
  await withTimeout(driver.update({ taskId: 'task-1', state: 'TASK_RUNNING' }), 5_000, 'update');
});

Driver('stop() rejects the updates still waiting and refuses new ones', async (context) => {
  await startAgent(context, { acknowledge: false });
  const { driver } = recordingDriver(context);
  await driver.start();
  const waiting = rejection(driver.update({ taskId: 'task-1', state: 'TASK_RUNNING' }), 'waiting update');
  await driver.stop();
  assert.is((await waiting).code, 'ERR_DRIVER_STOPPED');
  assert.is((await rejection(driver.update({ taskId: 'task-1', state: 'TASK_FINISHED' }), 'update after stop')).code, 'ERR_DRIVER_STOPPED');
  assert.throws(() => driver.sendMessage(Buffer.from('x')), /not subscribed/);
  await context.agent!.waitForClose();
});

Driver('stop() while start() is connecting rejects start() with ERR_DRIVER_STOPPED', async (context) => {
  await startAgent(context);
  const { driver } = recordingDriver(context);
  const starting = rejection(driver.start(), 'start()');
  assert.is(driver.state, 'CONNECTING');
  await driver.stop();
  assert.is((await starting).code, 'ERR_DRIVER_STOPPED');
  assert.is(driver.state, 'STOPPED');
});

Driver('after stop() the driver holds nothing: a process that starts and stops it exits by itself', async (context) => {
  const agent = await FakeAgent.start(context.dir, { acknowledge: false, heartbeatIntervalMs: 20 });
  context.agent = agent;
  const proc = new Proc(process.execPath, [path.join(FIXTURES, 'executor-start-stop.mjs')], {
    env: { ...process.env, ...agent.env(context.dir) },
  });
  context.procs.push(proc);
  const exit = await proc.waitForExit(10_000);
  assert.equal(exit, { code: 0, signal: null }, proc.stderr);
  assert.match(proc.stdout, /pending update rejected: ERR_DRIVER_STOPPED/);
  assert.match(proc.stdout, /stopped/);
  assert.ok(agent.calls.some((call) => call.type === 'UPDATE'));
});

Driver('start() rejects with the agent ERROR code when the subscription is refused', async (context) => {
  const agent = await startAgent(context, { subscribe: false });
  const { driver, seen } = recordingDriver(context);
  const starting = driver.start();
  await agent.waitForCall('SUBSCRIBE');
  agent.send({ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'wrong token' });
  const error = await rejection(starting, 'start()');
  assert.is(error.code, 'ERR_UNAUTHORIZED');
  assert.equal(seen.errors, [], 'start() reports it, not onError');
  assert.is((await rejection(driver.update({ taskId: 't', state: 'TASK_RUNNING' }), 'update')).code, 'ERR_DRIVER_STOPPED');
});

Driver('start() rejects with ERR_UNKNOWN_EXECUTOR when the agent answers SUBSCRIBE with SHUTDOWN', async (context) => {
  const agent = await startAgent(context, { subscribe: false });
  const { driver, seen } = recordingDriver(context);
  const starting = driver.start();
  await agent.waitForCall('SUBSCRIBE');
  agent.send({ type: 'SHUTDOWN', gracePeriodMs: 0 });
  assert.is((await rejection(starting, 'start()')).code, 'ERR_UNKNOWN_EXECUTOR');
  assert.equal(seen.shutdowns, []);
});

Driver('start() rejects with ERR_CONNECTION naming the socket when no agent listens', async (context) => {
  Object.assign(process.env, {
    LIFELINE_AGENT_ENDPOINT: path.join(context.dir, 'nobody.sock'),
    LIFELINE_AGENT_ID: IDS.agentId,
    LIFELINE_FRAMEWORK_ID: IDS.frameworkId,
    LIFELINE_EXECUTOR_ID: IDS.executorId,
    LIFELINE_CONTAINER_ID: IDS.containerId,
    LIFELINE_DIRECTORY: context.dir,
    LIFELINE_CHECKPOINT: '0',
    LIFELINE_EXECUTOR_TOKEN: IDS.token,
  });
  const { driver } = recordingDriver(context);
  const error = await rejection(driver.start(), 'start()');
  assert.is(error.code, 'ERR_CONNECTION');
  assert.match(error.message, /nobody\.sock/);
});

Driver('start() rejects with ERR_ENVIRONMENT naming a missing or bad variable, and still deletes the token', async (context) => {
  const agent = await startAgent(context);
  const good = agent.env(context.dir);
  for (const variable of ['LIFELINE_AGENT_ENDPOINT', 'LIFELINE_FRAMEWORK_ID', 'LIFELINE_EXECUTOR_ID', 'LIFELINE_CONTAINER_ID', 'LIFELINE_DIRECTORY', 'LIFELINE_EXECUTOR_TOKEN']) {
    Object.assign(process.env, good);
    delete process.env[variable];
    const error = await rejection(new ExecutorDriver({}).start(), `start() without ${variable}`);
    assert.is(error.code, 'ERR_ENVIRONMENT');
    assert.match(error.message, new RegExp(`${variable} is not set`));
  }
  Object.assign(process.env, good, { LIFELINE_EXECUTOR_ID: '../escape' });
  const error = await rejection(new ExecutorDriver({}).start(), 'start() with a bad ID');
  assert.match(error.message, /LIFELINE_EXECUTOR_ID is "\.\.\/escape"/);
  assert.is(process.env.LIFELINE_EXECUTOR_TOKEN, undefined, 'the token is deleted even when start() fails');
  assert.is(agent.connections, 0, 'nothing connected');
});

Driver('options and updates are checked up front, naming the bad option', async (context) => {
  assert.throws(() => new ExecutorDriver({ onLaunch: 5 as unknown as () => void }), /option onLaunch must be a function, got 5/);
  assert.throws(() => new ExecutorDriver({ onLanch: () => {} } as unknown as ExecutorDriverOptions), /onLanch/);
  await startAgent(context);
  const { driver } = recordingDriver(context);
  assert.is((await rejection(driver.update({ taskId: 't', state: 'TASK_RUNNING' }), 'update before start')).code, 'ERR_NOT_SUBSCRIBED');
  await driver.start();
  const badState = await rejection(driver.update({ taskId: 'task-1', state: 'RUNNING' as TaskStatus['state'] }), 'bad state');
  assert.is(badState.code, 'ERR_INVALID_OPTION');
  assert.match(badState.message, /option state .*"RUNNING"/);
  assert.match((await rejection(driver.update({ taskId: 'a/b', state: 'TASK_RUNNING' }), 'bad taskId')).message, /taskId.*"a\/b"/);
  assert.throws(() => driver.sendMessage('text' as unknown as Uint8Array), /option data must be a Uint8Array/);
});

Driver.run();
