// The agent's checkpointing and recovery (DESIGN §5, §7), with real Agents in this process restarted
// on one work dir, a fake master, fake executors on the real socket, and real fixture processes
// as the executors whose pid + start time the agent records, checks and kills.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hashToken } from '../../src/agent/index.js';
import { writeJsonAtomic } from '../../src/checkpoint/atomic-write.js';
import { RecordLog } from '../../src/checkpoint/record-log.js';
import { recoverState } from '../../src/checkpoint/recover.js';
import type { Logger } from '../../src/log.js';
import { bootId, processIdentity } from '../../src/process/index.js';
import type { TaskInfo } from '../../src/protocol/index.js';
import { isAlive, waitFor, withTimeout } from '../helpers.js';
import { Harness, RESOURCES, framework, metricsOf, readLog, stateOf, subscribeCall, update } from './recovery-harness.js';

const h = new Harness();
const CHECKPOINTED = framework('f2', true);

function statesOf(taskId: string): string[] {
  return h.master!.statusUpdates().filter((status) => status.taskId === taskId).map((status) => status.state);
}

// ---- checkpointing ------------------------------------------------------------------------------

const checkpointing = suite('Agent checkpointing');
checkpointing.before.each(() => h.setUp());
checkpointing.after.each(() => h.tearDown());

checkpointing('writes the DESIGN §5 checkpoint for a checkpointing framework, and nothing for another', async () => {
  await h.startMaster();
  await h.registered();
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED);
  const { record: plain } = await h.launch('t2', 'e2', framework('f1', false));
  const agentDir = path.join(h.meta, 'agents', 'agent-1');
  const run = h.runDir(record);
  await waitFor(() => fs.existsSync(path.join(run, 'forked.json')), { message: 'forked.json' });

  assert.is(fs.readFileSync(path.join(h.meta, 'boot_id'), 'utf8').trim(), bootId());
  assert.is(fs.readlinkSync(path.join(h.meta, 'agents', 'latest')), 'agent-1');
  assert.equal(JSON.parse(fs.readFileSync(path.join(agentDir, 'agent.json'), 'utf8')), { id: 'agent-1', hostname: 'test-host', resources: RESOURCES, checkpoint: true });
  assert.is(JSON.parse(fs.readFileSync(path.join(agentDir, 'frameworks', 'f2', 'framework.json'), 'utf8')).checkpoint, true);
  const executorJson = JSON.parse(fs.readFileSync(path.join(agentDir, 'frameworks', 'f2', 'executors', 'e1', 'executor.json'), 'utf8'));
  assert.is(executorJson.executorId, 'e1');
  assert.is(executorJson.generated, false);
  assert.is(fs.readlinkSync(path.join(path.dirname(run), 'latest')), record.env.LIFELINE_CONTAINER_ID);
  assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'forked.json'), 'utf8')), processIdentity(record.pid));
  assert.is(fs.readFileSync(path.join(run, 'token.sha256'), 'utf8').trim(), hashToken(record.env.LIFELINE_EXECUTOR_TOKEN!));
  assert.is(fs.statSync(path.join(run, 'token.sha256')).mode & 0o777, 0o600);
  assert.is(JSON.parse(fs.readFileSync(path.join(run, 'tasks', 't1', 'task.json'), 'utf8')).taskId, 't1');
  assert.is(fs.statSync(path.join(run, 'tasks', 't1', 'task.updates')).size, 0);
  assert.not.ok(fs.existsSync(path.join(run, 'executor.sentinel')));
  assert.not.ok(fs.existsSync(path.join(agentDir, 'frameworks', 'f1')), 'nothing of the non-checkpointing framework');
  assert.ok(fs.existsSync(plain.env.LIFELINE_DIRECTORY!), 'its sandbox exists all the same');

  // The reader gets it all back.
  const state = await recoverState(h.workDir, { strict: true });
  assert.is(state.agentId, 'agent-1');
  assert.equal(state.frameworks.map((f) => f.id), ['f2']);
  const [recovered] = state.frameworks[0]!.executors[0]!.runs;
  assert.is(recovered!.forked!.pid, record.pid);
  assert.equal(recovered!.tasks.map((t) => t.id), ['t1']);

  // A run that ends gets its sentinel, once its tasks' terminal updates are durable.
  process.kill(record.pid, 'SIGKILL');
  await h.master!.waitForStatus('t1', 'TASK_FAILED');
  await waitFor(() => fs.existsSync(path.join(run, 'executor.sentinel')), { message: 'executor.sentinel' });
  assert.ok(readLog(path.join(run, 'tasks', 't1', 'task.updates')).some((r) => r.kind === 'UPDATE' && r.status.state === 'TASK_FAILED'));
});

