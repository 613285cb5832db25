// Several masters, one leader, on a real etcd (issue 12): agents and frameworks given
// --master=etcd://… follow the leader; kill -9 of the leader under running tasks hands over to a
// standby within the lease TTL plus a few seconds, and nothing is lost or killed; a master whose
// etcd goes away stops serving. Skips (one line) without etcd on the PATH, fails so under CI=true.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, getJson, lifeline, Proc, removeDir, tempDir, waitFor } from '../helpers.js';
import { requireEtcd, startEtcd, type EtcdServer } from '../../harness/lib/etcd.js';
import { kill9, masterState, startMasterAt } from '../../harness/lib/masters.js';

interface Ctx {
  etcd: EtcdServer;
  procs: Proc[];
  dirs: string[];
}

const HA = suite<Ctx>('Masters on etcd fail over without losing a task');
const RUN = requireEtcd('test/e2e/high-availability.test.ts');
const FRAMEWORK = fileURLToPath(new URL('../fixtures/failover-framework.js', import.meta.url));
const EXECUTOR = fileURLToPath(new URL('../fixtures/numbered-executor.js', import.meta.url));
const NUMBERED = 80;
const TTL = '2secs';
const TASK = 'for i in $(seq 10); do sleep 1; done';

HA.before.each(async (ctx) => {
  ctx.procs = [];
  ctx.dirs = [];
  if (RUN) ctx.etcd = await startEtcd();
});
HA.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.etcd?.stop();
  for (const dir of ctx.dirs) removeDir(dir);
});

function lines(proc: Proc): Array<Record<string, unknown>> {
  return proc.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function masters(ctx: Ctx, count: number): Promise<{ ports: number[]; procs: Map<number, Proc>; url: string; flags: string[] }> {
  const url = `etcd://${ctx.etcd.endpoint}/lifeline-test`;
  const flags = [`--registry=${url}`, `--leader_lease_ttl=${TTL}`, '--agent_reregister_timeout=20secs'];
  const ports: number[] = [];
  const procs = new Map<number, Proc>();
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const proc = await startMasterAt(port, flags);
    ctx.procs.push(proc);
    ports.push(port);
    procs.set(port, proc);
  }
  return { ports, procs, url, flags };
}

async function leaderOf(ports: number[]): Promise<number | undefined> {
  for (const port of ports) if ((await masterState(port))?.leading === true) return port;
  return undefined;
}

async function startAgent(ctx: Ctx, master: string): Promise<Proc> {
  const workDir = tempDir('ll-ha-agent-');
  ctx.dirs.push(workDir);
  const port = await freePort();
  const agent = lifeline([
    'agent', `--master=${master}`, `--work_dir=${workDir}`, `--runtime_dir=${path.join(workDir, 'rt')}`, '--ip=127.0.0.1', `--port=${port}`,
    '--registration_backoff_factor=100ms', '--resources=cpus:4;mem:4096;disk:10000',
  ]);
  ctx.procs.push(agent);
  await waitFor(async () => ((await getJson(`http://127.0.0.1:${port}/state`)).body as { status?: string }).status === 'RUNNING', {
    timeoutMs: 20_000,
    message: `agent RUNNING\n${agent.stderr.slice(-2000)}`,
  });
  return agent;
}

