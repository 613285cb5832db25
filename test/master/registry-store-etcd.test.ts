// EtcdRegistryStore on a real etcd (harness/lib/etcd.ts; skipped in one line without etcd, a
// failure under CI=true): the leader's load and apply, a new term reading what the last one wrote
// (framework owners too), writes in chunks under etcd's transaction limit, and the fence: once
// another master's key leads, every write of the deposed one is refused with NotLeaderError.
import { Etcd3 } from 'etcd3';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEtcd, startEtcd, type EtcdServer } from '../../harness/lib/etcd.js';
import { EtcdRegistryStore, type EtcdRegistryOptions } from '../../src/master/registry-store-etcd.js';
import { NotLeaderError, RegistryError } from '../../src/master/registry-store.js';
import { readLeader } from '../../src/session/etcd-leader.js';
import { waitFor, withTimeout } from '../helpers.js';

interface Ctx {
  etcd: EtcdServer;
  raw: Etcd3;
  stores: EtcdRegistryStore[];
  prefix: string;
}

const RUN = requireEtcd('test/master/registry-store-etcd.test.ts');
const Etcd = suite<Ctx>('master/registry-store-etcd: EtcdRegistryStore');
let prefixes = 0;

Etcd.before(async (ctx) => {
  if (!RUN) return;
  ctx.etcd = await startEtcd();
  ctx.raw = new Etcd3({ hosts: `http://${ctx.etcd.endpoint}` });
});
Etcd.after(async (ctx) => {
  ctx.raw?.close();
  await ctx.etcd?.stop();
});
Etcd.before.each((ctx) => {
  ctx.stores = [];
  ctx.prefix = `registry-test-${process.pid}-${++prefixes}`;
});
Etcd.after.each(async (ctx) => {
  await Promise.all(ctx.stores.map((store) => store.close()));
});

interface Made {
  store: EtcdRegistryStore;
  deposed: Error[];
  leaders: Array<string | undefined>;
}

function make(ctx: Ctx, address: string, options: Partial<EtcdRegistryOptions> = {}): Made {
  const [host, port] = ctx.etcd.endpoint.split(':');
  const made: Made = { store: undefined!, deposed: [], leaders: [] };
  made.store = new EtcdRegistryStore({
    endpoints: [{ host: host!, port: Number(port) }],
    prefix: ctx.prefix,
    address: () => address,
    leaseTtlMs: 5_000,
    onDeposed: (error) => made.deposed.push(error),
    onLeader: (leader) => made.leaders.push(leader),
    ...options,
  });
  ctx.stores.push(made.store);
  return made;
}

async function lead(made: Made): Promise<Made> {
  await withTimeout(made.store.campaign(new AbortController().signal), 10_000, 'the campaign to win');
  return made;
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => assert.unreachable('it should have been refused') as never,
    (error: Error & { code?: string }) => error,
  );
}

const agent = (id: string) => ({ id, hostname: `host-${id}`, checkpoint: true, resources: { cpus: 1, mem: 2, disk: 3 }, address: '10.0.0.1' });

Etcd('load and apply before a won campaign are refused', async (ctx) => {
  if (!RUN) return;
  const { store } = make(ctx, '127.0.0.1:1');
  assert.equal([store.kind, store.durable, store.epoch, store.leader], ['etcd', true, 0, undefined]);
  const load = await rejection(store.load());
  assert.instance(load, RegistryError);
  assert.match(load.message, /read only by the leader \(campaign first\)/);
  const apply = await rejection(store.apply([{ op: 'admit', agent: agent('a1') }]));
  assert.instance(apply, NotLeaderError);
  assert.is(apply.code, 'ERR_ILLEGAL_STATE');
  assert.match(apply.message, /does not lead: registry writes refused/);
});

Etcd('the leader campaigns under its address, and the next term reads what it recorded, framework owners too', async (ctx) => {
  if (!RUN) return;
  const first = await lead(make(ctx, '127.0.0.1:5051'));
  assert.ok(first.store.epoch > 0, 'the epoch is the election key\'s create revision');
  assert.equal(first.leaders, ['127.0.0.1:5051']);
  assert.is(first.store.leader, '127.0.0.1:5051');
  assert.equal(await first.store.load(), { epoch: first.store.epoch, agents: [], removedAgents: [], goneFrameworks: [], frameworkOwners: [] });
  await first.store.apply([{ op: 'admit', agent: agent('a1') }, { op: 'admit', agent: agent('a2') }, { op: 'admit', agent: agent('a3') }]);
  await first.store.apply([
    { op: 'remove', agentId: 'a3', at: 30 },
    { op: 'remove', agentId: 'a2', at: 20 },
    { op: 'frameworkGone', framework: { id: 'f1', name: 'one', removedAt: 5 } },
    { op: 'frameworkOwner', owner: { id: 'f2', principal: 'alice' } },
    { op: 'frameworkOwner', owner: { id: 'f3', principal: 'bob' } },
  ]);
  await first.store.close();

  const second = await lead(make(ctx, '127.0.0.1:5052'));
  assert.ok(second.store.epoch > first.store.epoch, 'a later term has a higher epoch');
  const snapshot = await second.store.load();
  assert.is(snapshot.epoch, second.store.epoch);
  assert.equal(snapshot.agents, [agent('a1')]);
  assert.equal(snapshot.removedAgents, [{ id: 'a2', removedAt: 20 }, { id: 'a3', removedAt: 30 }], 'oldest removal first');
  assert.equal(snapshot.goneFrameworks, [{ id: 'f1', name: 'one', removedAt: 5 }]);
  assert.equal(snapshot.frameworkOwners, [{ id: 'f2', principal: 'alice' }, { id: 'f3', principal: 'bob' }]);

  // A gone framework's owner is not kept; a re-recorded owner replaces the old one.
  await second.store.apply([{ op: 'frameworkGone', framework: { id: 'f2', name: 'two', removedAt: 9 } }, { op: 'frameworkOwner', owner: { id: 'f3', principal: 'carol' } }]);
  await second.store.close();
  const third = await (await lead(make(ctx, '127.0.0.1:5053'))).store.load();
  assert.equal(third.frameworkOwners, [{ id: 'f3', principal: 'carol' }]);
  assert.equal(third.goneFrameworks.map((f) => f.id).sort(), ['f1', 'f2']);
});