checkpointing('marks the executor of a command task as generated', async () => {
  await h.startMaster();
  const agent = await h.registered();
  const task: TaskInfo = { taskId: 'c1', name: 'c1', agentId: 'agent-1', resources: { cpus: 0.1, mem: 32 }, command: { value: 'sleep 30' } };
  h.master!.send({ type: 'RUN_TASK', frameworkInfo: CHECKPOINTED, task });
  const file = path.join(h.meta, 'agents', 'agent-1', 'frameworks', 'f2', 'executors', 'c1', 'executor.json');
  await waitFor(() => fs.existsSync(file), { message: 'executor.json' });
  assert.is(JSON.parse(fs.readFileSync(file, 'utf8')).generated, true);
  await h.master!.waitForStatus('c1', 'TASK_RUNNING');
  await agent.shutdown();
  await h.master!.waitForStatus('c1', 'TASK_KILLED');
});

checkpointing('records executor updates in task.updates before acknowledging them, and the framework\'s acknowledgements as ACK records', async () => {
  await h.startMaster();
  await h.registered();
  h.master!.autoAck = false;
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const file = h.taskUpdates(record, 't1');
  const onDisk = new Map<string, boolean>();
  executor.onEvent = (event) => {
    if (event.type !== 'ACKNOWLEDGED') return;
    // Read at the moment the ACKNOWLEDGED arrives: the record must already be there. (In one
    // process this check is weak: recovery-cli.test.ts makes it against a separate agent process.)
    onDisk.set(event.uuid as string, readLog(file).some((r) => r.kind === 'UPDATE' && r.status.uuid === event.uuid));
  };
  const updates = Array.from({ length: 40 }, () => update('t1', 'TASK_RUNNING'));
  for (const u of updates) executor.send(u);
  await waitFor(() => onDisk.size === updates.length, { message: 'every update acknowledged' });
  for (const u of updates) assert.ok(onDisk.get(u.status.uuid), `update ${u.status.uuid} was acknowledged before it was durable`);

  // The framework's acknowledgement becomes an ACK record.
  const first = await h.master!.waitForStatus('t1', 'TASK_RUNNING');
  h.master!.acknowledge('f2', 't1', first.uuid);
  await waitFor(() => readLog(file).some((r) => r.kind === 'ACK' && r.uuid === first.uuid), { message: 'the ACK record' });
});

checkpointing('writes nothing with --checkpoint=false, and registers as a new agent after a restart', async () => {
  const master = await h.startMaster();
  const first = await h.registered({ checkpoint: false });
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED);
  assert.is(record.env.LIFELINE_CHECKPOINT, '0');
  assert.not.ok('LIFELINE_RECOVERY_TIMEOUT' in record.env);
  await first.stop();
  assert.not.ok(fs.existsSync(h.meta), 'no meta/ at all');
  assert.not.ok(isAlive(record.pid), 'its executor is not kept: nothing could reconnect to it');
  await h.registered({ checkpoint: false });
  assert.is(master.callsOf('REGISTER').length, 2);
  assert.is(master.callsOf('REREGISTER').length, 0);
});

checkpointing('removes a completed run\'s meta dir and sandbox --gc_delay after it completed', async () => {
  await h.startMaster();
  await h.registered({ gcDelayMs: 300 });
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED, '0');
  await h.master!.waitForStatus('t1', 'TASK_FAILED'); // acknowledged at once by the fake master
  const run = h.runDir(record);
  await waitFor(() => !fs.existsSync(run) && !fs.existsSync(record.env.LIFELINE_DIRECTORY!), { message: 'the run to be garbage-collected' });
});