HA('kill -9 of the leader: a standby leads within the TTL plus a few seconds, the agent and both frameworks follow, nothing is lost', async (ctx) => {
  if (!RUN) return;
  const { ports, procs, url, flags } = await masters(ctx, 3);
  const first = await waitFor(() => leaderOf(ports), { timeoutMs: 15_000, message: 'a leader' });
  // A standby names the leader in /state, once its etcd watch has seen the leader win.
  const standby = ports.find((port) => port !== first)!;
  await waitFor(async () => (await masterState(standby))?.leader === `127.0.0.1:${first}`, { timeoutMs: 10_000, message: `the standby on ${standby} naming the leader 127.0.0.1:${first}` });
  await startAgent(ctx, url);
  const list = ports.map((port) => `127.0.0.1:${port}`).join(',');
  const run = lifeline(['run', `--master=${url}`, '--checkpoint', `--command=${TASK}`, '--name=ha', '--json']);
  // The SchedulerDriver is given the list: it follows the ERROR of a standby naming the leader.
  const framework = new Proc(process.execPath, [FRAMEWORK, list, TASK]);
  // A custom executor sending numbered updates through the failover, to a `run` that prints them.
  const numbered = lifeline(['run', `--master=${url}`, '--checkpoint', `--executor=${process.execPath} ${EXECUTOR} ${NUMBERED} 100`, '--name=numbered', '--json']);
  ctx.procs.push(run, framework, numbered);
  await run.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });
  await framework.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });
  await numbered.waitForOutput(/"update 10"/, { timeoutMs: 30_000, stream: 'stdout' });

  const killedAt = Date.now();
  await kill9(procs.get(first)!);
  const rest = ports.filter((port) => port !== first);
  const next = await waitFor(() => leaderOf(rest), { timeoutMs: 15_000, intervalMs: 50, message: 'a new leader' });
  const handover = Date.now() - killedAt;
  assert.ok(handover < 2_000 + 5_000, `a standby led after ${handover} ms`);

  const why = () => `\nrun: ${run.stdout}\n${run.stderr}\nframework: ${framework.stdout}\n${framework.stderr}\nnew leader: ${procs.get(next)!.stderr.slice(-3000)}`;
  assert.is((await run.waitForExit(45_000)).code, 0, why());
  assert.is((await framework.waitForExit(45_000)).code, 0, why());
  for (const states of [lines(run).filter((l) => l.type === 'UPDATE').map((l) => (l.status as { state: string }).state), lines(framework).filter((l) => l.type === 'UPDATE').map((l) => l.state as string)]) {
    assert.is(states.at(-1), 'TASK_FINISHED', why());
    assert.not.ok(states.some((state) => state === 'TASK_LOST' || state === 'TASK_KILLED'), why());
  }
  // Every numbered update arrived, in order (a resend after the failover may repeat the latest).
  assert.is((await numbered.waitForExit(45_000)).code, 0, `${numbered.stdout}\n${numbered.stderr}`);
  // (Reconciliation answers carry no uuid: they are the master's summary, not the executor's updates.)
  const seen = lines(numbered).filter((l) => l.type === 'UPDATE' && (l.status as { uuid: string | null }).uuid !== null).map((l) => Number(/^update (\d+)$/.exec((l.status as { message: string | null }).message ?? '')?.[1] ?? -1));
  const distinct = seen.filter((n, i) => i === 0 || n !== seen[i - 1]);
  assert.equal(distinct, Array.from({ length: NUMBERED + 1 }, (_, i) => i), `updates as delivered: ${seen.join(' ')}`);

  const state = await masterState(next);
  assert.is(state?.agents.filter((a) => a.status === 'ACTIVE').length, 1, 'the agent re-registered with the new leader');
  assert.ok((state?.epoch ?? 0) > 0);

  // The old leader, restarted, is a standby naming the new leader.
  const again = await startMasterAt(first, flags);
  ctx.procs.push(again);
  await waitFor(async () => (await masterState(first))?.leader === `127.0.0.1:${next}`, { timeoutMs: 10_000, message: 'restarted master names the leader' });
  assert.is((await masterState(first))?.leading, false);
});

/** Every write to the registry, oldest first, as etcd's history of the log key has them. */
async function registryHistory(endpoint: string): Promise<Array<{ epoch: number; leader: string; ops: string[] }>> {
  const client = new Etcd3({ hosts: `http://${endpoint}` });
  try {
    const key = 'lifeline-test/registry/log';
    const latest = Number((await client.get(key).exec()).kvs[0]?.mod_revision ?? 0);
    const history: Array<{ epoch: number; leader: string; ops: string[] }> = [];
    let seen = 0;
    const watcher = await client.watch().key(key).startRevision('1').create();
    watcher.on('put', (kv) => {
      history.push(JSON.parse(kv.value.toString('utf8')) as { epoch: number; leader: string; ops: string[] });
      seen = Number(kv.mod_revision);
    });
    try {
      await waitFor(() => seen >= latest, { timeoutMs: 5_000, message: `the registry history up to revision ${latest}` });
    } finally {
      await watcher.cancel();
    }
    return history;
  } finally {
    client.close();
  }
}

