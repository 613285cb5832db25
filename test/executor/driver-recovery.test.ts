// ExecutorDriver's durability and recovery against a fake agent on a real Unix socket: the outbox
// and shim.json it writes, and what it does when the agent goes away and comes back (or does not).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRecordLog, readRecordLog } from '../../src/checkpoint/record-log.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { outboxPath, shimInfoPath } from '../../src/checkpoint/layout.js';
import { readJson } from '../../src/checkpoint/atomic-write.js';
import { ShimInfo } from '../../src/checkpoint/shim-info.js';
import { ExecutorDriver, type ExecutorDriverOptions } from '../../src/executor/index.js';
import { FIRST_SUBSCRIBE_ATTEMPTS, type DriverInternals } from '../../src/executor/driver.js';
import type { AttemptTrigger } from '../../src/executor/reconnect.js';
import { SUBSCRIBE_MAX_UPDATES } from '../../src/executor/subscription.js';
import { EXECUTOR_PROTOCOL_VERSION, LifelineError, type Reason } from '../../src/protocol/index.js';
import { processIdentity } from '../../src/process/index.js';
import { FIXTURES, Proc, isAlive, removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';
import { FakeAgent, IDS, SilentServer, commandTask, type FakeAgentOptions } from './fake-agent.js';
import { SANDBOX_FORMAT } from '../../src/checkpoint/format.js';

interface Context {
  dir: string;
  agents: FakeAgent[];
  silent: SilentServer | undefined;
  drivers: ExecutorDriver[];
  procs: Proc[];
  pids: number[];
  savedEnv: NodeJS.ProcessEnv;
}

const Recovery = suite<Context>('ExecutorDriver recovery', {
  dir: '',
  agents: [],
  silent: undefined,
  drivers: [],
  procs: [],
  pids: [],
  savedEnv: {},
});

Recovery.before.each((context) => {
  context.dir = tempDir('ll-exr-');
  context.agents = [];
  context.silent = undefined;
  context.drivers = [];
  context.procs = [];
  context.pids = [];
  context.savedEnv = { ...process.env };
});

Recovery.after.each(async (context) => {
  for (const driver of context.drivers) await driver.stop();
  for (const proc of context.procs) await proc.stop(500);
  for (const pid of context.pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await context.silent?.close();
  for (const agent of context.agents) await agent.close();
  for (const key of Object.keys(process.env)) if (!(key in context.savedEnv)) delete process.env[key];
  Object.assign(process.env, context.savedEnv);
  removeDir(context.dir);
});

/** Checkpointing, with a recovery timeout long enough that only a bug would reach it. */
const CHECKPOINTING = { LIFELINE_CHECKPOINT: '1', LIFELINE_RECOVERY_TIMEOUT: '30secs', LIFELINE_SUBSCRIPTION_BACKOFF_MAX: '200ms' };

async function startAgent(context: Context, options: FakeAgentOptions = {}, env: Record<string, string> = CHECKPOINTING): Promise<FakeAgent> {
  const agent = await FakeAgent.start(context.dir, options);
  context.agents.push(agent);
  Object.assign(process.env, agent.env(context.dir, env));
  return agent;
}

/** The agent at the same socket path again, after the previous one closed. */
async function restartAgent(context: Context, options: FakeAgentOptions = {}): Promise<FakeAgent> {
  const agent = await FakeAgent.start(context.dir, options);
  context.agents.push(agent);
  return agent;
}

function recordingDriver(context: Context, internals: DriverInternals = {}, extra: ExecutorDriverOptions = {}) {
  const seen = {
    launched: [] as string[],
    shutdowns: [] as Array<[number, Reason | undefined]>,
    errors: [] as Error[],
    triggers: [] as AttemptTrigger[],
    disconnections: [] as string[],
    resubscriptions: 0,
  };
  const driver = new ExecutorDriver(
    {
      onLaunch: (task) => void seen.launched.push(task.taskId),
      onShutdown: (gracePeriodMs, reason) => void seen.shutdowns.push([gracePeriodMs, reason]),
      onError: (error) => void seen.errors.push(error),
      onDisconnected: (error) => void seen.disconnections.push((error as LifelineError).code),
      onResubscribed: () => void (seen.resubscriptions += 1),
      ...extra,
    },
    { onAttempt: (trigger) => void seen.triggers.push(trigger), ...internals },
  );
  context.drivers.push(driver);
  return { driver, seen };
}

function outboxRecords(context: Context): LogRecord[] {
  const file = outboxPath(context.dir);
  return parseRecordLog(fs.readFileSync(file), { file }).records;
}

function recordsText(records: LogRecord[]): string[] {
  return records.map((record) => (record.kind === 'UPDATE' ? `UPDATE ${record.status.uuid}` : `ACK ${record.uuid}`));
}

async function rejection(promise: Promise<unknown>, what: string): Promise<LifelineError> {
  const error = await withTimeout(
    promise.then(
      () => undefined,
      (e: unknown) => e,
    ),
    15_000,
    what,
  );
  assert.instance(error, LifelineError, `${what} should reject with a LifelineError, got ${String(error)}`);
  return error as LifelineError;
}

// ---- the outbox ----

Recovery('records an update durably in the outbox before sending it, and its ACK after ACKNOWLEDGED', async (context) => {
  // Slow every fdatasync down and note how many bytes of the file each one made durable: an update
  // sent before its sync had completed would be seen by the agent outside that durable prefix.
  const file = outboxPath(context.dir);
  const probe = await fsp.open(process.execPath, 'r');
  const prototype = Object.getPrototypeOf(probe) as { datasync(this: fsp.FileHandle): Promise<void> };
  await probe.close();
  const datasync = prototype.datasync;
  let durableBytes = 0;
  prototype.datasync = async function (this: fsp.FileHandle) {
    const { size } = await this.stat();
    await delay(100);
    await datasync.call(this);
    durableBytes = Math.max(durableBytes, size);
  };
  try {
    const durableAtReceipt: LogRecord[][] = [];
    const agent = await startAgent(context, {
      acknowledge: false,
      onCall: (call) => {
        if (call.type === 'UPDATE') durableAtReceipt.push(parseRecordLog(fs.readFileSync(file).subarray(0, durableBytes), { file }).records);
      },
    });
    const { driver } = recordingDriver(context);
    await driver.start();
    const acknowledged = driver.update({ taskId: 'task-1', state: 'TASK_RUNNING', message: 'hello' });
    acknowledged.catch(() => {}); // rejected by stop() if an assertion fails first
    const sent = await waitFor(() => agent.statuses()[0], { message: 'the UPDATE' });
    assert.equal(recordsText(durableAtReceipt[0]!), [`UPDATE ${sent.uuid}`], 'the UPDATE record was durable when the agent received the update');
    const record = durableAtReceipt[0]![0]!;
    assert.equal(record.kind === 'UPDATE' && record.status, sent, 'the record holds the status as sent');
    assert.equal(recordsText(outboxRecords(context)), [`UPDATE ${sent.uuid}`], 'no ACK before ACKNOWLEDGED');
    agent.acknowledge(sent);
    await withTimeout(acknowledged, 5_000, 'the acknowledged update');
    await waitFor(() => outboxRecords(context).length === 2, { message: 'the ACK record' });
    assert.equal(recordsText(outboxRecords(context)), [`UPDATE ${sent.uuid}`, `ACK ${sent.uuid}`]);
    await driver.stop();
    const { records, tornTail } = await readRecordLog(file);
    assert.is(tornTail, false);
    assert.is(records.length, 2);
  } finally {
    prototype.datasync = datasync;
  }
});

Recovery('pipelined updates share their fdatasyncs (group commit) and are recorded in order', async (context) => {
  await startAgent(context);
  const { driver } = recordingDriver(context);
  await driver.start();
  const before = driver.diagnostics.outboxSyncs;
  const updates = Array.from({ length: 32 }, (_, i) => driver.update({ taskId: 'task-1', state: 'TASK_RUNNING', message: `step ${i}` }));
  await withTimeout(Promise.all(updates), 10_000, 'all 32 updates acknowledged');
  const syncs = driver.diagnostics.outboxSyncs - before;
  assert.ok(syncs >= 1 && syncs <= 2, `32 updates made in one turn cost ${syncs} fdatasyncs (expected 1, at most 2)`);
  await driver.stop();
  const { records } = await readRecordLog(outboxPath(context.dir));
  const messages = records.flatMap((record) => (record.kind === 'UPDATE' ? [record.status.message] : []));
  assert.equal(messages, Array.from({ length: 32 }, (_, i) => `step ${i}`));
  assert.is(records.filter((record) => record.kind === 'ACK').length, 32, 'every acknowledgement recorded (written at stop at the latest)');
});

Recovery('writes shim.json on start and rewrites it when a task group is tracked or untracked', async (context) => {
  await startAgent(context);
  const { driver } = recordingDriver(context);
  await driver.start();
  const file = shimInfoPath(context.dir);
  const initial = await readJson(file, ShimInfo);
  assert.equal(initial, {
    pid: process.pid,
    startTime: processIdentity(process.pid)!.startTime,
    protocol: EXECUTOR_PROTOCOL_VERSION,
    executorId: IDS.executorId,
    containerId: IDS.containerId,
    tasks: [],
    format: SANDBOX_FORMAT,
  });
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  context.pids.push(child.pid!);
  await driver.trackTaskGroup('task-1', child.pid!);
  const tracked = await readJson(file, ShimInfo);
  assert.equal(tracked.tasks, [{ taskId: 'task-1', pgid: child.pid!, startTime: processIdentity(child.pid!)!.startTime }]);
  await driver.untrackTaskGroup('task-1');
  assert.equal((await readJson(file, ShimInfo)).tasks, []);
  assert.equal(
    fs.readdirSync(path.dirname(file)).sort(),
    ['outbox.log', 'shim.json'],
    'no temp file left behind',
  );
});

// ---- the agent goes away and comes back ----

Recovery('a full backlog makes update() wait, in order, until an acknowledgement makes room; nothing is dropped', async (context) => {
  const agent = await startAgent(context, { acknowledge: false, launch: commandTask('task-1', 'true') });
  const { driver, seen } = recordingDriver(context, { maxBacklogUpdates: 3 });
  await driver.start();
  await waitFor(() => seen.launched.length === 1, { message: 'LAUNCH' });
  const resolved: number[] = [];
  const pending = Array.from({ length: 5 }, (_, i) => driver.update({ taskId: 'task-1', state: 'TASK_RUNNING', message: `n=${i + 1}` }).then(() => void resolved.push(i + 1)));
  await waitFor(() => agent.statuses().length === 3, { message: 'three updates at the agent' });
  await driver.flush();
  assert.equal(agent.statuses().map((s) => s.message), ['n=1', 'n=2', 'n=3'], 'the bound: the other two wait, not sent, not recorded');
  assert.equal((await readRecordLog(outboxPath(context.dir))).records.filter((r) => r.kind === 'UPDATE').length, 3, 'nor in the outbox');
  agent.acknowledge(agent.statuses()[0]!);
  await waitFor(() => agent.statuses().length === 4, { message: 'one acknowledged: the next goes' });
  for (const status of agent.statuses()) agent.acknowledge(status);
  await waitFor(() => agent.statuses().length === 5, { message: 'the last' });
  agent.acknowledge(agent.statuses()[4]!);
  await withTimeout(Promise.all(pending), 5_000, 'every update acknowledged');
  assert.equal(resolved, [1, 2, 3, 4, 5]);
  assert.equal(agent.statuses().map((s) => s.message), ['n=1', 'n=2', 'n=3', 'n=4', 'n=5']);
});

Recovery('a large backlog goes in bounded pieces: a SUBSCRIBE with the oldest, then the rest as UPDATE frames, in order', async (context) => {
  const first = await startAgent(context, { acknowledge: false, launch: commandTask('task-1', 'true') });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await waitFor(() => seen.launched.length === 1, { message: 'LAUNCH' });
  await first.close();
  await waitFor(() => driver.state !== 'SUBSCRIBED', { message: 'the driver to notice the agent is gone' });
  const made = 2_500;
  const pending = Array.from({ length: made }, (_, i) => driver.update({ taskId: 'task-1', state: 'TASK_RUNNING', message: `n=${i + 1}` }));
  await driver.flush();
  const second = await restartAgent(context, { acknowledge: false });
  const subscribe = await second.waitForCall('SUBSCRIBE', 're-SUBSCRIBE');
  assert.is(subscribe.unacknowledgedUpdates.length, SUBSCRIBE_MAX_UPDATES, 'the SUBSCRIBE carries a bounded piece');
  await waitFor(() => second.statuses().length >= made, { message: `all ${made} updates at the agent` });
  assert.equal(
    second.statuses().map((status) => status.message),
    Array.from({ length: made }, (_, i) => `n=${i + 1}`),
    'every update once, in the order made',
  );
  for (const status of second.statuses()) second.acknowledge(status);
  await withTimeout(Promise.all(pending), 10_000, 'every update acknowledged');
});

Recovery('re-SUBSCRIBEs to the restarted agent with its unacknowledged updates and tasks in order; pending updates resolve on the new ACKs', async (context) => {
  const first = await startAgent(context, { acknowledge: false, launch: commandTask('task-1', 'true') });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await waitFor(() => seen.launched.length === 1, { message: 'LAUNCH' });
  const resolved: string[] = [];
  const track = (promise: Promise<void>, name: string) => promise.then(() => void resolved.push(name));
  const pending = [
    track(driver.update({ taskId: 'task-1', state: 'TASK_STARTING' }), 'starting'),
    track(driver.update({ taskId: 'task-1', state: 'TASK_RUNNING' }), 'running'),
  ];
  await waitFor(() => first.statuses().length === 2, { message: 'two UPDATEs at the first agent' });
  await first.close();
  await waitFor(() => driver.state !== 'SUBSCRIBED', { message: 'the driver to notice the agent is gone' });
  // Made while the agent is away: carried in the same SUBSCRIBE, after the others.
  pending.push(track(driver.update({ taskId: 'task-1', state: 'TASK_RUNNING', message: 'while away' }), 'while away'));
  await driver.flush();
  assert.equal(resolved, [], 'nothing resolves without an acknowledgement');
  const second = await restartAgent(context, { acknowledge: false });
  const subscribe = await second.waitForCall('SUBSCRIBE', 're-SUBSCRIBE');
  assert.is(subscribe.token, IDS.token, 'the same token (the driver keeps it; only process.env loses it)');
  assert.equal(subscribe.unacknowledgedTasks.map((task) => task.taskId), ['task-1']);
  assert.equal(
    subscribe.unacknowledgedUpdates.map((status) => `${status.state}${status.message ? ` ${status.message}` : ''}`),
    ['TASK_STARTING', 'TASK_RUNNING', 'TASK_RUNNING while away'],
  );
  assert.equal(
    subscribe.unacknowledgedUpdates.map((status) => status.uuid),
    first.statuses().map((status) => status.uuid).concat(subscribe.unacknowledgedUpdates[2]!.uuid),
    'the same uuids as first sent',
  );
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 'SUBSCRIBED again' });
  assert.equal(resolved, [], 'still nothing before the new agent acknowledges');
  for (const status of subscribe.unacknowledgedUpdates) second.acknowledge(status);
  await withTimeout(Promise.all(pending), 5_000, 'the pending updates');
  assert.equal(resolved.sort(), ['running', 'starting', 'while away']);
  assert.equal(seen.shutdowns, [], 'no shutdown');
  assert.equal(seen.errors, []);
  assert.equal(seen.disconnections, ['ERR_CONNECTION'], 'onDisconnected once');
  await waitFor(() => seen.resubscriptions === 1, { message: 'onResubscribed' });
  assert.is(driver.diagnostics.recovering, false, 'the recovery timer is disarmed');
  // Updates flow on the new connection as before.
  const finishing = driver.update({ taskId: 'task-1', state: 'TASK_FINISHED' });
  second.acknowledge(await second.waitForStatus('task-1', 'TASK_FINISHED'));
  await withTimeout(finishing, 5_000, 'TASK_FINISHED');
  await driver.stop();
  const acks = (await readRecordLog(outboxPath(context.dir))).records.filter((record) => record.kind === 'ACK');
  assert.is(acks.length, 4, 'the ACKs of the new agent are recorded');
});