checkpointing('garbage-collects at recovery a run that completed longer than --gc_delay ago', async () => {
  await h.startMaster();
  const first = await h.registered();
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED, '0');
  const run = h.runDir(record);
  await waitFor(() => fs.existsSync(path.join(run, 'executor.sentinel')) && readLog(h.taskUpdates(record, 't1')).some((r) => r.kind === 'ACK'), {
    message: 'the run completed and its update acknowledged',
  });
  await first.stop();
  const old = new Date(Date.now() - 2 * 3_600_000);
  fs.utimesSync(path.join(run, 'executor.sentinel'), old, old);
  await h.registered({ gcDelayMs: 3_600_000 });
  await waitFor(() => !fs.existsSync(run) && !fs.existsSync(record.env.LIFELINE_DIRECTORY!), { message: 'the old run to be garbage-collected' });
});

checkpointing.run();

// ---- recovery -----------------------------------------------------------------------------------

const recovery = suite('Agent recovery');
recovery.before.each(() => h.setUp());
recovery.after.each(() => h.tearDown());

recovery('reconnects to a live executor: replayed updates stored and forwarded, REREGISTER reports the task, no full wait', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  master.autoAck = false;
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const running = update('t1', 'TASK_RUNNING');
  executor.send(running);
  await executor.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === running.status.uuid);
  await master.waitForStatus('t1', 'TASK_RUNNING');
  await first.stop();
  assert.ok(isAlive(record.pid), 'the checkpointed executor outlives the agent');
  executor.terminate();

  const second = await h.agent({ executorReregistrationTimeoutMs: 60_000 });
  const starting = second.start();
  const again = await h.connect();
  assert.is((await stateOf(second)).status, 503, '/state answers 503 while recovering');
  const finished = update('t1', 'TASK_FINISHED');
  again.send(subscribeCall(record, { unacknowledgedUpdates: [running.status, finished.status] }));
  await again.waitForEvent('SUBSCRIBED');
  await again.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === running.status.uuid); // a duplicate: acknowledged again
  await again.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === finished.status.uuid);
  await withTimeout(starting, 10_000, 'recovery to end as soon as every live executor is back');
  const reregister = await master.waitForCall('REREGISTER');
  assert.is(reregister.agentInfo.id, 'agent-1');
  assert.equal(reregister.frameworks.map((f) => f.id), ['f2']);
  assert.equal(reregister.executors.map((e) => e.executorId), ['e1']);
  assert.equal(reregister.tasks.map((t) => [t.task.taskId, t.state, t.unacknowledgedState, t.unacknowledgedUuid]), [['t1', 'TASK_FINISHED', 'TASK_RUNNING', running.status.uuid]]);
  // The head update goes again at once; the next one after its acknowledgement; each uuid stored once.
  await waitFor(() => master.statusUpdates().filter((s) => s.uuid === running.status.uuid).length === 2, { message: 'the head update resent after re-registration' });
  master.acknowledge('f2', 't1', running.status.uuid);
  await master.waitForStatus('t1', 'TASK_FINISHED');
  const records = readLog(h.taskUpdates(record, 't1')).filter((r) => r.kind === 'UPDATE');
  assert.equal(records.map((r) => r.kind === 'UPDATE' && r.status.state), ['TASK_RUNNING', 'TASK_FINISHED']);
  assert.is((await stateOf(second)).status, 200);
});

recovery('recovers a live executor next to a completed one of the same framework', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const done = await h.launch('t0', 'e0', CHECKPOINTED, '0');
  await waitFor(() => fs.existsSync(path.join(h.runDir(done.record), 'executor.sentinel')) && readLog(h.taskUpdates(done.record, 't0')).some((r) => r.kind === 'ACK'), {
    message: 'the first run completed and acknowledged',
  });
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  await first.stop();
  executor.terminate();
  const second = await h.agent();
  const starting = second.start();
  const again = await h.connect();
  again.send(subscribeCall(record));
  await again.waitForEvent('SUBSCRIBED');
  await starting;
  const reregister = await master.waitForCall('REREGISTER');
  assert.equal(reregister.frameworks.map((f) => f.id), ['f2']);
  assert.equal(reregister.executors.map((e) => e.executorId), ['e1']);
});

