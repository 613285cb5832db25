import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import { Listings } from '../../src/checkpoint/recover-listings.js';
import { removeDir, tempDir } from '../helpers.js';

const Cached = suite<{ dir: string }>('recovery listings', { dir: '' });
Cached.before.each((context) => {
  context.dir = tempDir('ll-reclist-');
});
Cached.after.each((context) => removeDir(context.dir));

Cached('reads each directory once and answers kinds from its listing', ({ dir }) => {
  fs.mkdirSync(path.join(dir, 'sub'));
  const listings = new Listings();
  assert.is(listings.cached(dir), undefined);
  assert.is(listings.kindAt(path.join(dir, 'sub')), 'directory');
  assert.ok(listings.cached(dir));
  fs.writeFileSync(path.join(dir, 'later'), '');
  assert.is(listings.kindAt(path.join(dir, 'later')), undefined, 'the listing is kept, not read again');
});

Cached('listDir: empty when absent, damage when not a directory', ({ dir }) => {
  fs.writeFileSync(path.join(dir, 'file'), '');
  const listings = new Listings();
  assert.is(listings.listDir(path.join(dir, 'missing')).size, 0);
  assert.throws(() => listings.listDir(path.join(dir, 'file')), (error: unknown) => error instanceof CheckpointCorruptError && /expected a directory, found a file/.test((error as Error).message));
});

Cached('readJson: a required file that the listing lacks is damage, an optional one is undefined', async ({ dir }) => {
  fs.writeFileSync(path.join(dir, 'a.json'), '{"n":1}');
  const listings = new Listings();
  const schema = v.object({ n: v.number() });
  assert.equal(await listings.readJson(path.join(dir, 'a.json'), schema, true), { n: 1 });
  assert.is(await listings.readJson(path.join(dir, 'b.json'), schema, false), undefined);
  await listings.readJson(path.join(dir, 'b.json'), schema, true).then(
    () => assert.unreachable('a missing required file was read'),
    (error: unknown) => assert.match((error as Error).message, /missing/),
  );
});

Cached.run();