Recovery('the restarted agent creating its socket wakes the driver at once (fs.watch)', async (context) => {
  await startAgent(context, {}, { ...CHECKPOINTING, LIFELINE_SUBSCRIPTION_BACKOFF_MAX: '60secs' });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await context.agents[0]!.close();
  // Let the backoff grow (20 ms doubling, randomized): its next attempt is now far away.
  await waitFor(() => seen.triggers.length >= 7, { message: 'seven failed attempts', timeoutMs: 15_000 });
  await restartAgent(context);
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 're-subscribed' });
  assert.is(seen.triggers.at(-1), 'watch', `the attempt that succeeded was started by the watch (triggers: ${seen.triggers.join(', ')})`);
  assert.equal(seen.shutdowns, []);
  assert.equal(seen.errors, []);
});

/** fs.watch as it fails once inotify's per-user instance limit is reached. */
function failingWatch(calls: { count: number }) {
  return () => {
    calls.count += 1;
    throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
  };
}

Recovery('without fs.watch (EMFILE/ENOSPC) a stat poll of the socket file wakes the driver, silently', async (context) => {
  const calls = { count: 0 };
  await startAgent(context, {}, { ...CHECKPOINTING, LIFELINE_SUBSCRIPTION_BACKOFF_MAX: '60secs' });
  const { driver, seen } = recordingDriver(context, { watch: failingWatch(calls) });
  await driver.start();
  await context.agents[0]!.close();
  await waitFor(() => seen.triggers.length >= 7, { message: 'seven failed attempts', timeoutMs: 15_000 });
  await restartAgent(context);
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 're-subscribed' });
  assert.ok(calls.count >= 1, 'the driver tried to watch');
  assert.is(seen.triggers.at(-1), 'poll', `the attempt that succeeded was started by the poll (triggers: ${seen.triggers.join(', ')})`);
  assert.equal(seen.errors, [], 'a failing fs.watch is not reported');
  assert.equal(seen.shutdowns, []);
});