recovery('kills an executor that does not re-subscribe in time (TASK_LOST), while another re-subscribes and keeps running', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const hung = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const back = await h.launchAndSubscribe('t2', 'e2', CHECKPOINTED);
  for (const [executor, taskId] of [[hung.executor, 't1'], [back.executor, 't2']] as const) {
    const running = update(taskId, 'TASK_RUNNING');
    executor.send(running);
    await executor.waitForEvent('ACKNOWLEDGED', (event) => event.uuid === running.status.uuid);
  }
  await first.stop();
  hung.executor.terminate();
  back.executor.terminate();
  process.kill(hung.record.pid, 'SIGSTOP'); // a hung executor: SIGKILL must still work

  const second = await h.agent({ executorReregistrationTimeoutMs: 1_000 });
  const starting = second.start();
  const again = await h.connect();
  again.send(subscribeCall(back.record));
  await again.waitForEvent('SUBSCRIBED');
  await starting;
  const lost = await master.waitForStatus('t1', 'TASK_LOST');
  assert.is(lost.reason, 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT');
  assert.is(lost.source, 'SOURCE_AGENT');
  await waitFor(() => !isAlive(hung.record.pid), { message: 'the hung executor to be killed' });
  assert.ok(fs.existsSync(path.join(h.runDir(hung.record), 'executor.sentinel')));
  assert.ok(isAlive(back.record.pid));
  assert.not.ok(statesOf('t2').includes('TASK_LOST'));
  const reregister = await master.waitForCall('REREGISTER');
  assert.equal(reregister.tasks.map((t) => [t.task.taskId, t.state]).sort(), [['t1', 'TASK_LOST'], ['t2', 'TASK_RUNNING']]);
  // Too late: the killed run's executor is told to shut down.
  const late = await h.connect();
  late.send(subscribeCall(hung.record));
  await late.waitForEvent('SHUTDOWN');
});

recovery('reports a dead executor\'s outbox statuses (TASK_FINISHED), and TASK_FAILED for one without an outbox', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const withOutbox = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const without = await h.launchAndSubscribe('t2', 'e2', CHECKPOINTED);
  const running = update('t1', 'TASK_RUNNING');
  withOutbox.executor.send(running);
  await withOutbox.executor.waitForEvent('ACKNOWLEDGED');
  await master.waitForStatus('t1', 'TASK_RUNNING');
  await first.stop();
  withOutbox.executor.terminate();
  without.executor.terminate();
  // While the agent is away, e1's task finishes: the executor records it in its outbox, then dies.
  const finished = update('t1', 'TASK_FINISHED');
  const lifeline = path.join(withOutbox.record.env.LIFELINE_DIRECTORY!, '.lifeline');
  fs.mkdirSync(lifeline, { recursive: true });
  const outbox = await RecordLog.open(path.join(lifeline, 'outbox.log'));
  await outbox.append([{ kind: 'UPDATE', status: running.status }, { kind: 'ACK', uuid: running.status.uuid }, { kind: 'UPDATE', status: finished.status }]);
  await outbox.sync();
  await outbox.close();
  for (const { record } of [withOutbox, without]) process.kill(record.pid, 'SIGKILL');
  await waitFor(() => !isAlive(withOutbox.record.pid) && !isAlive(without.record.pid), { message: 'the executors to die' });

  await h.registered();
  const reported = await master.waitForStatus('t1', 'TASK_FINISHED');
  assert.is(reported.uuid, finished.status.uuid, 'the executor\'s own status, not one the agent made up');
  assert.is(reported.source, 'SOURCE_EXECUTOR');
  const failed = await master.waitForStatus('t2', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.is(failed.source, 'SOURCE_AGENT');
  assert.not.ok(statesOf('t1').includes('TASK_FAILED'));
  assert.is(master.statusUpdates().filter((s) => s.uuid === running.status.uuid).length, 1, 'the outbox\'s old update is not forwarded again');
  for (const { record } of [withOutbox, without]) assert.ok(fs.existsSync(path.join(h.runDir(record), 'executor.sentinel')));
});

