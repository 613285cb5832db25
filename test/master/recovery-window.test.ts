import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { removeDir, tempDir, waitFor } from '../helpers.js';
import { Harness } from './harness.js';

// A restarted master with a --work_dir registry (issue 12): the registry's agents are expected back,
// calls for tasks it does not know yet are held, never answered TASK_LOST on a guess.
const Window = suite<{ dir: string; hs: Harness[] }>('Master: the recovery window of a restarted master');
Window.before.each((ctx) => {
  ctx.dir = tempDir('ll-window-');
  ctx.hs = [];
});
Window.after.each(async (ctx) => {
  for (const h of ctx.hs) await h.stop();
  removeDir(ctx.dir);
});

async function master(ctx: { dir: string; hs: Harness[] }, options = {}): Promise<Harness> {
  const h = new Harness();
  ctx.hs.push(h);
  return h.start({ workDir: ctx.dir, ...options });
}

Window('holds a RECONCILE of an unknown task until the agent that has it re-registers, then answers its state', async (ctx) => {
  const first = await master(ctx);
  const { agentId } = await first.agent();
  await first.stop();

  const h = await master(ctx, { agentReregisterTimeoutMs: 30_000 });
  assert.equal((await h.state()).agents.map((a) => [a.id, a.status]), [[agentId, 'DISCONNECTED']]);
  const { peer: scheduler } = await h.scheduler({ id: 'fw-old', checkpoint: true });
  scheduler.send({ type: 'RECONCILE', taskIds: ['t-old'] });
  scheduler.send({ type: 'KILL', taskId: 'never-seen-by-anyone' });
  // Nothing comes back while the agent is away (no TASK_LOST on a guess).
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(scheduler.pending('UPDATE'), []);

  const task = { taskId: 't-old', name: 't', resources: { cpus: 1, mem: 1 }, command: { value: 'sleep 100' }, agentId };
  const back = await h.reregister(agentId, { frameworks: [{ id: 'fw-old', name: 'old', checkpoint: true }], tasks: [{ frameworkId: 'fw-old', executorId: 't-old', task, state: 'TASK_RUNNING' }] });
  const registered = await back.next('REREGISTERED');
  assert.is(registered.epoch, 2, 'the second term of this registry');
  const answers = [await scheduler.next('UPDATE'), await scheduler.next('UPDATE')].map((u) => [u.status.taskId, u.status.state]);
  // Every agent of the registry is back: the task nobody has is now known to be unknown.
  assert.equal(answers.sort(), [['never-seen-by-anyone', 'TASK_LOST'], ['t-old', 'TASK_RUNNING']]);
});

Window('a held KILL of a task the returning agent reports goes to that agent', async (ctx) => {
  const first = await master(ctx);
  const { agentId } = await first.agent();
  await first.stop();
  const h = await master(ctx, { agentReregisterTimeoutMs: 30_000 });
  const { peer: scheduler } = await h.scheduler({ id: 'fw-old', checkpoint: true });
  scheduler.send({ type: 'KILL', taskId: 't-old' });
  const task = { taskId: 't-old', name: 't', resources: { cpus: 1, mem: 1 }, command: { value: 'sleep 100' }, agentId };
  const back = await h.reregister(agentId, { frameworks: [{ id: 'fw-old', name: 'old', checkpoint: true }], tasks: [{ frameworkId: 'fw-old', executorId: 't-old', task, state: 'TASK_RUNNING' }] });
  await back.next('REREGISTERED');
  // With a registry the master has terms: the kill names this one (the registry's second start).
  assert.equal(await back.next('KILL_TASK'), { type: 'KILL_TASK', frameworkId: 'fw-old', taskId: 't-old', epoch: 2 });
  assert.equal(scheduler.pending('UPDATE'), [], 'no TASK_LOST was made up');
});

Window('keeps agents that did not come back when removing them would exceed --recovery_agent_removal_limit', async (ctx) => {
  const first = await master(ctx);
  const { agentId } = await first.agent();
  await first.agent({ hostname: 'node-2' });
  await first.stop();
  const h = await master(ctx, { agentReregisterTimeoutMs: 200, recoveryAgentRemovalLimit: 0.4 });
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal((await h.state()).agents.map((a) => a.status), ['DISCONNECTED', 'DISCONNECTED'], 'two of two missing is over 40%: none removed');
  const back = await h.reregister(agentId);
  assert.is((await back.next('REREGISTERED')).agentId, agentId);
});

Window('removes the agents that did not return once the window closes, and tells one that returns later to shut down', async (ctx) => {
  const first = await master(ctx);
  const { agentId } = await first.agent();
  await first.stop();
  const h = await master(ctx, { agentReregisterTimeoutMs: 200 });
  await waitFor(async () => (await h.state()).agents[0]?.status === 'REMOVED', { message: 'agent REMOVED' });
  const back = await h.reregister(agentId);
  const shutdown = await back.next('SHUTDOWN');
  assert.match(shutdown.message, /was removed/);
  assert.is(shutdown.epoch, 2);
});

Window.run();
