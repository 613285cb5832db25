// FileRegistryStore in a real temp dir: each load starts a term (epoch + 1, written before it is
// returned), each apply replaces registry.json atomically, framework owners round-trip, and a
// file that cannot be read or written is refused naming it, with nothing half-applied.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileRegistryStore, readRegistryFile, REGISTRY_FILE } from '../../src/master/registry-store-file.js';
import { RegistryError } from '../../src/master/registry-store.js';
import { removeDir, tempDir } from '../helpers.js';

const File = suite<{ dir: string }>('master/registry-store-file: FileRegistryStore');
File.before.each((ctx) => {
  ctx.dir = tempDir('ll-registry-file-');
});
File.after.each(({ dir }) => removeDir(dir));

const agent = (id: string) => ({ id, hostname: `host-${id}`, checkpoint: true, resources: { cpus: 1, mem: 2, disk: 3 } });

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => assert.unreachable('it should have been refused') as never,
    (error: Error & { code?: string }) => error,
  );
}

File('a first load in an empty dir starts term 1 and writes it before answering', async ({ dir }) => {
  const store = new FileRegistryStore(dir);
  assert.equal([store.kind, store.durable, store.file], ['file', true, path.join(dir, REGISTRY_FILE)]);
  const snapshot = await store.load();
  assert.equal(snapshot, { epoch: 1, agents: [], removedAgents: [], goneFrameworks: [], frameworkOwners: [] });
  assert.is((await readRegistryFile(dir)).epoch, 1, 'the term is on disk');
});

File('every load bumps the epoch; readRegistryFile reads without starting a term', async ({ dir }) => {
  for (const expected of [1, 2, 3]) assert.is((await new FileRegistryStore(dir).load()).epoch, expected);
  assert.is((await readRegistryFile(dir)).epoch, 3);
  assert.is((await readRegistryFile(dir)).epoch, 3);
});

File('the snapshot load returns is a copy: changing it changes nothing recorded', async ({ dir }) => {
  const store = new FileRegistryStore(dir);
  const snapshot = await store.load();
  snapshot.agents.push(agent('intruder'));
  await store.apply([{ op: 'admit', agent: agent('a1') }]);
  assert.equal((await readRegistryFile(dir)).agents.map((a) => a.id), ['a1']);
});

File('each apply replaces the file whole: one JSON document, no temp file left', async ({ dir }) => {
  const store = new FileRegistryStore(dir);
  await store.load();
  for (let i = 0; i < 5; i++) {
    await store.apply([{ op: 'admit', agent: agent(`a${i}`) }]);
    const text = fs.readFileSync(store.file, 'utf8');
    assert.ok(text.endsWith('}\n'));
    assert.is((JSON.parse(text) as { agents: unknown[] }).agents.length, i + 1);
    assert.equal(fs.readdirSync(dir), [REGISTRY_FILE]);
  }
});

File('a frameworkOwner op round-trips through a new store, is replaced in place, and frameworkGone drops it', async ({ dir }) => {
  const first = new FileRegistryStore(dir);
  await first.load();
  await first.apply([{ op: 'frameworkOwner', owner: { id: 'f1', principal: 'alice' } }, { op: 'frameworkOwner', owner: { id: 'f2', principal: 'bob' } }]);
  const second = new FileRegistryStore(dir);
  assert.equal((await second.load()).frameworkOwners, [{ id: 'f1', principal: 'alice' }, { id: 'f2', principal: 'bob' }]);

  await second.apply([{ op: 'frameworkOwner', owner: { id: 'f1', principal: 'carol' } }]);
  await second.apply([{ op: 'frameworkGone', framework: { id: 'f2', name: 'two', removedAt: 7 } }]);
  const third = await new FileRegistryStore(dir).load();
  assert.equal(third.frameworkOwners, [{ id: 'f1', principal: 'carol' }]);
  assert.equal(third.goneFrameworks, [{ id: 'f2', name: 'two', removedAt: 7 }]);
});

File('a registry written before framework owners existed loads with none', async ({ dir }) => {
  fs.writeFileSync(path.join(dir, REGISTRY_FILE), JSON.stringify({ epoch: 4, agents: [agent('a1')], removedAgents: [], goneFrameworks: [] }));
  const snapshot = await new FileRegistryStore(dir).load();
  assert.equal([snapshot.epoch, snapshot.frameworkOwners, snapshot.agents.map((a) => a.id)], [5, [], ['a1']]);
});

File('a corrupt file is refused naming it, and left as it was', async ({ dir }) => {
  const file = path.join(dir, REGISTRY_FILE);
  for (const text of ['{"epoch": 1, "agents": [', '{"epoch": "one", "agents": [], "removedAgents": [], "goneFrameworks": []}', '[]', '']) {
    fs.writeFileSync(file, text);
    const error = await rejection(new FileRegistryStore(dir).load());
    assert.is(error.code, 'ERR_CHECKPOINT_CORRUPT', text);
    assert.ok(error.message.includes(file), `${error.message} names ${file}`);
    assert.is(fs.readFileSync(file, 'utf8'), text, 'a corrupt registry is not overwritten');
  }
});

File('stray temp files of an interrupted write are removed at load', async ({ dir }) => {
  const stray = path.join(dir, `.${REGISTRY_FILE}.tmp-0123456789ab`);
  fs.writeFileSync(stray, '{"epoch": 9');
  const other = path.join(dir, 'notes.txt');
  fs.writeFileSync(other, 'kept');
  await new FileRegistryStore(dir).load();
  assert.equal(fs.readdirSync(dir).sort(), ['notes.txt', REGISTRY_FILE]);
});

File('apply before load is refused with RegistryError naming the file', async ({ dir }) => {
  const store = new FileRegistryStore(dir);
  const error = await rejection(store.apply([{ op: 'admit', agent: agent('a1') }]));
  assert.instance(error, RegistryError);
  assert.is(error.code, 'ERR_CONNECTION');
  assert.is(error.message, `the registry ${store.file} is not loaded`);
  assert.not.ok(fs.existsSync(store.file));
});

File('a write that fails is refused naming the file, and the ops it carried are not kept', async ({ dir }) => {
  const store = new FileRegistryStore(dir);
  await store.load();
  await store.apply([{ op: 'admit', agent: agent('kept') }]);
  removeDir(dir); // the work dir went away under the master
  const error = await rejection(store.apply([{ op: 'admit', agent: agent('lost') }]));
  assert.instance(error, RegistryError);
  assert.is(error.code, 'ERR_CONNECTION');
  assert.match(error.message, new RegExp(`^cannot write the registry ${store.file.replace(/[.\\/]/g, '\\$&')}: `));
  assert.ok((error as Error & { cause?: { code?: string } }).cause?.code, 'the cause is the file system error');

  fs.mkdirSync(dir);
  await store.apply([{ op: 'admit', agent: agent('next') }]);
  assert.equal((await readRegistryFile(dir)).agents.map((a) => a.id), ['kept', 'next']);
});

File.run();
