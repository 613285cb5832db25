// `lifeline run` and `lifeline state` end to end: a real master and agent (built CLI, loopback,
// temp dir), a real task under the command shim, and every status update acknowledged.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifeline, ROOT, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

interface Ctx {
  cluster: Cluster;
  procs: Proc[];
}

interface UpdateLine {
  type: 'UPDATE';
  status: { taskId: string; state: string; reason: string | null; source: string | null; message: string | null; uuid: string | null; agentId: string | null; executorId: string | null; timestamp: number };
}

function jsonLines(proc: Proc): Array<{ type: string } & Record<string, unknown>> {
  return proc.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

function updates(proc: Proc): UpdateLine['status'][] {
  return jsonLines(proc).filter((l) => l.type === 'UPDATE').map((l) => (l as unknown as UpdateLine).status);
}

const Run = suite<Ctx>('lifeline run end to end');

Run.before.each(async (ctx) => {
  ctx.procs = [];
  ctx.cluster = await startCluster();
});
Run.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.cluster.stop();
});

function run(ctx: Ctx, args: string[]): Proc {
  const proc = lifeline(['run', `--master=${ctx.cluster.masterAddress}`, ...args]);
  ctx.procs.push(proc);
  return proc;
}

Run('runs a task that finishes: exit 0, TASK_FINISHED, and SUBSCRIBED as the first --json line', async (ctx) => {
  const proc = run(ctx, ['--command=echo hello', '--name=e2e-finish', '--json']);
  const exit = await proc.waitForExit(30_000);
  assert.is(exit.code, 0, `${proc.stdout}\n${proc.stderr}`);
  const lines = jsonLines(proc);
  assert.is(lines[0]!.type, 'SUBSCRIBED');
  assert.type(lines[0]!.frameworkId, 'string');
  const states = updates(proc);
  const last = states.at(-1)!;
  assert.is(last.state, 'TASK_FINISHED');
  assert.match(last.taskId, /^e2e-finish-[0-9a-f]{8}$/);
  assert.type(last.uuid, 'string');
  assert.type(last.agentId, 'string');
  assert.is(last.executorId, last.taskId);
  assert.ok(states.some((s) => s.state === 'TASK_RUNNING'), JSON.stringify(states));
});

Run('exits 3 when the task exits 3, with TASK_FAILED and a message mentioning 3', async (ctx) => {
  const proc = run(ctx, ['--command=exit 3', '--json']);
  const exit = await proc.waitForExit(30_000);
  assert.is(exit.code, 3, `${proc.stdout}\n${proc.stderr}`);
  const last = updates(proc).at(-1)!;
  assert.is(last.state, 'TASK_FAILED');
  assert.match(last.message ?? '', /\b3\b/);
});

Run('prints readable lines without --json', async (ctx) => {
  const proc = run(ctx, ['--command=true', '--name=readable']);
  const exit = await proc.waitForExit(30_000);
  assert.is(exit.code, 0, `${proc.stdout}\n${proc.stderr}`);
  assert.ok(/^\S+Z readable-[0-9a-f]{8} TASK_FINISHED \(SOURCE_EXECUTOR[^)]*\)/m.test(proc.stdout), proc.stdout);
});

Run('kills the task on SIGINT and exits 1 after TASK_KILLED', async (ctx) => {
  const proc = run(ctx, ['--command=sleep 30', '--json']);
  await proc.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });
  proc.signal('SIGINT');
  const exit = await proc.waitForExit(30_000);
  assert.is(exit.code, 1, `${proc.stdout}\n${proc.stderr}`);
  assert.is(updates(proc).at(-1)!.state, 'TASK_KILLED');
});

Run('runs a task under --executor (the example custom executor): progress updates in order, then FINISHED', async (ctx) => {
  const executor = `${process.execPath} ${path.join(ROOT, 'examples', 'custom-executor.mjs')}`;
  const proc = run(ctx, [`--executor=${executor}`, '--command=payload', '--json']);
  const exit = await proc.waitForExit(30_000);
  assert.is(exit.code, 0, `${proc.stdout}\n${proc.stderr}`);
  const states = updates(proc);
  assert.is(states.at(-1)!.state, 'TASK_FINISHED');
  assert.ok(states.every((s) => s.executorId === `${s.taskId}-executor`), JSON.stringify(states));
  const progress = states.map((s) => s.message).filter((m): m is string => m !== null && m.startsWith('progress'));
  assert.ok(progress.length > 1, JSON.stringify(states));
  assert.equal(progress, [...progress].sort(), 'progress updates in order');
  assert.ok(progress.every((m) => m.includes('payload')), 'the task data reached the executor');
});

Run.run();

const State = suite<Ctx>('lifeline state end to end');

State.before.each(async (ctx) => {
  ctx.procs = [];
  ctx.cluster = await startCluster();
});
State.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.cluster.stop();
});

State("prints the master's and the agent's /state as JSON", async (ctx) => {
  const master = lifeline(['state', `--master=${ctx.cluster.masterAddress}`]);
  const agent = lifeline(['state', `--agent=${ctx.cluster.agentAddress}`]);
  ctx.procs.push(master, agent);
  assert.is((await master.waitForExit()).code, 0, master.stderr);
  assert.is((await agent.waitForExit()).code, 0, agent.stderr);
  const masterState = JSON.parse(master.stdout) as { agents: Array<{ id: string; status: string }> };
  const agentState = JSON.parse(agent.stdout) as { id: string; status: string };
  assert.is(agentState.status, 'RUNNING');
  assert.equal(masterState.agents.map((a) => [a.id, a.status]), [[agentState.id, 'ACTIVE']]);
});

State.run();