Etcd('writes more ops than one etcd transaction may hold, in chunks, and logs who wrote', async (ctx) => {
  if (!RUN) return;
  const leader = await lead(make(ctx, '127.0.0.1:5054'));
  await leader.store.load();
  const ops = Array.from({ length: 250 }, (_, i) => ({ op: 'admit' as const, agent: agent(`a${i}`) }));
  await leader.store.apply(ops);
  const log = JSON.parse((await ctx.raw.get(`${ctx.prefix}/registry/log`).string())!) as { epoch: number; leader: string; ops: string[] };
  assert.equal([log.epoch, log.leader, log.ops.length], [leader.store.epoch, '127.0.0.1:5054', 50], 'the last of three chunks');
  await leader.store.close();
  const next = await (await lead(make(ctx, '127.0.0.1:5055'))).store.load();
  assert.is(next.agents.length, 250);
});

Etcd('a deposed leader\'s writes are refused with NotLeaderError once another master leads', async (ctx) => {
  if (!RUN) return;
  const first = await lead(make(ctx, '127.0.0.1:6001'));
  await first.store.load();
  await first.store.apply([{ op: 'admit', agent: agent('before') }]);

  // The second campaigns behind the first, and names it as the leader meanwhile.
  const second = make(ctx, '127.0.0.1:6002');
  const campaign = second.store.campaign(new AbortController().signal);
  await waitFor(() => second.store.leader === '127.0.0.1:6001', { message: 'the standby to name the leader' });
  assert.equal(second.leaders, ['127.0.0.1:6001']);

  // The first's election key goes (as when etcd lets its lease lapse): the second leads.
  const leading = (await readLeader(ctx.raw, ctx.prefix))!;
  assert.equal([leading.address, leading.revision], ['127.0.0.1:6001', first.store.epoch]);
  const mine = leading.key;
  await ctx.raw.delete().key(mine);
  await withTimeout(campaign, 10_000, 'the second to lead');
  assert.equal(second.leaders, ['127.0.0.1:6001', '127.0.0.1:6002']);

  const fenced = await rejection(first.store.apply([{ op: 'admit', agent: agent('after') }]));
  assert.instance(fenced, NotLeaderError);
  assert.is(fenced.code, 'ERR_ILLEGAL_STATE');
  assert.match(fenced.message, new RegExp(`election key ${mine} \\(revision ${first.store.epoch}\\) is gone, another master leads`));
  assert.equal(first.deposed, [fenced], 'told once, with the refusal');
  const again = await rejection(first.store.apply([{ op: 'frameworkOwner', owner: { id: 'f1', principal: 'mallory' } }]));
  assert.instance(again, NotLeaderError);
  assert.is(first.deposed.length, 1, 'deposed once only');

  const snapshot = await second.store.load();
  assert.equal(snapshot.agents.map((a) => a.id), ['before'], 'nothing of the deposed leader\'s writes landed');
  assert.equal(snapshot.frameworkOwners, []);
  await second.store.apply([{ op: 'admit', agent: agent('new-leader') }]);
  assert.equal(second.deposed, []);
});

Etcd('close() resigns: a standby leads at once, without waiting out the lease TTL', async (ctx) => {
  if (!RUN) return;
  const first = await lead(make(ctx, '127.0.0.1:7001', { leaseTtlMs: 60_000 }));
  const second = make(ctx, '127.0.0.1:7002', { leaseTtlMs: 60_000 });
  const campaign = second.store.campaign(new AbortController().signal);
  await waitFor(() => second.store.leader === '127.0.0.1:7001', { message: 'the standby to name the leader' });
  await first.store.close();
  await withTimeout(campaign, 10_000, 'the standby to lead well within the 60 s TTL');
  assert.instance(await rejection(first.store.apply([{ op: 'admit', agent: agent('late') }])), NotLeaderError);
  assert.equal(first.deposed, [], 'resigning is not being deposed');
});

Etcd('an aborted campaign rejects with the abort reason and leaves the leader alone', async (ctx) => {
  if (!RUN) return;
  const first = await lead(make(ctx, '127.0.0.1:8001'));
  const second = make(ctx, '127.0.0.1:8002');
  const controller = new AbortController();
  const campaign = second.store.campaign(controller.signal);
  await waitFor(() => second.store.leader === '127.0.0.1:8001', { message: 'the standby to name the leader' });
  const reason = new Error('the master is stopping');
  controller.abort(reason);
  assert.is(await withTimeout(rejection(campaign), 5_000, 'the campaign to end'), reason);
  await first.store.load();
  await first.store.apply([{ op: 'admit', agent: agent('still-leading') }]);
});

Etcd('a registry key holding something unreadable refuses the load, naming the key', async (ctx) => {
  if (!RUN) return;
  await ctx.raw.put(`${ctx.prefix}/registry/agents/broken`).value('{"id": "broken", "hostname": 7}');
  const leader = await lead(make(ctx, '127.0.0.1:9001'));
  const error = await rejection(leader.store.load());
  assert.instance(error, RegistryError);
  assert.match(error.message, new RegExp(`the etcd registry key ${ctx.prefix}/registry/agents/broken holds something unreadable`));
});

Etcd.run();