recovery('listens on the executor socket before it ends the runs it found dead (their disk work must not delay live executors)', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED);
  await waitFor(() => fs.existsSync(path.join(h.runDir(record), 'forked.json')), { message: 'forked.json' });
  await first.stop();
  process.kill(record.pid, 'SIGKILL');
  await waitFor(() => !isAlive(record.pid), { message: 'the executor to die' });
  // Every log line, in order, with its fields: the order of listening and ending is what is checked.
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const capture: Logger = {
    debug: () => {},
    info: (fields, msg) => void lines.push(typeof fields === 'string' ? { msg: fields, fields: {} } : { msg: msg ?? '', fields: fields as Record<string, unknown> }),
    warn: () => {},
    error: () => {},
    child: () => capture,
  };
  await h.registered({ logger: capture });
  await master.waitForStatus('t1', 'TASK_FAILED');
  const listening = lines.findIndex((line) => line.msg === 'executor endpoint listening');
  // finishRun logs the ending with the exit it recorded (#recoverRun logged the same words before, without it).
  const ended = lines.findIndex((line) => /exited while the agent was down/.test(line.msg) && 'exitCode' in line.fields);
  assert.ok(listening >= 0 && ended >= 0, `both lines logged: ${lines.map((line) => line.msg).join(' | ')}`);
  assert.ok(listening < ended, `listening (line ${listening}) before the dead run's ending (line ${ended})`);
});

recovery('treats a recorded pid now used by another process (other start time) as dead, and leaves that process alone', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED);
  const forked = path.join(h.runDir(record), 'forked.json');
  await waitFor(() => fs.existsSync(forked), { message: 'forked.json' });
  await first.stop();
  const identity = processIdentity(record.pid)!;
  await writeJsonAtomic(forked, { pid: record.pid, startTime: identity.startTime + 1 });

  await h.registered();
  const failed = await master.waitForStatus('t1', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.ok(isAlive(record.pid), 'the process now holding the pid is not ours: untouched');
});

recovery('after a reboot trusts no recorded pid: every executor is dead, none is signalled, the agent keeps its ID', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  executor.send(update('t1', 'TASK_RUNNING'));
  await executor.waitForEvent('ACKNOWLEDGED');
  await first.stop();
  executor.terminate();
  fs.writeFileSync(path.join(h.meta, 'boot_id'), 'a-boot-before-this-one\n');

  await h.registered();
  const failed = await master.waitForStatus('t1', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.ok(isAlive(record.pid), 'a recorded pid is not trusted after a reboot: nothing is signalled');
  assert.not.ok(fs.existsSync(path.join(h.runDir(record), 'forked.json')), 'the untrustworthy forked.json is deleted');
  assert.is(fs.readFileSync(path.join(h.meta, 'boot_id'), 'utf8').trim(), bootId());
  assert.is((await master.waitForCall('REREGISTER')).agentInfo.id, 'agent-1');
  const late = await h.connect();
  late.send(subscribeCall(record));
  await late.waitForEvent('SHUTDOWN');
});

recovery('reports a task its executor never received TASK_LOST/REASON_AGENT_RESTARTED and shuts the idle executor down', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { record } = await h.launch('t1', 'e1', CHECKPOINTED); // never subscribes: never gets its LAUNCH
  await waitFor(() => fs.existsSync(path.join(h.runDir(record), 'forked.json')), { message: 'forked.json' });
  await first.stop();

  const second = await h.agent();
  const starting = second.start();
  const executor = await h.connect();
  executor.send(subscribeCall(record));
  await executor.waitForEvent('SUBSCRIBED');
  await starting;
  const lost = await master.waitForStatus('t1', 'TASK_LOST');
  assert.is(lost.reason, 'REASON_AGENT_RESTARTED');
  assert.is(executor.eventsOf('LAUNCH').length, 0);
  // Found by the kill storm: the executor, left with no task and none coming, is shut down
  // (nothing else would ever end it).
  await executor.waitForEvent('SHUTDOWN');
});

