import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encode } from '../../src/protocol/index.js';
import { AGENT_INFO, Harness, type AgentPeer, type SchedulerPeer } from './harness.js';

const MAX_FRAME = 4096;

const Bad = suite<{ h: Harness }>('Master: bad input');

Bad.before.each(async (context) => {
  context.h = await new Harness().start({ maxFrameBytes: MAX_FRAME });
});
Bad.after.each(async ({ h }) => {
  await h.stop();
});

/** Expects ERROR {code, message matching} and a 1008 close, then checks good peers are still served. */
async function expectRefused(h: Harness, peer: AgentPeer | SchedulerPeer, message: RegExp, code = 'ERR_PROTOCOL') {
  const error = await (peer as SchedulerPeer).next('ERROR');
  assert.is(error.code, code);
  assert.match(error.message, message);
  assert.is((await peer.waitClosed()).code, 1008);
  await h.scheduler();
  await h.agent();
}

Bad('refuses garbage bytes on the scheduler endpoint', async ({ h }) => {
  const peer = await h.schedulerPeer();
  peer.sendRaw(Buffer.from([0xc1, 0xff, 0x00, 0x13]));
  await expectRefused(h, peer, /not valid msgpack|must be an object/);
});

Bad('refuses garbage bytes on the agent endpoint', async ({ h }) => {
  const peer = await h.agentPeer();
  peer.sendRaw(Buffer.from('not msgpack at all, just text bytes'));
  await expectRefused(h, peer, /must be an object|not valid msgpack/);
});

Bad('refuses a text frame', async ({ h }) => {
  const peer = await h.schedulerPeer();
  peer.sendRaw('{"type":"SUBSCRIBE"}');
  await expectRefused(h, peer, /must be binary msgpack/);
});

Bad('refuses an unknown type, naming it', async ({ h }) => {
  const peer = await h.agentPeer();
  peer.send({ type: 'TAKE_OVER', please: true });
  // A first frame of a type this release does not know is refused (issue 11 tolerates one only once registered).
  await expectRefused(h, peer, /first frame.* must be REGISTER or REREGISTER, got TAKE_OVER/);
});

for (const [label, id] of [['../x', '../x'], ['a/b', 'a/b'], ['an empty', ''], ['a control-character', 'a\u0007b']] as const) {
  Bad(`refuses ${label} framework ID in SUBSCRIBE, naming the field and the value`, async ({ h }) => {
    const peer = await h.schedulerPeer();
    peer.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'x', id } });
    await expectRefused(h, peer, new RegExp(`SUBSCRIBE frame: field frameworkInfo\\.id .*${JSON.stringify(id).replace(/[.\\/]/g, '\\$&')}`));
  });
}

Bad('refuses an invalid task ID in KILL from a subscribed scheduler', async ({ h }) => {
  const { peer } = await h.scheduler();
  peer.send({ type: 'KILL', taskId: '../x' });
  await expectRefused(h, peer, /KILL frame: field taskId .*"\.\.\/x"/);
});

Bad('refuses an invalid agent ID in REREGISTER', async ({ h }) => {
  const peer = await h.agentPeer();
  peer.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: 'a/b' }, frameworks: [], executors: [], tasks: [] });
  await expectRefused(h, peer, /REREGISTER frame: field agentInfo\.id .*"a\/b"/);
});

Bad('refuses a first frame that is not SUBSCRIBE', async ({ h }) => {
  const peer = await h.schedulerPeer();
  peer.send({ type: 'TEARDOWN' });
  await expectRefused(h, peer, /first frame on \/api\/v1\/scheduler must be SUBSCRIBE, got TEARDOWN/);
});

Bad('refuses a first frame that is not REGISTER or REREGISTER', async ({ h }) => {
  const peer = await h.agentPeer();
  peer.send({ type: 'PONG' });
  await expectRefused(h, peer, /must be REGISTER or REREGISTER, got PONG/);
});

Bad('refuses a second SUBSCRIBE on the same connection', async ({ h }) => {
  const { peer } = await h.scheduler();
  peer.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'again' } });
  await expectRefused(h, peer, /already registered/);
});

Bad('refuses a STATUS_UPDATE claiming to come from another agent', async ({ h }) => {
  const { peer } = await h.agent();
  const { frameworkId } = await h.scheduler();
  peer.send({
    type: 'STATUS_UPDATE',
    frameworkId,
    status: { taskId: 't1', state: 'TASK_RUNNING', uuid: 'aaaaaaaa-1111', timestamp: 1, agentId: 'someone-else', executorId: 't1' },
  });
  await expectRefused(h, peer, /status\.agentId is someone-else/);
});

Bad('closes an oversize frame with 1009 and keeps serving', async ({ h }) => {
  const peer = await h.schedulerPeer();
  peer.sendRaw(encode({ type: 'SUBSCRIBE', frameworkInfo: { name: 'x'.repeat(MAX_FRAME * 2) } }));
  assert.is((await peer.waitClosed()).code, 1009);
  await h.scheduler();
  const agentPeer = await h.agentPeer();
  agentPeer.sendRaw(Buffer.alloc(MAX_FRAME + 1));
  assert.is((await agentPeer.waitClosed()).code, 1009);
  await h.agent();
  const metrics = await (await fetch(h.url('/metrics'))).text();
  assert.match(metrics, /lifeline_master_frames_rejected_total\{endpoint="scheduler",code="ERR_FRAME_TOO_LARGE"\} 1/);
});

Bad('refuses a re-subscription that changes checkpoint', async ({ h }) => {
  const { peer, frameworkId } = await h.scheduler({ checkpoint: true, failoverTimeoutMs: 60_000 });
  peer.close();
  await peer.waitClosed();
  const again = await h.schedulerPeer();
  again.send({ type: 'SUBSCRIBE', frameworkInfo: { id: frameworkId, name: 'test', checkpoint: false } });
  await expectRefused(h, again, /checkpoint cannot change/, 'ERR_ILLEGAL_STATE');
});

Bad.run();
