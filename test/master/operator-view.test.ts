// What the master keeps and says for operators (issue 15), against an in-process master with fake
// peers: each task's status history and sandbox in /state, the agent's address and history,
// AGENT_STATUS to the frameworks with tasks there, the operator's kill, and the web view's files.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_TASK_STATUSES, recordStatus, type TaskRecord } from '../../src/master/registry-tasks.js';
import { agentStatus, Harness, launchOne } from './harness.js';

const View = suite<{ h: Harness }>('the master keeps what operators look at');

View.before.each(async (ctx) => {
  ctx.h = await new Harness().start({ agentReregisterTimeoutMs: 60_000 });
});
View.after.each(async (ctx) => {
  await ctx.h.stop();
});

interface TaskJson {
  id: string;
  sandbox: string | null;
  statuses: Array<{ state: string; source: string | null; message: string | null }>;
}

View('keeps each task\'s status history once per uuid, its sandbox, and the agent\'s address and history', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent({ httpAddress: '127.0.0.1:5051' } as never);
  const { peer: scheduler } = await h.scheduler({ checkpoint: true });
  const { run } = await launchOne(scheduler, agent, agentId);
  const frameworkId = run.frameworkInfo.id;
  const running = agentStatus(agentId, 't1', 'TASK_RUNNING');
  for (let i = 0; i < 3; i++) agent.send({ type: 'STATUS_UPDATE', frameworkId, status: running, sandbox: '/w/sandboxes/x' });
  await scheduler.next('UPDATE');
  const state = await h.state();
  const [a] = state.agents;
  assert.is(a!.address, '127.0.0.1:5051');
  assert.type(a!.lastSeen, 'number');
  assert.equal(a!.events.map((e) => e.type), ['REGISTERED']);
  const task = state.frameworks[0]!.tasks[0] as unknown as TaskJson;
  assert.is(task.sandbox, '/w/sandboxes/x');
  assert.equal(task.statuses.map((s) => [s.state, s.source]), [['TASK_STAGING', 'SOURCE_MASTER'], ['TASK_RUNNING', 'SOURCE_EXECUTOR']]);

  // The agent goes away and comes back: the framework hears both, and the history shows both.
  agent.close();
  const away = await scheduler.next('AGENT_STATUS');
  assert.equal({ ...away, timestamp: 0 }, { type: 'AGENT_STATUS', agentId, hostname: 'node-1', status: 'DISCONNECTED', timestamp: 0, reregisterTimeoutMs: 60_000 });
  const again = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }],
    tasks: [{ frameworkId, executorId: 't1', task: run.task, state: 'TASK_RUNNING', sandbox: '/w/sandboxes/x' }],
    recovery: { recoveredAt: 1234, durationMs: 412, executors: 1, resubscribed: 1 },
  } as never);
  await again.next('REREGISTERED');
  const back = await scheduler.next('AGENT_STATUS');
  assert.is(back.status, 'REREGISTERED');
  assert.type(back.awayMs, 'number');
  const events = (await h.state()).agents[0]!.events;
  assert.equal(events.map((e) => e.type), ['REGISTERED', 'DISCONNECTED', 'REREGISTERED']);
  assert.is(events[2]!.awayMs, back.awayMs);
  assert.equal(events[2]!.recovery, { recoveredAt: 1234, durationMs: 412, executors: 1, resubscribed: 1 });
});

View('kills a task for an operator by POST, and refuses an unknown or ended one', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler } = await h.scheduler();
  await launchOne(scheduler, agent, agentId, 'victim');
  const post = (taskId: string, query = '') =>
    fetch(h.url(`/api/v1/tasks/${taskId}/kill${query}`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const answer = await post('victim');
  assert.is(answer.status, 202);
  assert.equal(await answer.json(), { taskId: 'victim', frameworkId: (await h.state()).frameworks[0]!.id, agentId, state: 'TASK_STAGING', sent: true });
  const kill = await agent.next('KILL_TASK');
  assert.is(kill.taskId, 'victim');
  assert.is((await post('nobody')).status, 404);
  assert.is((await post('victim', '?framework_id=other')).status, 404);
  agent.send({ type: 'STATUS_UPDATE', frameworkId: kill.frameworkId, status: agentStatus(agentId, 'victim', 'TASK_KILLED') });
  await scheduler.next('UPDATE');
  const ended = await post('victim');
  assert.is(ended.status, 409);
  assert.match(((await ended.json()) as { error: string }).error, /already TASK_KILLED/);
});

View('keeps an operator\'s kill of a task on an agent that is away, and sends it when the agent is back', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler } = await h.scheduler({ checkpoint: true });
  const { run } = await launchOne(scheduler, agent, agentId, 'later');
  const frameworkId = run.frameworkInfo.id;
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus(agentId, 'later', 'TASK_RUNNING') });
  await scheduler.next('UPDATE');
  agent.close();
  await scheduler.next('AGENT_STATUS');
  const answer = await fetch(h.url('/api/v1/tasks/later/kill'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.is(answer.status, 202);
  assert.is(((await answer.json()) as { sent: boolean }).sent, false);
  const again = await h.reregister(agentId, {
    frameworks: [{ id: frameworkId, name: 'test', checkpoint: true }],
    tasks: [{ frameworkId, executorId: 'later', task: run.task, state: 'TASK_RUNNING' }],
  });
  await again.next('REREGISTERED');
  const kill = await again.next('KILL_TASK');
  assert.equal(kill, { type: 'KILL_TASK', frameworkId, taskId: 'later' });
});

View('serves the web view from memory with a same-origin policy', async ({ h }) => {
  for (const [path, type] of [['/', /^text\/html/], ['/web/app.js', /^text\/javascript/], ['/web/style.css', /^text\/css/]] as const) {
    const response = await fetch(h.url(path));
    assert.is(response.status, 200, path);
    assert.match(response.headers.get('content-type') ?? '', type);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.ok((await response.text()).length > 500, path);
  }
  assert.is((await fetch(h.url('/web/nope.js'))).status, 404);
  assert.is((await fetch(h.url('/'), { method: 'POST' })).status, 404);
});

View('bounds a task\'s history: the first status and the latest ones', () => {
  const task = { id: 't', frameworkId: 'f', agentId: 'a', executorId: 't', info: {} as TaskRecord['info'], state: 'TASK_RUNNING' } as TaskRecord;
  for (let i = 0; i < MAX_TASK_STATUSES + 20; i++) recordStatus(task, { state: i === 0 ? 'TASK_STAGING' : 'TASK_RUNNING', timestamp: i, uuid: `0000000${i}`.slice(-8) + '-uuid' });
  recordStatus(task, { state: 'TASK_RUNNING', timestamp: 999, uuid: '00000069-uuid' });
  assert.is(task.statuses!.length, MAX_TASK_STATUSES);
  assert.is(task.statuses![0]!.state, 'TASK_STAGING');
  assert.is(task.statuses!.at(-1)!.timestamp, MAX_TASK_STATUSES + 19, 'a resent uuid is not recorded twice');
});

View.run();
