// A restarted master kills nothing (issue 12): real master, agent, `lifeline run --checkpoint` and a
// SchedulerDriver framework as processes; the master is killed with SIGKILL under running tasks and
// started again on the same port, with a --work_dir registry and without one. Both tasks run to
// TASK_FINISHED, nothing is TASK_LOST or killed, both frameworks exit 0.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { freePort, getJson, lifeline, Proc, removeDir, tempDir, waitFor } from '../helpers.js';
import { kill9, masterState, startMasterAt } from '../../harness/lib/masters.js';

interface Ctx {
  procs: Proc[];
  dirs: string[];
}

const Restart = suite<Ctx>('A restarted master kills nothing');

Restart.before.each((ctx) => {
  ctx.procs = [];
  ctx.dirs = [];
});
Restart.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  for (const dir of ctx.dirs) removeDir(dir);
});

const FRAMEWORK = fileURLToPath(new URL('../fixtures/failover-framework.js', import.meta.url));
const TASK = 'for i in $(seq 8); do sleep 1; done';

function lines(proc: Proc): Array<Record<string, unknown>> {
  return proc.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function startAgent(ctx: Ctx, master: string, flags: string[] = []): Promise<{ agent: Proc; address: string; workDir: string }> {
  const workDir = tempDir('ll-ha-agent-');
  ctx.dirs.push(workDir);
  const port = await freePort();
  const agent = lifeline([
    'agent', `--master=${master}`, `--work_dir=${workDir}`, `--runtime_dir=${path.join(workDir, 'rt')}`, '--ip=127.0.0.1', `--port=${port}`,
    '--registration_backoff_factor=100ms', '--resources=cpus:4;mem:4096;disk:10000', ...flags,
  ]);
  ctx.procs.push(agent);
  const address = `127.0.0.1:${port}`;
  await waitFor(async () => (await getJson(`http://${address}/state`)).status === 200 && ((await getJson(`http://${address}/state`)).body as { status?: string }).status === 'RUNNING', {
    timeoutMs: 15_000,
    message: `agent RUNNING\n${agent.stderr.slice(-2000)}`,
  });
  return { agent, address, workDir };
}

async function restartUnderTasks(ctx: Ctx, masterFlags: string[]): Promise<void> {
  const port = await freePort();
  const master = `127.0.0.1:${port}`;
  let proc = await startMasterAt(port, masterFlags);
  ctx.procs.push(proc);
  await startAgent(ctx, master);
  const run = lifeline(['run', `--master=${master}`, '--checkpoint', `--command=${TASK}`, '--name=restart', '--json']);
  const framework = new Proc(process.execPath, [FRAMEWORK, master, TASK]);
  ctx.procs.push(run, framework);
  await run.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });
  await framework.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });

  await kill9(proc);
  proc = await startMasterAt(port, masterFlags);
  ctx.procs.push(proc);

  const runExit = await run.waitForExit(40_000);
  const frameworkExit = await framework.waitForExit(40_000);
  const runStates = lines(run).filter((l) => l.type === 'UPDATE').map((l) => (l.status as { state: string }).state);
  const frameworkStates = lines(framework).filter((l) => l.type === 'UPDATE').map((l) => l.state as string);
  const why = `\nrun: ${run.stdout}\n${run.stderr}\nframework: ${framework.stdout}\n${framework.stderr}\nmaster: ${proc.stderr.slice(-3000)}`;
  assert.is(runExit.code, 0, why);
  assert.is(frameworkExit.code, 0, why);
  for (const states of [runStates, frameworkStates]) {
    assert.is(states.at(-1), 'TASK_FINISHED', why);
    assert.not.ok(states.some((state) => state === 'TASK_LOST' || state === 'TASK_KILLED' || state === 'TASK_FAILED'), why);
  }
  // Every framework subscribed twice (before and after the restart): the same framework both times.
  for (const out of [run, framework]) {
    const ids = lines(out).filter((l) => l.type === 'SUBSCRIBED').map((l) => l.frameworkId);
    assert.ok(ids.length >= 2 && ids.every((id) => id === ids[0]), why);
  }
}

Restart('with a --work_dir registry: lifeline run and a SchedulerDriver framework end as their tasks end', async (ctx) => {
  const dir = tempDir('ll-ha-master-');
  ctx.dirs.push(dir);
  await restartUnderTasks(ctx, [`--work_dir=${dir}`]);
  const registry = JSON.parse(fs.readFileSync(path.join(dir, 'registry.json'), 'utf8')) as { epoch: number; agents: unknown[] };
  assert.is(registry.epoch, 2, 'two terms: the first start and the restart');
  assert.is(registry.agents.length, 1);
});

Restart('without a registry: no TASK_LOST on a guess either', async (ctx) => {
  await restartUnderTasks(ctx, []);
});

Restart('an agent removed while the master was down is told to shut down when it returns', async (ctx) => {
  const dir = tempDir('ll-ha-master-');
  ctx.dirs.push(dir);
  const port = await freePort();
  const master = `127.0.0.1:${port}`;
  const flags = [`--work_dir=${dir}`, '--agent_reregister_timeout=1secs'];
  let proc = await startMasterAt(port, flags);
  ctx.procs.push(proc);
  const { agent, workDir } = await startAgent(ctx, master);
  const agentId = (await waitFor(async () => (await masterState(port))?.agents[0]?.id, { message: 'agent registered' }))!;
  await kill9(proc);
  await agent.stop(); // SIGTERM: the agent stops, leaving its checkpoint (it means to come back)

  // The master comes back without the agent: after the window the agent is removed, durably.
  proc = await startMasterAt(port, flags);
  ctx.procs.push(proc);
  await waitFor(async () => (await masterState(port))?.agents.find((a) => a.id === agentId)?.status === 'REMOVED', { timeoutMs: 10_000, message: `agent ${agentId} REMOVED\n${proc.stderr.slice(-2000)}` });
  await kill9(proc);
  proc = await startMasterAt(port, flags);
  ctx.procs.push(proc);

  // A third master (from the registry) knows it was removed: the returning agent is told to shut down.
  const back = lifeline(['agent', `--master=${master}`, `--work_dir=${workDir}`, `--runtime_dir=${path.join(workDir, 'rt')}`, '--ip=127.0.0.1', `--port=${await freePort()}`, '--registration_backoff_factor=100ms', '--resources=cpus:4;mem:4096;disk:10000']);
  ctx.procs.push(back);
  await back.waitForOutput(/told this agent to shut down/, { timeoutMs: 20_000 });
  const registry = JSON.parse(fs.readFileSync(path.join(dir, 'registry.json'), 'utf8')) as { agents: unknown[]; removedAgents: Array<{ id: string }> };
  assert.equal(registry.removedAgents.map((a) => a.id), [agentId]);
  assert.equal(registry.agents, []);
});

Restart.run();
