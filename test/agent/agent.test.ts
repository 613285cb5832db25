// A real Agent in this process, against a fake master (a ws server) and fake executors (raw ws
// clients on the agent's real Unix socket); executor processes are tiny fixture scripts.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent, type AgentOptions } from '../../src/agent/index.js';
import { createLogger } from '../../src/log.js';
import { encode, type FrameworkInfo, type TaskInfo, type TaskState } from '../../src/protocol/index.js';
import { FIXTURES, Proc, freePort, getJson, isAlive, removeDir, tempDir, waitFor } from '../helpers.js';
import { FakeExecutor, FakeMaster } from './fakes.js';

const FIXTURE = path.join(FIXTURES, 'agent-executor.mjs');

interface Recorded {
  pid: number;
  pgid: number;
  sid: number;
  cwd: string;
  env: Record<string, string>;
}

interface Context {
  dir: string;
  master: FakeMaster | undefined;
  agent: Agent | undefined;
  executors: FakeExecutor[];
  pids: number[];
  procs: Proc[];
}

const context: Context = { dir: '', master: undefined, agent: undefined, executors: [], pids: [], procs: [] };

async function startAgent(options: Partial<AgentOptions> = {}, masterAddress?: string): Promise<Agent> {
  const agent = new Agent({
    master: masterAddress ?? context.master!.address,
    workDir: path.join(context.dir, 'work'),
    runtimeDir: path.join(context.dir, 'rt'),
    port: 0,
    resources: { cpus: 4, mem: 4096, disk: 10_000 },
    hostname: 'test-host',
    registrationBackoffFactorMs: 50,
    executorShutdownGracePeriodMs: 200,
    statusUpdateRetryIntervalMinMs: 60_000,
    statusUpdateRetryIntervalMaxMs: 60_000,
    logger: process.env.LIFELINE_TEST_LOG ? await createLogger('agent-test', process.env.LIFELINE_TEST_LOG) : undefined,
    ...options,
  });
  context.agent ??= agent;
  await agent.start();
  return agent;
}

async function startRegistered(options: Partial<AgentOptions> = {}): Promise<{ agent: Agent; master: FakeMaster }> {
  context.master = await FakeMaster.start();
  const agent = await startAgent(options);
  await waitFor(() => agent.status === 'RUNNING', { message: 'the agent to register' });
  return { agent, master: context.master };
}

function stateUrl(agent: Agent, endpoint = 'state'): string {
  return `http://127.0.0.1:${agent.httpAddress!.port}/${endpoint}`;
}

function framework(id = 'f1', checkpoint = false): FrameworkInfo & { id: string } {
  return { id, name: `framework ${id}`, checkpoint };
}

