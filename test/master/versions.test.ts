// The master's side of protocol versions (issue 11): agents and schedulers of 0.1.0 (no version in
// their first frame) are served at protocol 1, this release's at 2, and a range the master does not
// serve is refused with ERR_PROTOCOL_VERSION naming both, while other peers go on being served.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { firstFrameVersion } from '../../src/protocol/index.js';
import { getJson } from '../helpers.js';
import { AGENT_INFO, agentStatus, Harness, launchOne } from './harness.js';

const test = suite<{ h: Harness }>('Master: protocol versions', { h: undefined as unknown as Harness });
test.before.each(async (context) => {
  context.h = await new Harness().start();
});
test.after.each(async ({ h }) => {
  await h.stop();
});

test('serves a 0.1.0 agent at protocol 1 and this release\'s at 2, and shows each in /state', async ({ h }) => {
  const old = await h.agentPeer();
  old.send({ type: 'REGISTER', agentInfo: { ...AGENT_INFO, hostname: 'old' } });
  const oldAnswer = await old.next('REGISTERED');
  assert.equal([oldAnswer.protocol, oldAnswer.release], [1, '0.2.0']);
  const current = await h.agentPeer();
  current.send({ type: 'REGISTER', agentInfo: { ...AGENT_INFO, hostname: 'new' }, ...firstFrameVersion() });
  const currentAnswer = await current.next('REGISTERED');
  assert.is(currentAnswer.protocol, 2);
  const agents = (await h.state()).agents.map((agent) => [agent.hostname, agent.protocol, agent.release]);
  assert.equal(agents.sort(), [['new', 2, '0.2.0'], ['old', 1, '0.1.0']]);
});

test('refuses an agent and a scheduler too new for it with ERR_PROTOCOL_VERSION naming both ranges, and keeps serving others', async ({ h }) => {
  const future = await h.agentPeer();
  future.send({ type: 'REGISTER', agentInfo: AGENT_INFO, protocol: 3, protocolMax: 4, release: '1.0.0' });
  const error = await future.next('ERROR');
  assert.is(error.code, 'ERR_PROTOCOL_VERSION');
  assert.match(error.message, /agent node-1 speaks protocols 3\.\.4 \(lifeline 1\.0\.0\) and this peer speaks protocols 1\.\.2 \(lifeline 0\.2\.0\)/);
  assert.is((await future.waitClosed()).code, 1008);
  const scheduler = await h.schedulerPeer();
  scheduler.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'f' }, protocol: 5, release: '2.0.0' });
  assert.match((await scheduler.next('ERROR')).message, /framework f speaks protocol 5 \(lifeline 2\.0\.0\)/);
  const { agentId } = await h.agent();
  assert.ok(agentId, 'the next agent is served');
  const served = await h.schedulerPeer();
  served.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'g' } });
  assert.is((await served.next('SUBSCRIBED')).protocol, 1);
});

test('keeps a newer release\'s state and reason and shapes them for a 0.1.0 scheduler (protocol 1)', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const old = await h.scheduler({ name: 'old' });
  await launchOne(old.peer, agent, agentId, 't-old');
  agent.send({ type: 'STATUS_UPDATE', frameworkId: old.frameworkId, status: { ...agentStatus(agentId, 't-old', 'TASK_PAUSED'), reason: 'REASON_NAPPING', message: 'zzz' } });
  const shaped = (await old.peer.next('UPDATE')).status;
  assert.equal([shaped.state, shaped.reason, shaped.message], ['TASK_RUNNING', undefined, 'TASK_PAUSED: zzz']);
  const state = await h.state();
  assert.is(state.frameworks.find((f) => f.id === old.frameworkId)!.tasks[0]!.state, 'TASK_PAUSED', 'the master keeps the state as it came');
});

test('passes a newer release\'s state and reason on, as they are, to a protocol 2 scheduler', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const current = await h.schedulerPeer();
  current.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'new', checkpoint: false }, ...firstFrameVersion() });
  const { frameworkId } = await current.next('SUBSCRIBED');
  await launchOne(current, agent, agentId, 't-new');
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: { ...agentStatus(agentId, 't-new', 'TASK_PAUSED'), reason: 'REASON_NAPPING' } });
  const passed = (await current.next('UPDATE')).status;
  assert.equal([passed.state, passed.reason], ['TASK_PAUSED', 'REASON_NAPPING']);
});

test('ignores a call of a type it does not know from a registered agent, counts it in /metrics, and goes on serving it', async ({ h }) => {
  const { peer: agent, agentId } = await h.agent();
  const { peer: scheduler, frameworkId } = await h.scheduler();
  agent.send({ type: 'FUTURE_CALL', payload: 1 });
  agent.send({ type: 'FUTURE_CALL', payload: 2 });
  await launchOne(scheduler, agent, agentId);
  agent.send({ type: 'STATUS_UPDATE', frameworkId, status: agentStatus(agentId, 't1', 'TASK_RUNNING') });
  assert.is((await scheduler.next('UPDATE')).status.state, 'TASK_RUNNING', 'the agent is still served');
  assert.equal(agent.pending('ERROR'), []);
  const body = String((await getJson(h.url('/metrics'))).body);
  assert.match(body, /lifeline_master_unknown_messages_total\{endpoint="agent"\} 2/);
});

test('GET /version says the release, the protocols it speaks and serves, and the formats', async ({ h }) => {
  const { status, body } = await getJson(h.url('/version'));
  assert.is(status, 200);
  assert.equal(body, { version: '0.2.0', protocol: { current: 2, oldest: 1 }, formats: { checkpoint: 1, sandbox: 1 } });
});

test.run();