HA('an agent removed during a failover is told to shut down when it returns; the registry history shows one writer at a time', async (ctx) => {
  if (!RUN) return;
  const url = `etcd://${ctx.etcd.endpoint}/lifeline-test`;
  const flags = [`--registry=${url}`, `--leader_lease_ttl=${TTL}`, '--agent_reregister_timeout=1secs'];
  const ports = [await freePort(), await freePort()];
  const procs = new Map<number, Proc>();
  for (const port of ports) {
    const proc = await startMasterAt(port, flags);
    ctx.procs.push(proc);
    procs.set(port, proc);
  }
  const first = await waitFor(() => leaderOf(ports), { timeoutMs: 15_000, message: 'a leader' });
  const agent = await startAgent(ctx, url);
  const agentId = (await waitFor(async () => (await masterState(first))?.agents[0]?.id, { message: 'agent registered' }))!;
  const workDir = /--work_dir=(\S+)/.exec(agent.child.spawnargs.join(' '))![1]!;
  await agent.stop();
  await kill9(procs.get(first)!);
  const next = ports.find((port) => port !== first)!;
  await waitFor(async () => (await masterState(next))?.agents.find((a) => a.id === agentId)?.status === 'REMOVED', {
    timeoutMs: 15_000,
    message: `agent removed by the new leader\n${procs.get(next)!.stderr.slice(-2000)}`,
  });
  const back = lifeline(['agent', `--master=${url}`, `--work_dir=${workDir}`, `--runtime_dir=${path.join(workDir, 'rt')}`, '--ip=127.0.0.1', `--port=${await freePort()}`, '--registration_backoff_factor=100ms', '--resources=cpus:4;mem:4096;disk:10000']);
  ctx.procs.push(back);
  await back.waitForOutput(/told this agent to shut down/, { timeoutMs: 20_000 });

  const history = await registryHistory(ctx.etcd.endpoint);
  assert.ok(history.length >= 2, JSON.stringify(history));
  const epochs = history.map((entry) => entry.epoch);
  assert.equal(epochs, [...epochs].sort((a, b) => a - b), `writes never go back to an older term: ${epochs.join(' ')}`);
  // Each term has one writer: the master that led it.
  const writers = new Map<number, Set<string>>();
  for (const entry of history) writers.set(entry.epoch, (writers.get(entry.epoch) ?? new Set()).add(entry.leader));
  assert.ok([...writers.values()].every((set) => set.size === 1), JSON.stringify([...writers].map(([e, w]) => [e, [...w]])));
  assert.equal([...writers.keys()].length, 2, 'admitted by the first leader, removed by the second');
});

HA('SIGTERM makes the leader resign: a standby leads well before the lease would lapse', async (ctx) => {
  if (!RUN) return;
  const url = `etcd://${ctx.etcd.endpoint}/lifeline-test`;
  const flags = [`--registry=${url}`, '--leader_lease_ttl=20secs'];
  const ports = [await freePort(), await freePort()];
  const procs = new Map<number, Proc>();
  for (const port of ports) {
    const proc = await startMasterAt(port, flags);
    ctx.procs.push(proc);
    procs.set(port, proc);
  }
  const first = await waitFor(() => leaderOf(ports), { timeoutMs: 15_000, message: 'a leader' });
  const stoppedAt = Date.now();
  await procs.get(first)!.stop();
  assert.is(procs.get(first)!.exit?.code, 0);
  const next = ports.find((port) => port !== first)!;
  await waitFor(() => leaderOf([next]), { timeoutMs: 15_000, intervalMs: 50, message: 'the standby leads' });
  const took = Date.now() - stoppedAt;
  assert.ok(took < 10_000, `the standby led ${took} ms after SIGTERM, with a 20 s lease`);
});

HA('etcd stopped under the leader: it stops serving and exits', async (ctx) => {
  if (!RUN) return;
  const { ports, procs } = await masters(ctx, 1);
  const leader = await waitFor(() => leaderOf(ports), { timeoutMs: 15_000, message: 'a leader' });
  await ctx.etcd.proc.stop();
  const exit = await procs.get(leader)!.waitForExit(15_000);
  assert.is(exit.code, 1, procs.get(leader)!.stderr.slice(-2000));
  assert.match(procs.get(leader)!.stderr, /lost leadership/);
});

HA.run();