/** A task for a custom executor running the fixture (`mode`: exit code, or 'wait'). */
function fixtureTask(taskId: string, executorId: string, mode: string, frameworkId = 'f1'): { task: TaskInfo; out: string } {
  const out = path.join(context.dir, `${executorId}-${randomUUID().slice(0, 8)}.json`);
  const value = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(FIXTURE)} ${JSON.stringify(out)} ${mode}`;
  return {
    out,
    task: {
      taskId,
      name: `task ${taskId}`,
      agentId: 'agent-1',
      resources: { cpus: 0.1, mem: 32 },
      executor: { executorId, frameworkId, command: { value } },
    },
  };
}

async function readRecord(out: string): Promise<Recorded> {
  const record = await waitFor(() => (fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as Recorded) : undefined), {
    message: `the fixture executor to record ${out}`,
  });
  context.pids.push(record.pid);
  return record;
}

/** Runs a fixture executor that stays alive, and subscribes a fake executor in its name. */
async function launchAndSubscribe(master: FakeMaster, agent: Agent, taskId = 't1', executorId = 'e1', fw = framework()) {
  const { task, out } = fixtureTask(taskId, executorId, 'wait', fw.id);
  master.send({ type: 'RUN_TASK', frameworkInfo: fw, task });
  const record = await readRecord(out);
  const executor = await connect(agent);
  executor.send(subscribeCall(record));
  await executor.waitForEvent('SUBSCRIBED');
  await executor.waitForEvent('LAUNCH', (event) => (event.task as TaskInfo).taskId === taskId);
  return { executor, record, task };
}

async function connect(agent: Agent): Promise<FakeExecutor> {
  const executor = await FakeExecutor.connect(agent.socketPath);
  context.executors.push(executor);
  return executor;
}

function subscribeCall(record: Recorded, overrides: Record<string, unknown> = {}) {
  return {
    type: 'SUBSCRIBE',
    frameworkId: record.env.LIFELINE_FRAMEWORK_ID,
    executorId: record.env.LIFELINE_EXECUTOR_ID,
    containerId: record.env.LIFELINE_CONTAINER_ID,
    token: record.env.LIFELINE_EXECUTOR_TOKEN,
    protocol: 1,
    unacknowledgedTasks: [],
    unacknowledgedUpdates: [],
    ...overrides,
  };
}

function update(taskId: string, state: TaskState, uuid = randomUUID()) {
  return { type: 'UPDATE', status: { taskId, state, uuid, timestamp: Date.now(), source: 'SOURCE_EXECUTOR' } };
}

async function agentState(agent: Agent) {
  const { status, body } = await getJson(stateUrl(agent));
  assert.is(status, 200);
  return body as ReturnType<Agent['state']>;
}

const test = suite('Agent');

test.before.each(() => {
  context.dir = tempDir('ll-ag-');
});

test.after.each(async () => {
  for (const executor of context.executors.splice(0)) executor.terminate();
  // Once the agent has seen those connections go, it signals their processes instead of waiting
  // for them to obey a SHUTDOWN that nobody will read.
  const agent = context.agent;
  if (agent?.httpAddress) {
    await waitFor(async () => /lifeline_agent_executor_connections 0/.test(await agent.metrics.registry.getSingleMetricAsString('lifeline_agent_executor_connections')), {
      message: 'the agent to see its executor connections close',
    });
  }
  // Without a master there is nothing to wait for: shutdown() kills what is left and returns.
  await context.master?.close();
  context.master = undefined;
  await context.agent?.shutdown();
  context.agent = undefined;
  await Promise.all(context.procs.splice(0).map((proc) => proc.stop()));
  for (const pid of context.pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  removeDir(context.dir);
});

test('registers with a master that starts late, then answers PING, /state, /health and /metrics', async () => {
  const port = await freePort();
  const agent = await startAgent({}, `127.0.0.1:${port}`);
  const before = await agentState(agent);
  assert.equal(before, { id: null, status: 'DISCONNECTED', recoveryErrors: 0, frameworks: [] });
  context.master = await FakeMaster.start(port);
  const register = await context.master.waitForCall('REGISTER');
  // httpAddress (issue 15): where the master's operators find this agent's /state and /files.
  assert.equal(register.agentInfo, { hostname: 'test-host', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true, httpAddress: `127.0.0.1:${agent.httpAddress!.port}` });
  await waitFor(() => agent.status === 'RUNNING', { message: 'RUNNING' });
  assert.equal(await agentState(agent), { id: 'agent-1', status: 'RUNNING', recoveryErrors: 0, frameworks: [] });
  context.master.send({ type: 'PING' });
  await context.master.waitForCall('PONG');
  assert.equal(await getJson(stateUrl(agent, 'health')), { status: 200, body: { status: 'ok' } });
  const metrics = await (await fetch(stateUrl(agent, 'metrics'))).text();
  assert.match(metrics, /lifeline_agent_registered 1/);
  assert.match(metrics, /lifeline_agent_registrations_total\{type="REGISTER"\} 1/);
});

test('makes the executor socket 0600 in a 0700 directory, fixing the mode of an existing one', async () => {
  fs.mkdirSync(path.join(context.dir, 'rt', 'executors'), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.join(context.dir, 'rt', 'executors'), 0o755);
  const { agent } = await startRegistered();
  assert.is(agent.socketPath, path.join(context.dir, 'rt', 'executors', 'agent.sock'));
  assert.is(fs.statSync(path.dirname(agent.socketPath)).mode & 0o777, 0o700);
  const socket = fs.lstatSync(agent.socketPath);
  assert.ok(socket.isSocket());
  assert.is(socket.mode & 0o777, 0o600);
});

test('refuses to start on the socket of a live agent, and replaces a stale socket file', async () => {
  const { agent } = await startRegistered();
  const second = new Agent({ master: context.master!.address, workDir: path.join(context.dir, 'w2'), runtimeDir: path.join(context.dir, 'rt'), port: 0, resources: { cpus: 1, mem: 1, disk: 1 } });
  try {
    await second.start();
    assert.unreachable('a second agent started on the same socket');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_AGENT_ALREADY_RUNNING');
  }
  await second.closed;
  assert.ok(fs.lstatSync(agent.socketPath).isSocket(), 'the first agent keeps its socket');
  (await connect(agent)).terminate();

  // A socket file left behind by a killed process is probed, removed and replaced.
  const staleDir = path.join(context.dir, 'rt2');
  const stalePath = path.join(staleDir, 'executors', 'agent.sock');
  fs.mkdirSync(path.dirname(stalePath), { recursive: true, mode: 0o700 });
  const proc = new Proc(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  context.procs.push(proc);
  await proc.waitForExit();
  assert.ok(fs.lstatSync(stalePath).isSocket());
  const third = new Agent({ master: context.master!.address, workDir: path.join(context.dir, 'w3'), runtimeDir: staleDir, port: 0, resources: { cpus: 1, mem: 1, disk: 1 } });
  await third.start();
  try {
    (await connect(third)).terminate();
  } finally {
    await third.stop();
  }
});

test('launches a custom executor detached, in its sandbox, with the DESIGN §2 environment', async () => {
  const { agent, master } = await startRegistered();
  const { task, out } = fixtureTask('t1', 'e1', '0');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework(), task });
  const record = await readRecord(out);
  const env = record.env;
  const sandbox = path.join(context.dir, 'work', 'sandboxes', 'agent-1', 'frameworks', 'f1', 'executors', 'e1', 'runs', env.LIFELINE_CONTAINER_ID!);
  assert.equal(Object.keys(env).sort(), [
    'LIFELINE_AGENT_ENDPOINT', 'LIFELINE_AGENT_ID', 'LIFELINE_BACKLOG_MAX_BYTES', 'LIFELINE_BACKLOG_MAX_UPDATES', 'LIFELINE_CHECKPOINT', 'LIFELINE_CONTAINER_ID', 'LIFELINE_DIRECTORY',
    'LIFELINE_EXECUTOR_ID', 'LIFELINE_EXECUTOR_TOKEN', 'LIFELINE_FRAMEWORK_ID', 'LIFELINE_SHUTDOWN_GRACE_PERIOD',
  ]);
  assert.equal([env.LIFELINE_BACKLOG_MAX_UPDATES, env.LIFELINE_BACKLOG_MAX_BYTES], ['10000', '16777216']);
  assert.is(env.LIFELINE_AGENT_ENDPOINT, agent.socketPath);
  assert.is(env.LIFELINE_AGENT_ID, 'agent-1');
  assert.is(env.LIFELINE_FRAMEWORK_ID, 'f1');
  assert.is(env.LIFELINE_EXECUTOR_ID, 'e1');
  assert.match(env.LIFELINE_CONTAINER_ID!, /^[0-9a-f-]{36}$/);
  assert.is(env.LIFELINE_DIRECTORY, sandbox);
  assert.is(env.LIFELINE_CHECKPOINT, '0');
  assert.is(env.LIFELINE_SHUTDOWN_GRACE_PERIOD, '200ms');
  assert.match(env.LIFELINE_EXECUTOR_TOKEN!, /^[0-9a-f]{64}$/);
  assert.is(record.cwd, sandbox);
  assert.is(record.pgid, record.pid, 'the executor leads its own process group');
  assert.is(record.sid, record.pid, 'and its own session');
  assert.is.not(record.pgid, process.pid);
  // It exited 0 without a terminal update: its task failed.
  const failed = await master.waitForStatus('t1', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.is(failed.source, 'SOURCE_AGENT');
  assert.is(failed.executorId, 'e1');
  assert.is(failed.agentId, 'agent-1');
  assert.match(failed.message ?? '', /exited with code 0/);
  await waitFor(() => fs.readFileSync(path.join(sandbox, 'stdout'), 'utf8').includes(`agent-executor fixture ${record.pid} started`), { message: 'stdout in the sandbox' });
  assert.match(fs.readFileSync(path.join(sandbox, 'stderr'), 'utf8'), /writes to stderr/);
});

test('gives an executor of a checkpointing framework the recovery timeout and subscription backoff', async () => {
  const { master } = await startRegistered({ recoveryTimeoutMs: 90_000, executorReregistrationTimeoutMs: 4_000 });
  const { task, out } = fixtureTask('t1', 'e1', '0', 'f2');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework('f2', true), task });
  const { env } = await readRecord(out);
  assert.is(env.LIFELINE_CHECKPOINT, '1');
  assert.is(env.LIFELINE_RECOVERY_TIMEOUT, '90secs');
  assert.is(env.LIFELINE_SUBSCRIPTION_BACKOFF_MAX, '1secs');
  await master.waitForStatus('t1', 'TASK_FAILED');
});

test('reports TASK_FAILED naming the exit code when an executor process exits', async () => {
  const { master } = await startRegistered();
  const { task, out } = fixtureTask('t3', 'e3', '3');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework(), task });
  await readRecord(out);
  const failed = await master.waitForStatus('t3', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.match(failed.message ?? '', /exited with code 3/);
});

test('subscribes an executor, launches its tasks, acknowledges updates and forwards each uuid once', async () => {
  const { agent, master } = await startRegistered();
  master.autoAck = false;
  const { executor, record } = await launchAndSubscribe(master, agent);
  const subscribed = executor.eventsOf('SUBSCRIBED')[0]!;
  assert.is(subscribed.agentId, 'agent-1');
  assert.is(subscribed.containerId, record.env.LIFELINE_CONTAINER_ID);
  assert.is((subscribed.executorInfo as { executorId: string }).executorId, 'e1');
  assert.is((subscribed.frameworkInfo as { id: string }).id, 'f1');
  assert.is(subscribed.heartbeatIntervalMs, 5_000);
  let state = await agentState(agent);
  assert.equal(state.frameworks, [{ id: 'f1', checkpoint: false, executors: [{ id: 'e1', containerId: record.env.LIFELINE_CONTAINER_ID!, pid: record.pid, state: 'RUNNING', directory: record.cwd, tasks: [{ id: 't1', state: 'TASK_STAGING' }], protocol: 1, release: '0.1.0' }] }]);

  const first = update('t1', 'TASK_RUNNING');
  executor.send(first);
  await executor.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === first.status.uuid);
  const forwarded = await master.waitForStatus('t1', 'TASK_RUNNING');
  assert.equal({ ...forwarded }, { ...first.status, agentId: 'agent-1', executorId: 'e1' });
  master.acknowledge('f1', 't1', first.status.uuid);

  // The same uuid again (an executor that missed the ACKNOWLEDGED): acknowledged again, not forwarded.
  executor.send(first);
  await waitFor(() => executor.eventsOf('ACKNOWLEDGED').filter((event) => event.uuid === first.status.uuid).length === 2, { message: 'a second ACKNOWLEDGED' });
  const last = update('t1', 'TASK_FINISHED');
  executor.send(last);
  await executor.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === last.status.uuid);
  await master.waitForStatus('t1', 'TASK_FINISHED');
  assert.is(master.statusUpdates().filter((status) => status.uuid === first.status.uuid).length, 1, 'the duplicate was not forwarded');

  // A second task for the same (subscribed) executor is launched on it at once.
  master.send({ type: 'RUN_TASK', frameworkInfo: framework(), task: { ...fixtureTask('t2', 'e1', 'wait').task } });
  await executor.waitForEvent('LAUNCH', (event) => (event.task as TaskInfo).taskId === 't2');
  state = await agentState(agent);
  assert.equal(state.frameworks[0]!.executors[0]!.tasks, [{ id: 't1', state: 'TASK_FINISHED' }, { id: 't2', state: 'TASK_STAGING' }]);
  const metrics = await (await fetch(stateUrl(agent, 'metrics'))).text();
  assert.match(metrics, /lifeline_agent_status_updates_duplicate_total 1/);
});

test('takes the updates replayed in a re-SUBSCRIBE like UPDATEs, and delivers a kill asked for meanwhile', async () => {
  const { agent, master } = await startRegistered();
  const { executor, record } = await launchAndSubscribe(master, agent);
  const running = update('t1', 'TASK_RUNNING');
  executor.send(running);
  await executor.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === running.status.uuid);
  executor.terminate();
  await waitFor(async () => /lifeline_agent_executor_connections 0/.test(await agent.metrics.registry.getSingleMetricAsString('lifeline_agent_executor_connections')), {
    message: 'the agent to see the connection close',
  });
  // Asked for while the executor is away: remembered, and sent when it subscribes again (or on
  // the new connection, should the SUBSCRIBE overtake the master's frame).
  master.send({ type: 'KILL_TASK', frameworkId: 'f1', taskId: 't1' });
  await master.waitForStatus('t1', 'TASK_RUNNING');

  const killing = update('t1', 'TASK_KILLING');
  const again = await connect(agent);
  again.send(subscribeCall(record, {
    unacknowledgedTasks: [fixtureTask('t1', 'e1', 'wait').task],
    unacknowledgedUpdates: [running.status, killing.status],
  }));
  await again.waitForEvent('SUBSCRIBED');
  await again.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === running.status.uuid);
  await again.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === killing.status.uuid);
  const kill = await again.waitForEvent('KILL');
  assert.is(kill.taskId, 't1');
  assert.is(again.eventsOf('LAUNCH').length, 0, 'a task the executor already has is not launched again');
  await master.waitForStatus('t1', 'TASK_KILLING');
  assert.is(master.statusUpdates().filter((status) => status.uuid === running.status.uuid).length, 1);
});

test('launches a task again when a re-SUBSCRIBE does not report it: its LAUNCH went to a connection the executor had given up on', async () => {
  const { agent, master } = await startRegistered();
  // The executor's handshake timed out (an overloaded node) and it closed this connection before
  // reading the SUBSCRIBED and LAUNCH that the agent sent on it.
  const { executor, record } = await launchAndSubscribe(master, agent);
  executor.terminate();
  const noConnection = async () => /lifeline_agent_executor_connections 0/.test(await agent.metrics.registry.getSingleMetricAsString('lifeline_agent_executor_connections'));
  await waitFor(noConnection, { message: 'the agent to see the connection close' });
  const again = await connect(agent);
  again.send(subscribeCall(record));
  await again.waitForEvent('SUBSCRIBED');
  const launch = await again.waitForEvent('LAUNCH');
  assert.is((launch.task as TaskInfo).taskId, 't1');

  // Once the task has an update, it is known to have arrived: a later re-SUBSCRIBE does not launch it again.
  const running = update('t1', 'TASK_RUNNING');
  again.send(running);
  await again.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === running.status.uuid);
  again.terminate();
  await waitFor(noConnection, { message: 'the agent to see the second connection close' });
  const third = await connect(agent);
  const probe = update('t1', 'TASK_RUNNING');
  third.send(subscribeCall(record, { unacknowledgedUpdates: [probe.status] }));
  await third.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === probe.status.uuid);
  assert.is(third.eventsOf('LAUNCH').length, 0, 'a task with an update is not launched again');
});

test('sends KILL with the task\'s grace period to a subscribed executor', async () => {
  const { agent, master } = await startRegistered();
  const { executor } = await launchAndSubscribe(master, agent);
  master.send({ type: 'KILL_TASK', frameworkId: 'f1', taskId: 't1' });
  const kill = await executor.waitForEvent('KILL');
  assert.equal(kill, { type: 'KILL', taskId: 't1', gracePeriodMs: 200 });
});

test('kills a task whose executor has not subscribed yet: TASK_KILLED during launch, executor stopped', async () => {
  const { agent, master } = await startRegistered();
  const { task, out } = fixtureTask('t1', 'e1', 'wait');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework(), task });
  const record = await readRecord(out);
  master.send({ type: 'KILL_TASK', frameworkId: 'f1', taskId: 't1' });
  const killed = await master.waitForStatus('t1', 'TASK_KILLED');
  assert.is(killed.reason, 'REASON_TASK_KILLED_DURING_LAUNCH');
  assert.is(killed.source, 'SOURCE_AGENT');
  await waitFor(() => !isAlive(record.pid), { message: 'the executor to be stopped' });
  await waitFor(async () => (await agentState(agent)).frameworks.length === 0, { message: 'the executor to be forgotten' });
  assert.equal(master.statusUpdates().map((status) => status.state), ['TASK_KILLED']);
  // Its token no longer opens anything: the run is gone, so the executor is told to shut down.
  const late = await connect(agent);
  late.send(subscribeCall(record));
  await late.waitForEvent('SHUTDOWN');
});

test('refuses a SUBSCRIBE with a wrong token with ERR_UNAUTHORIZED and close 1008', async () => {
  const { agent, master } = await startRegistered();
  const { task, out } = fixtureTask('t1', 'e1', 'wait');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework(), task });
  const record = await readRecord(out);
  const intruder = await connect(agent);
  intruder.send(subscribeCall(record, { token: 'f'.repeat(64) }));
  const error = await intruder.waitForEvent('ERROR');
  assert.is(error.code, 'ERR_UNAUTHORIZED');
  assert.is((await intruder.waitForClose()).code, 1008);
  assert.is(intruder.eventsOf('SUBSCRIBED').length, 0);
  // The real executor still gets in.
  const good = await connect(agent);
  good.send(subscribeCall(record));
  await good.waitForEvent('SUBSCRIBED');
});

test('tells an executor it does not know to SHUTDOWN', async () => {
  const { agent } = await startRegistered();
  const stranger = await connect(agent);
  stranger.send({ type: 'SUBSCRIBE', frameworkId: 'nope', executorId: 'ghost', containerId: randomUUID(), token: 'x', protocol: 1, unacknowledgedTasks: [], unacknowledgedUpdates: [] });
  const shutdown = await stranger.waitForEvent('SHUTDOWN');
  assert.is(shutdown.gracePeriodMs, 200);
  await stranger.waitForClose();
  assert.is(stranger.eventsOf('SUBSCRIBED').length, 0);
});

test('rejects malformed frames, invalid IDs and oversize frames while a good executor keeps being served', async () => {
  const { agent, master } = await startRegistered({ maxFrameBytes: 4096 });
  const { executor: good, record } = await launchAndSubscribe(master, agent);
  const expectError = async (send: (bad: FakeExecutor) => void, pattern: RegExp) => {
    const bad = await connect(agent);
    send(bad);
    const error = await bad.waitForEvent('ERROR');
    assert.is(error.code, 'ERR_PROTOCOL');
    assert.match(String(error.message), pattern);
    assert.is((await bad.waitForClose()).code, 1008);
    const ok = update('t1', 'TASK_RUNNING');
    good.send(ok);
    await good.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === ok.status.uuid);
  };
  await expectError((bad) => bad.sendRaw(Buffer.from([0x92, 0x01])), /not valid msgpack/);
  await expectError((bad) => bad.sendRaw('{"type":"SUBSCRIBE"}', false), /binary/);
  await expectError((bad) => bad.send({ type: 'NOPE' }), /first frame must be SUBSCRIBE, got NOPE/);
  await expectError((bad) => bad.send({ type: 'no pe' }), /unknown or missing type "no pe"/);
  await expectError((bad) => bad.send(['SUBSCRIBE']), /must be an object/);
  await expectError((bad) => bad.send(subscribeCall(record, { executorId: '../x' })), /executorId.*"\.\.\/x"/);
  await expectError((bad) => bad.send(subscribeCall(record, { executorId: 'a/b' })), /executorId.*"a\/b"/);
  await expectError((bad) => bad.send(subscribeCall(record, { frameworkId: '' })), /frameworkId/);
  await expectError((bad) => bad.send(subscribeCall(record, { containerId: 'a\u0001b' })), /containerId/);
  await expectError((bad) => bad.send(update('t1', 'TASK_RUNNING')), /first frame must be SUBSCRIBE, got UPDATE/);
  await expectError((bad) => bad.send({ ...update('t1', 'TASK_RUNNING'), status: { taskId: 't1', state: 'TASK_BOGUS' } }), /first frame|status\.uuid/);

  // Oversize: ws closes with 1009 before any reply.
  const big = await connect(agent);
  big.sendRaw(encode({ type: 'MESSAGE', data: new Uint8Array(8192) }));
  assert.is((await big.waitForClose()).code, 1009);
  const ok = update('t1', 'TASK_RUNNING');
  good.send(ok);
  await good.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === ok.status.uuid);

  // An UPDATE for a task that is not the executor's own closes that connection only.
  good.send(update('someone-elses-task', 'TASK_RUNNING'));
  const error = await good.waitForEvent('ERROR');
  assert.match(String(error.message), /someone-elses-task does not belong to executor e1/);
  assert.is((await good.waitForClose()).code, 1008);
  const again = await connect(agent);
  again.send(subscribeCall(record));
  await again.waitForEvent('SUBSCRIBED');
  const metrics = await (await fetch(stateUrl(agent, 'metrics'))).text();
  assert.match(metrics, /lifeline_agent_executor_frames_rejected_total\{code="ERR_PROTOCOL"\} 12/);
  assert.match(metrics, /lifeline_agent_executor_frames_rejected_total\{code="ERR_FRAME_TOO_LARGE"\} 1/);
});

test('re-registers after a broken master connection, reporting its tasks, and resends the update in flight', async () => {
  const { agent, master } = await startRegistered();
  master.autoAck = false;
  const { executor } = await launchAndSubscribe(master, agent);
  const running = update('t1', 'TASK_RUNNING');
  executor.send(running);
  await master.waitForStatus('t1', 'TASK_RUNNING');
  master.dropAgent();
  const reregister = await master.waitForCall('REREGISTER');
  assert.is(reregister.agentInfo.id, 'agent-1');
  assert.equal(reregister.frameworks.map((f) => f.id), ['f1']);
  assert.equal(reregister.executors.map((e) => e.executorId), ['e1']);
  assert.equal(reregister.tasks.map((t) => [t.task.taskId, t.state, t.unacknowledgedState, t.unacknowledgedUuid]), [['t1', 'TASK_RUNNING', 'TASK_RUNNING', running.status.uuid]]);
  await waitFor(() => master.statusUpdates().filter((status) => status.uuid === running.status.uuid).length === 2, { message: 'the update in flight to be resent at once' });
  await waitFor(() => agent.status === 'RUNNING', { message: 'RUNNING again' });
  master.acknowledge('f1', 't1', running.status.uuid);
  const next = update('t1', 'TASK_FINISHED');
  executor.send(next);
  await master.waitForStatus('t1', 'TASK_FINISHED');
});

test('relays messages between the executor and the master', async () => {
  const { agent, master } = await startRegistered();
  const { executor } = await launchAndSubscribe(master, agent);
  executor.send({ type: 'MESSAGE', data: new Uint8Array([1, 2, 3]) });
  const message = await master.waitForCall('EXECUTOR_MESSAGE');
  assert.equal({ ...message, data: [...message.data] }, { type: 'EXECUTOR_MESSAGE', frameworkId: 'f1', executorId: 'e1', data: [1, 2, 3] });
  master.send({ type: 'FRAMEWORK_MESSAGE', frameworkId: 'f1', executorId: 'e1', data: new Uint8Array([4, 5]) });
  const received = await executor.waitForEvent('MESSAGE');
  assert.equal([...(received.data as Uint8Array)], [4, 5]);
});

test('shuts a framework\'s executors down, killing an executor that outlives its grace period', async () => {
  const { agent, master } = await startRegistered();
  const { executor, record } = await launchAndSubscribe(master, agent);
  master.send({ type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'f1' });
  const shutdown = await executor.waitForEvent('SHUTDOWN');
  assert.is(shutdown.gracePeriodMs, 200);
  // The fake executor ignores it: the agent SIGKILLs the process group after grace + margin.
  await waitFor(() => !isAlive(record.pid), { message: 'the executor to be killed' });
  await waitFor(async () => (await agentState(agent)).frameworks.length === 0, { message: 'the framework to be forgotten' });
  // A framework that is gone gets no new executors.
  const late = await connect(agent);
  late.send(subscribeCall(record));
  await late.waitForEvent('SHUTDOWN');
});

test('shutdown() stops every executor, forwards their last updates, unregisters and closes', async () => {
  const { agent, master } = await startRegistered();
  const { executor, record } = await launchAndSubscribe(master, agent, 't1', 'e1', framework('f1', true));
  const other = fixtureTask('t2', 'e2', 'wait');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework(), task: other.task });
  const otherRecord = await readRecord(other.out);
  const url = stateUrl(agent);
  const stopping = agent.shutdown();
  await executor.waitForEvent('SHUTDOWN');
  const killed = update('t1', 'TASK_KILLED');
  executor.send(killed);
  await executor.waitForEvent('ACKNOWLEDGED');
  process.kill(record.pid, 'SIGTERM'); // the executor exits once its tasks are down
  await stopping;
  assert.is(agent.status, 'TERMINATING');
  assert.not.ok(isAlive(record.pid));
  assert.not.ok(isAlive(otherRecord.pid), 'the executor that never subscribed was signalled');
  assert.ok(master.statusUpdates().some((status) => status.uuid === killed.status.uuid));
  const failed = await master.waitForStatus('t2', 'TASK_FAILED');
  assert.match(failed.message ?? '', /killed by SIGTERM/);
  const unregister = master.calls.findIndex((call) => call.type === 'UNREGISTER');
  assert.ok(unregister > master.calls.findIndex((call) => call.type === 'STATUS_UPDATE' && call.status.taskId === 't2'), 'UNREGISTER after the last updates');
  assert.not.ok(fs.existsSync(agent.socketPath), 'the socket is gone');
  assert.not.ok(await fetch(url).then(() => true, () => false), 'HTTP is closed');
});

test('stop() shuts down executors of non-checkpointing frameworks and leaves checkpointed ones running', async () => {
  const { agent, master } = await startRegistered();
  const plain = fixtureTask('t1', 'e1', 'wait', 'f1');
  const kept = fixtureTask('t2', 'e2', 'wait', 'f2');
  master.send({ type: 'RUN_TASK', frameworkInfo: framework('f1', false), task: plain.task });
  master.send({ type: 'RUN_TASK', frameworkInfo: framework('f2', true), task: kept.task });
  const [plainRecord, keptRecord] = await Promise.all([readRecord(plain.out), readRecord(kept.out)]);
  await agent.stop();
  assert.not.ok(isAlive(plainRecord.pid));
  assert.ok(isAlive(keptRecord.pid), 'the checkpointed executor survives the agent');
  assert.is(master.callsOf('UNREGISTER').length, 0);
  process.kill(-keptRecord.pid, 'SIGKILL');
  await waitFor(() => !isAlive(keptRecord.pid), { message: 'the kept executor to die' });
});

test('validates its options up front, naming the option', () => {
  const base = { master: '127.0.0.1:5050', workDir: '/tmp/x', resources: { cpus: 1, mem: 1, disk: 1 } };
  assert.throws(() => new Agent({ ...base, master: 'nohost' }), /option master must be HOST:PORT, HOST:PORT,HOST:PORT or etcd:\/\/HOST:PORT\/PREFIX, https:\/\/ before a host list for TLS \("nohost" is not HOST:PORT\), got "nohost"/);
  assert.throws(() => new Agent({ ...base, maxFrameBytes: 10 }), /maxFrameBytes/);
  assert.throws(() => new Agent({ ...base, statusUpdateRetryIntervalMinMs: 10, statusUpdateRetryIntervalMaxMs: 5 }), /statusUpdateRetryIntervalMaxMs/);
  assert.throws(() => new Agent({ ...base, resources: { cpus: -1, mem: 1, disk: 1 } }), /resources/);
  assert.throws(() => new Agent({ ...base, runtimeDir: '/tmp/' + 'r'.repeat(120) }), /--runtime_dir/);
});

test.run();
