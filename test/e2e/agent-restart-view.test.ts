// What an operator sees of an agent restart without a browser (issue 15): `lifeline run` says the
// agent went away and came back, `lifeline logs --follow` reads on across the restart, and the
// master's /state keeps the task's history and the agent's events.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getJson, lifeline, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

interface Ctx {
  cluster?: Cluster;
  procs: Proc[];
}

const Restart = suite<Ctx>('an agent restart as operators see it');

Restart.before.each((ctx) => {
  ctx.procs = [];
});
Restart.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.cluster?.stop();
});

Restart('run prints the agent away and back; logs --follow keeps reading; /state keeps both histories', async (ctx) => {
  ctx.cluster = await startCluster();
  const { cluster } = ctx;
  const master = `--master=${cluster.masterAddress}`;
  const run = lifeline(['run', master, '--checkpoint', '--name=restart', '--command=for i in $(seq 16); do echo n$i; sleep 0.25; done']);
  ctx.procs.push(run);
  await run.waitForOutput(/ sandbox \S+ on agent/, { timeoutMs: 30_000, stream: 'stdout' });
  const taskId = /launching task (\S+)/.exec(run.stdout)![1]!;
  const follow = lifeline(['logs', taskId, master, '--follow']);
  ctx.procs.push(follow);
  await follow.waitForOutput(/n1\n/, { timeoutMs: 10_000, stream: 'stdout' });

  cluster.agent.child.kill('SIGKILL');
  await cluster.agent.waitForExit(10_000);
  await run.waitForOutput(/agent \S+ \(\S+\) disconnected; the task keeps running there, waiting up to 75s for it to re-register\n/, { timeoutMs: 10_000, stream: 'stdout' });
  await cluster.startAgent();
  await run.waitForOutput(/agent \S+ \(\S+\) re-registered after \d+\.\d s\n/, { timeoutMs: 20_000, stream: 'stdout' });

  assert.is((await run.waitForExit(30_000)).code, 0, `${run.stdout}\n${run.stderr}`);
  assert.is((await follow.waitForExit(20_000)).code, 0, follow.stderr);
  assert.is(follow.stdout, Array.from({ length: 16 }, (_, i) => `n${i + 1}\n`).join(''), 'every line once, in order, across the restart');

  const { body } = await getJson(`http://${cluster.masterAddress}/state`);
  const state = body as {
    agents: Array<{ events: Array<{ type: string; recovery?: { executors: number; resubscribed: number } }> }>;
    completedFrameworks: Array<{ tasks: Array<{ id: string; statuses: Array<{ state: string }> }> }>;
  };
  assert.equal(state.agents[0]!.events.map((event) => event.type), ['REGISTERED', 'DISCONNECTED', 'REREGISTERED']);
  const recovery = state.agents[0]!.events[2]!.recovery;
  assert.equal(recovery && { executors: recovery.executors, resubscribed: recovery.resubscribed }, { executors: 1, resubscribed: 1 });
  const task = state.completedFrameworks.flatMap((framework) => framework.tasks).find((entry) => entry.id === taskId)!;
  assert.equal(task.statuses.map((status) => status.state), ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
});

Restart.run();