recovery('notices a recovered executor dying while running (not its child): TASK_FAILED, run completed', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  executor.send(update('t1', 'TASK_RUNNING'));
  await executor.waitForEvent('ACKNOWLEDGED');
  await first.stop();
  executor.terminate();
  const second = await h.agent();
  const starting = second.start();
  const again = await h.connect();
  again.send(subscribeCall(record));
  await again.waitForEvent('SUBSCRIBED');
  await starting;
  await waitFor(() => second.status === 'RUNNING', { message: 'RUNNING' });
  process.kill(record.pid, 'SIGKILL');
  const failed = await master.waitForStatus('t1', 'TASK_FAILED');
  assert.is(failed.reason, 'REASON_EXECUTOR_TERMINATED');
  await waitFor(() => fs.existsSync(path.join(h.runDir(record), 'executor.sentinel')), { message: 'executor.sentinel' });
});

recovery('strict recovery refuses a corrupt framework.json naming it; non-strict recovers the rest and counts the error', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const broken = await h.launch('t1', 'e1', framework('f2', true));
  const good = await h.launch('t2', 'e2', framework('f3', true));
  const frameworkJson = path.join(h.meta, 'agents', 'agent-1', 'frameworks', 'f2', 'framework.json');
  await waitFor(() => fs.existsSync(path.join(h.runDir(good.record), 'forked.json')), { message: 'forked.json' });
  await first.stop();
  fs.writeFileSync(frameworkJson, '{"id": "f2", "na');

  const strict = await h.agent();
  try {
    await strict.start();
    assert.unreachable('strict recovery started');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CHECKPOINT_CORRUPT');
    const message = (error as Error).message;
    assert.ok(message.includes(frameworkJson), message);
    assert.match(message, /--strict=false/);
    assert.ok(message.includes(path.join(h.meta, 'agents', 'latest')), message);
  }
  await strict.closed;
  assert.is(fs.readFileSync(frameworkJson, 'utf8'), '{"id": "f2", "na', 'strict recovery changes nothing');
  assert.is(master.callsOf('REREGISTER').length, 0);

  const lenient = await h.agent({ strict: false });
  const starting = lenient.start();
  const executor = await h.connect();
  executor.send(subscribeCall(good.record));
  await executor.waitForEvent('SUBSCRIBED');
  await starting;
  const reregister = await master.waitForCall('REREGISTER');
  assert.equal(reregister.frameworks.map((f) => f.id), ['f3']);
  assert.match(await metricsOf(lenient), /lifeline_agent_recovery_errors_total 1/);
  assert.is(((await stateOf(lenient)).body as { recoveryErrors: number }).recoveryErrors, 1);
  assert.ok(isAlive(broken.record.pid), 'what could not be read is not touched');
});

recovery('refuses to recover with changed resources, naming both values; after a reboot registers as a new agent', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  await waitFor(() => fs.existsSync(path.join(h.meta, 'agents', 'latest')), { message: 'meta/agents/latest' });
  await first.stop();
  const changed = { ...RESOURCES, cpus: 2 };
  const refused = await h.agent({ resources: changed });
  try {
    await refused.start();
    assert.unreachable('recovered with other resources');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_RECOVERY');
    assert.match((error as Error).message, /cpus:4;mem:4096;disk:10000 \(recorded\) vs cpus:2;mem:4096;disk:10000 \(now\)/);
    assert.ok((error as Error).message.includes('agent.json'));
  }
  fs.writeFileSync(path.join(h.meta, 'boot_id'), 'a-boot-before-this-one\n');
  master.agentId = 'agent-2';
  await h.registered({ resources: changed });
  assert.is(master.callsOf('REGISTER').length, 2);
  assert.is(master.callsOf('REREGISTER').length, 0);
  await waitFor(() => fs.readlinkSync(path.join(h.meta, 'agents', 'latest')) === 'agent-2', { message: 'the new agent checkpointed' });
});

