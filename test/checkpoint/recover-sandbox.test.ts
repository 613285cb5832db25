import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { outboxPath, shimInfoPath, shimStateDir } from '../../src/checkpoint/layout.js';
import { encodeRecords } from '../../src/checkpoint/record-frame.js';
import { NEWER_FORMAT, readOutbox, readShim, sandboxDirsReal } from '../../src/checkpoint/recover-sandbox.js';
import { removeDir, tempDir } from '../helpers.js';

const U1 = '00000000-0000-4000-8000-000000000001';

const REF = { agentId: 'a1', frameworkId: 'f1', executorId: 'e1', containerId: 'c1' };

const Sandbox = suite<{ dir: string; notes: string[] }>('recovery of sandbox files', { dir: '', notes: [] });
Sandbox.before.each((context) => {
  context.dir = tempDir('ll-recsb-');
  context.notes = [];
});
Sandbox.after.each((context) => removeDir(context.dir));

const noteInto = (notes: string[]) => (_error: unknown, file: string, consequence: string) => void notes.push(`${path.basename(file)}: ${consequence}`);

Sandbox('reads shim.json and the outbox of the run', async ({ dir, notes }) => {
  fs.mkdirSync(shimStateDir(dir), { recursive: true });
  fs.writeFileSync(shimInfoPath(dir), JSON.stringify({ pid: 10, startTime: 1, protocol: 1, executorId: 'e1', containerId: 'c1', tasks: [] }));
  fs.writeFileSync(outboxPath(dir), encodeRecords([{ kind: 'ACK', uuid: U1 }]));
  const note = noteInto(notes);
  assert.ok(await sandboxDirsReal(dir, note));
  const shim = await readShim(REF, dir, note);
  assert.is(typeof shim === 'object' ? shim.pid : undefined, 10);
  assert.equal(await readOutbox(dir, note), [{ kind: 'ACK', uuid: U1 }]);
  assert.equal(notes, []);
});

Sandbox('notes a shim.json of another run and ignores it', async ({ dir, notes }) => {
  fs.mkdirSync(shimStateDir(dir), { recursive: true });
  fs.writeFileSync(shimInfoPath(dir), JSON.stringify({ pid: 10, startTime: 1, protocol: 1, executorId: 'e1', containerId: 'c2', tasks: [] }));
  assert.is(await readShim(REF, dir, noteInto(notes)), undefined);
  assert.equal(notes, ['shim.json: the run is identified by forked.json alone']);
});

Sandbox('notes a .lifeline that is not a directory; an absent sandbox has nothing to read', async ({ dir, notes }) => {
  fs.writeFileSync(shimStateDir(dir), '');
  assert.not.ok(await sandboxDirsReal(dir, noteInto(notes)));
  assert.equal(notes, ['.lifeline: shim.json and outbox.log are ignored']);
  assert.not.ok(await sandboxDirsReal(path.join(dir, 'missing'), noteInto(notes)));
  assert.is(notes.length, 1);
});

Sandbox('reads a shim.json of its own sandbox format (or none: 0.1.0), and refuses a newer one, naming both, so that the outbox is not read either', async ({ dir, notes }) => {
  fs.mkdirSync(shimStateDir(dir), { recursive: true });
  const shim = { pid: 10, startTime: 1, protocol: 1, executorId: 'e1', containerId: 'c1', tasks: [] };
  fs.writeFileSync(shimInfoPath(dir), JSON.stringify({ ...shim, format: 1 }));
  assert.is(((await readShim(REF, dir, noteInto(notes))) as { format?: number }).format, 1);
  fs.writeFileSync(shimInfoPath(dir), JSON.stringify({ ...shim, format: 2 }));
  const messages: string[] = [];
  assert.is(await readShim(REF, dir, (error) => void messages.push((error as Error).message)), NEWER_FORMAT);
  assert.match(messages[0] ?? '', /says sandbox format 2, but lifeline 0\.2\.0 reads formats 1\.\.1/);
  assert.equal(notes, []);
});

Sandbox.run();
