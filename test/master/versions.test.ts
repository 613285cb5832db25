// The master's side of protocol versions (issue 11): agents and schedulers of 0.1.0 (no version in
// their first frame) are served at protocol 1, this release's at 2, and a range the master does not
// serve is refused with ERR_PROTOCOL_VERSION naming both, while other peers go on being served.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { firstFrameVersion } from '../../src/protocol/index.js';
import { AGENT_INFO, Harness } from './harness.js';

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

test.run();