recovery('--recover=cleanup kills live executors, records their outbox and terminal statuses, and stops without registering', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const shimLike = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED, 'agent-outbox-executor.mjs');
  const plain = await h.launchAndSubscribe('t2', 'e2', CHECKPOINTED);
  for (const [executor, taskId] of [[shimLike.executor, 't1'], [plain.executor, 't2']] as const) {
    executor.send(update(taskId, 'TASK_RUNNING'));
    await executor.waitForEvent('ACKNOWLEDGED');
  }
  await first.stop();
  shimLike.executor.terminate();
  plain.executor.terminate();
  const calls = master.calls.length;

  const cleaner = await h.agent({ recover: 'cleanup' });
  await cleaner.start();
  await withTimeout(cleaner.closed, 10_000, 'the cleanup agent to close');
  assert.not.ok(isAlive(shimLike.record.pid));
  assert.not.ok(isAlive(plain.record.pid));
  assert.not.ok(master.calls.slice(calls).some((call) => call.type === 'REGISTER' || call.type === 'REREGISTER'), 'no registration');
  const last = (taskId: string, record: typeof plain.record) => readLog(h.taskUpdates(record, taskId)).filter((r) => r.kind === 'UPDATE').at(-1);
  const killed = last('t1', shimLike.record);
  assert.is(killed?.kind === 'UPDATE' && killed.status.state, 'TASK_KILLED', 'the status the executor recorded on SIGTERM');
  const failed = last('t2', plain.record);
  assert.is(failed?.kind === 'UPDATE' && failed.status.reason, 'REASON_EXECUTOR_TERMINATED');
  assert.ok(fs.existsSync(path.join(h.meta, 'agents', 'latest')), 'meta/agents/latest is kept');

  // The next normal start re-registers and forwards them.
  await h.registered();
  await master.waitForStatus('t1', 'TASK_KILLED');
  await master.waitForStatus('t2', 'TASK_FAILED');
});

recovery('shutdown() removes meta/agents/latest and unregisters; the next agent starts afresh', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  const stopping = first.shutdown();
  await executor.waitForEvent('SHUTDOWN');
  const killed = update('t1', 'TASK_KILLED');
  executor.send(killed);
  await executor.waitForEvent('ACKNOWLEDGED');
  process.kill(record.pid, 'SIGTERM');
  await stopping;
  await master.waitForCall('UNREGISTER');
  assert.not.ok(fs.existsSync(path.join(h.meta, 'agents', 'latest')));
  await h.registered();
  assert.is(master.callsOf('REGISTER').length, 2);
});

recovery('the master\'s SHUTDOWN shuts every executor down and removes meta/agents/latest, without unregistering', async () => {
  const master = await h.startMaster();
  const agent = await h.registered();
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  master.send({ type: 'SHUTDOWN', message: 'agent removed' });
  await executor.waitForEvent('SHUTDOWN');
  // The fake executor ignores it: its process is killed after the grace period.
  await withTimeout(agent.closed, 10_000, 'the agent to stop');
  assert.not.ok(isAlive(record.pid));
  assert.not.ok(fs.existsSync(path.join(h.meta, 'agents', 'latest')));
  assert.is(master.callsOf('UNREGISTER').length, 0);
});

recovery('a master that answers the re-registration with SHUTDOWN gets every recovered executor shut down', async () => {
  const master = await h.startMaster();
  const first = await h.registered();
  const { executor, record } = await h.launchAndSubscribe('t1', 'e1', CHECKPOINTED);
  await first.stop();
  executor.terminate();
  master.reregisterAnswer = 'SHUTDOWN';
  const second = await h.agent();
  const starting = second.start();
  const again = await h.connect();
  again.send(subscribeCall(record));
  await again.waitForEvent('SUBSCRIBED');
  await starting;
  await again.waitForEvent('SHUTDOWN');
  await withTimeout(second.closed, 10_000, 'the agent to stop');
  assert.not.ok(isAlive(record.pid));
  assert.not.ok(fs.existsSync(path.join(h.meta, 'agents', 'latest')));
});

recovery.run();