Recovery('with neither fs.watch nor the poll, the backoff alone reconnects', async (context) => {
  const calls = { count: 0 };
  await startAgent(context);
  const { driver, seen } = recordingDriver(context, { watch: failingWatch(calls), pollIntervalMs: 0 });
  await driver.start();
  await context.agents[0]!.close();
  await waitFor(() => seen.triggers.length >= 3, { message: 'attempts while the agent is away' });
  await restartAgent(context);
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 're-subscribed by the backoff' });
  assert.ok(calls.count >= 1, 'the driver tried to watch');
  assert.ok(
    seen.triggers.every((trigger) => trigger === 'immediate' || trigger === 'backoff'),
    `only the backoff made attempts (triggers: ${seen.triggers.join(', ')})`,
  );
  assert.equal(seen.errors, [], 'a failing fs.watch is not reported');
  assert.equal(seen.shutdowns, []);
});

Recovery('a watcher that fails later (an error event) falls back to the poll and the backoff', async (context) => {
  const { EventEmitter } = await import('node:events');
  let watcher: (InstanceType<typeof EventEmitter> & { close(): void }) | undefined;
  const flakyWatch = () => {
    watcher = Object.assign(new EventEmitter(), { close() {} });
    setImmediate(() => watcher!.emit('error', Object.assign(new Error('EMFILE'), { code: 'EMFILE' })));
    return watcher as unknown as fs.FSWatcher;
  };
  await startAgent(context);
  const { driver, seen } = recordingDriver(context, { watch: flakyWatch });
  await driver.start();
  await context.agents[0]!.close();
  await waitFor(() => watcher !== undefined && seen.triggers.length >= 3, { message: 'attempts while the agent is away' });
  await restartAgent(context);
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 're-subscribed by the backoff' });
  assert.equal(seen.errors, []);
});

