// openStore picks the registry back end from the options (etcd over a work dir over memory), and
// restore puts a loaded snapshot into a fresh Registry: removed agents and gone frameworks
// remembered, framework owners set, the admitted agents DISCONNECTED and expected back.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openStore, restore, type StoreChoice } from '../../src/master/leadership.js';
import { Registry } from '../../src/master/registry.js';
import { EtcdRegistryStore } from '../../src/master/registry-store-etcd.js';
import { FileRegistryStore } from '../../src/master/registry-store-file.js';
import { emptySnapshot, MemoryRegistryStore, type RegistrySnapshot } from '../../src/master/registry-store.js';
import { removeDir, tempDir } from '../helpers.js';

const Open = suite<{ dirs: string[] }>('master/leadership: openStore');
Open.before.each((ctx) => {
  ctx.dirs = [];
});
Open.after.each(({ dirs }) => {
  for (const dir of dirs) removeDir(dir);
});

const BASE: StoreChoice = { address: () => '127.0.0.1:5050', leaseTtlMs: 10_000, onDeposed: () => {}, onLeader: () => {} };

function refusal(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  return assert.unreachable('it should have thrown') as never;
}

Open('with neither a registry nor a work dir, a memory store that keeps nothing', () => {
  const store = openStore(BASE);
  assert.instance(store, MemoryRegistryStore);
  assert.equal([store.kind, store.durable], ['memory', false]);
});

Open('with a work dir, the file store in it (nothing is read or written until load)', (ctx) => {
  const dir = tempDir('ll-leadership-');
  ctx.dirs.push(dir);
  const store = openStore({ ...BASE, workDir: dir });
  assert.instance(store, FileRegistryStore);
  assert.equal([store.kind, store.durable, (store as FileRegistryStore).file], ['file', true, path.join(dir, 'registry.json')]);
  assert.equal(fs.readdirSync(dir), []);
});

Open('with an etcd URL, the etcd store, even beside a work dir (it does not connect until it campaigns)', (ctx) => {
  const dir = tempDir('ll-leadership-');
  ctx.dirs.push(dir);
  const store = openStore({ ...BASE, workDir: dir, registry: 'etcd://127.0.0.1:1/lifeline' });
  assert.instance(store, EtcdRegistryStore);
  assert.equal([store.kind, store.durable, (store as EtcdRegistryStore).epoch], ['etcd', true, 0]);
});

Open('refuses an empty work dir and a registry that is not an etcd URL, naming the option', () => {
  const empty = refusal(() => openStore({ ...BASE, workDir: '' }));
  assert.is(empty.code, 'ERR_INVALID_OPTION');
  assert.match(empty.message, /option workDir must be a directory path, got ""/);
  const notEtcd = refusal(() => openStore({ ...BASE, registry: 'http://127.0.0.1:2379/x' }));
  assert.is(notEtcd.code, 'ERR_INVALID_FLAG');
  assert.match(notEtcd.message, /invalid value for option registry: "http:\/\/127\.0\.0\.1:2379\/x" \(not an etcd:\/\/ URL/);
  assert.match(refusal(() => openStore({ ...BASE, registry: 'etcd://127.0.0.1:2379' })).message, /no \/PREFIX after the etcd endpoints/);
});

Open.run();

const Restore = suite('master/leadership: restore');

const agent = (id: string, principal?: string) => ({ id, hostname: `host-${id}`, checkpoint: true, resources: { cpus: 2, mem: 512, disk: 100 }, ...(principal && { principal }) });

Restore('an empty snapshot leaves the registry empty and expects no one', () => {
  const registry = new Registry();
  assert.equal(restore(registry, emptySnapshot(4)), []);
  assert.equal(registry.agents(), []);
});

Restore('admitted agents come back DISCONNECTED, with their facts and owners, and are the ones expected', () => {
  const registry = new Registry();
  const snapshot: RegistrySnapshot = { ...emptySnapshot(2), agents: [agent('a1', 'ops'), agent('a2')] };
  assert.equal(restore(registry, snapshot), ['a1', 'a2']);
  const a1 = registry.agent('a1')!;
  assert.equal([a1.status, a1.hostname, a1.checkpoint, a1.total], ['DISCONNECTED', 'host-a1', true, { cpus: 2, mem: 512, disk: 100 }]);
  assert.is(registry.owner('agent', 'a1'), 'ops');
  assert.is(registry.owner('agent', 'a2'), undefined, 'registered unauthenticated: no owner');
});

Restore('removed agents and gone frameworks are remembered; a removed agent also listed as admitted is not expected', () => {
  const registry = new Registry();
  const snapshot: RegistrySnapshot = {
    ...emptySnapshot(3),
    agents: [agent('a1'), agent('gone-agent')],
    removedAgents: [{ id: 'gone-agent', removedAt: 10 }, { id: 'older', removedAt: 5 }],
    goneFrameworks: [{ id: 'f-gone', name: 'old', removedAt: 11 }],
  };
  assert.equal(restore(registry, snapshot), ['a1']);
  assert.ok(registry.wasRemoved('gone-agent'));
  assert.ok(registry.wasRemoved('older'));
  assert.is(registry.agent('gone-agent'), undefined);
  assert.ok(registry.isCompleted('f-gone'));
  assert.not.ok(registry.isCompleted('f-other'));
});

Restore('framework owners are set, so that only their principal may subscribe as them', () => {
  const registry = new Registry();
  restore(registry, { ...emptySnapshot(1), frameworkOwners: [{ id: 'f1', principal: 'alice' }, { id: 'f2', principal: 'bob' }] });
  assert.equal([registry.owner('framework', 'f1'), registry.owner('framework', 'f2'), registry.owner('agent', 'f1')], ['alice', 'bob', undefined]);
});

Restore('an agent the registry already holds is left as it is, and not expected again', () => {
  const registry = new Registry();
  registry.addAgent({ hostname: 'live', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: false }, 'a1');
  assert.equal(restore(registry, { ...emptySnapshot(1), agents: [agent('a1'), agent('a2')] }), ['a2']);
  assert.equal([registry.agent('a1')!.status, registry.agent('a1')!.hostname], ['ACTIVE', 'live']);
});

Restore.run();
