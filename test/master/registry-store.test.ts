import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileRegistryStore } from '../../src/master/registry-store-file.js';
import { applyOps, emptySnapshot, NotLeaderError, Registrar, type RegistryOp, type RegistryStore, type RegistrySnapshot } from '../../src/master/registry-store.js';
import { removeDir, tempDir, withTimeout } from '../helpers.js';

const store = suite<{ dir: string }>('master/registry-store: the durable registry');
store.before.each((ctx) => {
  ctx.dir = tempDir('ll-registry-');
});
store.after.each(({ dir }) => removeDir(dir));

const agent = (id: string) => ({ id, hostname: `host-${id}`, checkpoint: true, resources: { cpus: 1, mem: 2, disk: 3 } });

store('the file back end starts a new term at every load and keeps what was recorded', async ({ dir }) => {
  const first = new FileRegistryStore(dir);
  assert.is((await first.load()).epoch, 1);
  await first.apply([{ op: 'admit', agent: agent('a1') }, { op: 'admit', agent: agent('a2') }]);
  await first.apply([{ op: 'remove', agentId: 'a2', at: 5 }, { op: 'frameworkGone', framework: { id: 'f1', name: 'x', removedAt: 6 } }]);
  const second = await new FileRegistryStore(dir).load();
  assert.is(second.epoch, 2);
  assert.equal(second.agents.map((a) => a.id), ['a1']);
  assert.equal(second.removedAgents, [{ id: 'a2', removedAt: 5 }]);
  assert.equal(second.goneFrameworks.map((f) => f.id), ['f1']);
  assert.equal(fs.readdirSync(dir), ['registry.json'], 'no temp file left behind');
});

store('a corrupt registry file refuses to load, naming the file', async ({ dir }) => {
  fs.writeFileSync(path.join(dir, 'registry.json'), '{"epoch": "x"');
  await new FileRegistryStore(dir).load().then(
    () => assert.unreachable('loaded'),
    (error: Error) => assert.match(error.message, /registry\.json/),
  );
});

store('applyOps re-admits in place and bounds nothing it should keep', () => {
  const snapshot = emptySnapshot(3);
  applyOps(snapshot, [{ op: 'admit', agent: agent('a') }, { op: 'admit', agent: { ...agent('a'), hostname: 'moved' } }]);
  assert.equal(snapshot.agents.map((a) => a.hostname), ['moved']);
});

store('the registrar batches records made while a write is under way, and stops after a fenced write', async () => {
  const batches: RegistryOp[][] = [];
  let fence = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const fake: RegistryStore = {
    kind: 'file',
    durable: true,
    load: async (): Promise<RegistrySnapshot> => emptySnapshot(1),
    apply: async (ops) => {
      batches.push([...ops]);
      if (batches.length === 1) await gate;
      if (fence) throw new NotLeaderError('fenced');
    },
    close: async () => {},
  };
  const registrar = new Registrar(fake);
  const first = registrar.record({ op: 'admit', agent: agent('a1') });
  const rest = [registrar.record({ op: 'admit', agent: agent('a2') }), registrar.record({ op: 'admit', agent: agent('a3') })];
  release();
  await Promise.all([first, ...rest]);
  assert.equal(batches.map((b) => b.length), [1, 2], 'the two made during the first write went together');
  assert.is(registrar.writes, 2);
  fence = true;
  await registrar.record({ op: 'admit', agent: agent('a4') }).then(() => assert.unreachable(), (error) => assert.instance(error, NotLeaderError));
  await registrar.record({ op: 'admit', agent: agent('a5') }).then(() => assert.unreachable(), (error) => assert.instance(error, NotLeaderError));
  assert.is(batches.length, 3, 'nothing is written after the fence');
});

store('idle() waits for the writes under way; an op recorded as a write settles is written too', async () => {
  const written: string[] = [];
  const fake: RegistryStore = {
    kind: 'file',
    durable: true,
    load: async (): Promise<RegistrySnapshot> => emptySnapshot(1),
    apply: async (ops) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const op of ops) if (op.op === 'admit') written.push(op.agent.id);
    },
    close: async () => {},
  };
  const registrar = new Registrar(fake);
  // Recorded from the first op's settlement, as an admission's follow-up write is.
  const chained = registrar.record({ op: 'admit', agent: agent('a1') }).then(() => registrar.record({ op: 'admit', agent: agent('a2') }));
  await registrar.idle();
  assert.equal(written, ['a1'], 'idle() waited for the write under way');
  await withTimeout(chained, 2_000, 'the op recorded as the first settled');
  await registrar.idle();
  assert.equal(written, ['a1', 'a2']);
});

store.run();