Recovery('an agent that accepts the connection but never answers: each attempt times out and the driver keeps trying', async (context) => {
  await startAgent(context);
  const { driver, seen } = recordingDriver(context, { reconnectHandshakeTimeoutMs: 150 });
  await driver.start();
  const socketPath = context.agents[0]!.socketPath;
  await context.agents[0]!.close();
  context.silent = await SilentServer.start(socketPath);
  await waitFor(() => context.silent!.connections >= 3, { message: 'three attempts on the silent server', timeoutMs: 15_000 });
  assert.ok(driver.state !== 'SUBSCRIBED');
  await context.silent.close();
  context.silent = undefined;
  await restartAgent(context);
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 're-subscribed once a real agent answers' });
  assert.equal(seen.shutdowns, []);
  assert.equal(seen.errors, []);
});

Recovery('a SIGSTOPped agent (heartbeats stop, connections hang in its backlog) is survived, and SIGCONT brings the executor back', async (context) => {
  const agentProc = new Proc(process.execPath, [path.join(FIXTURES, 'executor-fake-agent.mjs'), context.dir, '50']);
  context.procs.push(agentProc);
  await agentProc.waitForOutput(/listening at/);
  Object.assign(process.env, envWithoutAgent(path.join(context.dir, 'agent.sock'), context.dir));
  const { driver, seen } = recordingDriver(context, { reconnectHandshakeTimeoutMs: 200 });
  await driver.start();
  await agentProc.waitForOutput(/subscriptions 1/);
  agentProc.signal('SIGSTOP');
  try {
    await waitFor(() => driver.state !== 'SUBSCRIBED', { message: 'three missed heartbeats to break the connection' });
    const attempts = seen.triggers.length;
    await waitFor(() => seen.triggers.length >= attempts + 3, { message: 'attempts timing out against the stopped agent' });
    assert.ok(driver.state !== 'SUBSCRIBED', 'a stopped agent cannot subscribe anyone');
  } finally {
    agentProc.signal('SIGCONT');
  }
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 're-subscribed once the agent runs again' });
  assert.equal(seen.shutdowns, []);
  assert.equal(seen.errors, []);
});

Recovery('three missed heartbeats count as a broken connection, and the driver reconnects', async (context) => {
  await startAgent(context, { heartbeatIntervalMs: 30, heartbeat: false });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  const first = context.agents[0]!;
  await waitFor(() => first.calls.filter((call) => call.type === 'SUBSCRIBE').length >= 2, { message: 'a second SUBSCRIBE after the silence' });
  assert.equal(seen.shutdowns, []);
});

Recovery('the recovery timer fires: onShutdown with REASON_EXECUTOR_RECOVERY_TIMEOUT, and no more attempts', async (context) => {
  await startAgent(context, {}, { ...CHECKPOINTING, LIFELINE_RECOVERY_TIMEOUT: '400ms' });
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await context.agents[0]!.close();
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown after the recovery timeout' });
  assert.equal(seen.shutdowns, [[2_000, 'REASON_EXECUTOR_RECOVERY_TIMEOUT']], 'the environment grace period and the reason');
  assert.is(driver.diagnostics.recovering, false);
  assert.is(driver.state, 'DISCONNECTED');
  // Updates made now are still recorded durably (the agent will find them), and wait.
  const late = driver.update({ taskId: 'task-1', state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_RECOVERY_TIMEOUT' });
  await driver.flush();
  const last = outboxRecords(context).at(-1)!;
  assert.is(last.kind === 'UPDATE' && last.status.reason, 'REASON_EXECUTOR_RECOVERY_TIMEOUT');
  const lateRejected = rejection(late, 'the late update');
  await driver.stop();
  assert.is((await lateRejected).code, 'ERR_DRIVER_STOPPED');
  assert.equal(seen.errors, []);
});

Recovery('a restarted agent that answers the re-SUBSCRIBE with SHUTDOWN shuts the executor down at once', async (context) => {
  await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await context.agents[0]!.close();
  await restartAgent(context, {
    subscribe: false,
    onCall: (call, agent) => {
      if (call.type === 'SUBSCRIBE') agent.send({ type: 'SHUTDOWN', gracePeriodMs: 1_500 });
    },
  });
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown' });
  assert.equal(seen.shutdowns, [[1_500, undefined]]);
  assert.equal(seen.errors, []);
  assert.is(driver.diagnostics.recovering, false, 'no more attempts');
});

Recovery("a restarted agent that answers the re-SUBSCRIBE with ERROR: onError with its code, then shutdown", async (context) => {
  await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  await context.agents[0]!.close();
  await restartAgent(context, {
    subscribe: false,
    onCall: (call, agent) => {
      if (call.type === 'SUBSCRIBE') agent.send({ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'wrong token' });
    },
  });
  await waitFor(() => seen.shutdowns.length === 1, { message: 'onShutdown' });
  assert.is(seen.errors.length, 1);
  assert.is((seen.errors[0] as LifelineError).code, 'ERR_UNAUTHORIZED');
  assert.is(driver.diagnostics.recovering, false);
});

Recovery('a restarted agent that refuses the re-SUBSCRIBE for its protocol version: no shutdown, the driver retries until an agent serves it (issue 11)', async (context) => {
  await startAgent(context);
  const { driver, seen } = recordingDriver(context);
  await driver.start();
  const first = context.agents[0]!.calls.find((call) => call.type === 'SUBSCRIBE');
  assert.equal(first && [first.protocol, first.protocolMax, first.release], [1, 2, '0.2.0'], 'SUBSCRIBE says the range and the release');
  await context.agents[0]!.close();
  let refusals = 0;
  const refusing = await restartAgent(context, {
    subscribe: false,
    onCall: (call, agent) => {
      if (call.type !== 'SUBSCRIBE') return;
      refusals++;
      // 0.1.0's own wording once, then this release's code: both are version refusals.
      if (refusals === 1) agent.send({ type: 'ERROR', code: 'ERR_PROTOCOL', message: 'executor protocol 1 is not supported (this agent speaks 3)' });
      else agent.send({ type: 'ERROR', code: 'ERR_PROTOCOL_VERSION', message: 'executor e speaks protocols 1..2 and this peer speaks protocol 3' });
    },
  });
  await waitFor(() => refusals >= 3, { message: 'three refused attempts', timeoutMs: 15_000 });
  assert.equal(seen.shutdowns, [], 'a version refusal does not shut the executor down');
  assert.is(driver.diagnostics.recovering, true, 'still trying');
  await refusing.close();
  await restartAgent(context);
  await waitFor(() => driver.state === 'SUBSCRIBED', { message: 'subscribed to an agent that serves it', timeoutMs: 15_000 });
  assert.equal(seen.shutdowns, []);
});

// ---- start() while the agent is away ----

Recovery('start() of a checkpointing executor waits for an agent that is not listening yet', async (context) => {
  const socketPath = path.join(context.dir, 'agent.sock');
  Object.assign(process.env, envWithoutAgent(socketPath, context.dir));
  const { driver, seen } = recordingDriver(context);
  let started = false;
  const starting = driver.start().then(() => (started = true));
  await waitFor(() => seen.triggers.length >= 3, { message: 'attempts before any agent listens' });
  assert.is(started, false);
  await restartAgent(context);
  await withTimeout(starting, 10_000, 'start() once the agent listens');
  assert.is(driver.state, 'SUBSCRIBED');
});

Recovery('start() of a checkpointing executor rejects with ERR_TIMEOUT when no agent comes within the recovery timeout', async (context) => {
  Object.assign(process.env, envWithoutAgent(path.join(context.dir, 'agent.sock'), context.dir, '300ms'));
  const { driver } = recordingDriver(context);
  const error = await rejection(driver.start(), 'start()');
  assert.is(error.code, 'ERR_TIMEOUT');
  assert.match(error.message, /recovery timeout of 300 ms/);
  assert.is(driver.state, 'STOPPED');
});

Recovery('start() of a non-checkpointing executor tries a slow agent again: a handshake that timed out is followed by a second one', async (context) => {
  // The first SUBSCRIBE is left unanswered (an agent too busy to answer in time); the second is answered.
  let subscribes = 0;
  const agent = await startAgent(context, { onCall: (call, fake) => {
    if (call.type === 'SUBSCRIBE') fake.options.subscribe = ++subscribes > 1;
  } }, { LIFELINE_CHECKPOINT: '0' });
  const { driver } = recordingDriver(context, { handshakeTimeoutMs: 300 });
  await withTimeout(driver.start(), 10_000, 'start() on the second handshake');
  assert.is(driver.state, 'SUBSCRIBED');
  assert.is(subscribes, 2);
  assert.is(agent.calls.filter((call) => call.type === 'SUBSCRIBE').length, 2);
});

Recovery(`start() of a non-checkpointing executor gives up after ${FIRST_SUBSCRIBE_ATTEMPTS} handshakes that time out, and at once when nothing listens`, async (context) => {
  const socketPath = path.join(context.dir, 'agent.sock');
  context.silent = await SilentServer.start(socketPath);
  Object.assign(process.env, envWithoutAgent(socketPath, context.dir), { LIFELINE_CHECKPOINT: '0' });
  const { driver } = recordingDriver(context, { handshakeTimeoutMs: 200 });
  const error = await rejection(driver.start(), 'start() against a silent agent');
  assert.is(error.code, 'ERR_CONNECTION');
  assert.match(error.message, /did not complete the subscription within 200 ms/);
  assert.is(context.silent.connections, FIRST_SUBSCRIBE_ATTEMPTS);
  assert.is(driver.diagnostics.attempts, FIRST_SUBSCRIBE_ATTEMPTS);
  assert.is(driver.state, 'STOPPED');

  await context.silent.close();
  context.silent = undefined;
  Object.assign(process.env, envWithoutAgent(path.join(context.dir, 'nobody.sock'), context.dir), { LIFELINE_CHECKPOINT: '0' });
  const { driver: alone } = recordingDriver(context, { handshakeTimeoutMs: 200 });
  const refused = await rejection(alone.start(), 'start() with no agent');
  assert.is(refused.code, 'ERR_CONNECTION');
  assert.match(refused.message, /nobody\.sock/);
  assert.is(alone.diagnostics.attempts, 1, 'no second attempt when no agent listens');
});

Recovery('stop() during recovery leaves nothing behind: a process that does it exits by itself', async (context) => {
  const agent = await startAgent(context);
  const proc = new Proc(process.execPath, [path.join(FIXTURES, 'executor-recovery-stop.mjs')], {
    env: { ...process.env, ...agent.env(context.dir, CHECKPOINTING) },
  });
  context.procs.push(proc);
  await proc.waitForOutput(/subscribed/);
  await agent.close();
  const exit = await proc.waitForExit(10_000);
  assert.equal(exit, { code: 0, signal: null }, proc.stderr);
  assert.match(proc.stdout, /recovering/);
  assert.match(proc.stdout, /stopped/);
  assert.not.ok(isAlive(proc.pid));
});

/** The environment of a checkpointing executor whose agent is not (yet) listening. */
function envWithoutAgent(socketPath: string, directory: string, recoveryTimeout = '30secs'): Record<string, string> {
  return {
      LIFELINE_AGENT_ENDPOINT: socketPath,
      LIFELINE_AGENT_ID: IDS.agentId,
      LIFELINE_FRAMEWORK_ID: IDS.frameworkId,
      LIFELINE_EXECUTOR_ID: IDS.executorId,
      LIFELINE_CONTAINER_ID: IDS.containerId,
      LIFELINE_DIRECTORY: directory,
      LIFELINE_CHECKPOINT: '1',
      LIFELINE_RECOVERY_TIMEOUT: recoveryTimeout,
      LIFELINE_SUBSCRIPTION_BACKOFF_MAX: '100ms',
      LIFELINE_SHUTDOWN_GRACE_PERIOD: '2secs',
    LIFELINE_EXECUTOR_TOKEN: IDS.token,
  };
}

Recovery.run();
