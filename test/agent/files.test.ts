// /files/browse and /files/read of the agent (issue 15), on real files: Mesos's shapes, offsets,
// and the confinement to the sandboxes (no `..`, no link out, no FIFO, size-capped reads).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SandboxFiles, wholeCharacters, type FileEntry } from '../../src/agent/files.js';
import { removeDir, tempDir } from '../helpers.js';

interface Ctx {
  dir: string;
  root: string;
  sandbox: string;
  files: SandboxFiles;
}

const Files = suite<Ctx>('the agent serves sandbox files and nothing else');

Files.before.each((ctx) => {
  ctx.dir = tempDir('ll-files-');
  ctx.root = path.join(ctx.dir, 'sandboxes');
  ctx.sandbox = path.join(ctx.root, 'a1', 'frameworks', 'f1', 'executors', 't1', 'runs', 'c1');
  fs.mkdirSync(ctx.sandbox, { recursive: true });
  fs.writeFileSync(path.join(ctx.sandbox, 'stdout'), 'hello\nworld\n');
  fs.writeFileSync(path.join(ctx.dir, 'secret'), 'not yours');
  ctx.files = new SandboxFiles(ctx.root, { maxReadBytes: 8 });
});
Files.after.each((ctx) => removeDir(ctx.dir));

const q = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));

Files('reads a file in pages: {data, offset} as Mesos answers, plus bytes, capped at maxReadBytes', async (ctx) => {
  const file = path.join(ctx.sandbox, 'stdout');
  const first = await ctx.files.read(q({ path: file, offset: 0, length: 100 }));
  assert.is(first.status, 200);
  assert.equal(first.body, { data: 'hello\nwo', offset: 0, bytes: 8 });
  const second = await ctx.files.read(q({ path: file, offset: 8 }));
  assert.equal(second.body, { data: 'rld\n', offset: 8, bytes: 4 });
  const end = await ctx.files.read(q({ path: file, offset: 12 }));
  assert.equal(end.body, { data: '', offset: 12, bytes: 0 });
  const size = await ctx.files.read(q({ path: file, offset: -1 }));
  assert.equal(size.body, { data: '', offset: 12, bytes: 0 });
});

Files('never ends a read inside a UTF-8 character', async (ctx) => {
  const file = path.join(ctx.sandbox, 'stdout');
  fs.writeFileSync(file, 'abcdeé€x'); // é is 2 bytes, € is 3
  const first = await ctx.files.read(q({ path: file, offset: 0 }));
  assert.equal(first.body, { data: 'abcdeé', offset: 0, bytes: 7 });
  const second = await ctx.files.read(q({ path: file, offset: 7 }));
  assert.equal(second.body, { data: '€x', offset: 7, bytes: 4 });
  assert.is(wholeCharacters(Buffer.from([0x61, 0xe2, 0x82]), 3), 1);
  assert.is(wholeCharacters(Buffer.from([0xe2, 0x82]), 2), 2, 'a lone partial character is returned, so that reads move on');
});

Files('browses a directory with Mesos entry fields', async (ctx) => {
  const answer = await ctx.files.browse(q({ path: ctx.sandbox }));
  assert.is(answer.status, 200);
  const entries = answer.body as FileEntry[];
  assert.equal(entries.map((e) => e.path), [path.join(ctx.sandbox, 'stdout')]);
  const [entry] = entries;
  assert.is(entry!.size, 12);
  assert.match(entry!.mode, /^-rw/);
  assert.type(entry!.mtime, 'number');
  assert.type(entry!.nlink, 'number');
  assert.type(entry!.uid, 'string');
  const dirs = (await ctx.files.browse(q({ path: path.join(ctx.root, 'a1') }))).body as FileEntry[];
  assert.match(dirs[0]!.mode, /^d/);
});

Files('refuses .., paths outside the sandboxes, relative paths and a missing path', async (ctx) => {
  const cases: Array<[Record<string, string>, number, RegExp]> = [
    [{ path: `${ctx.sandbox}/../../../../../../../../secret` }, 400, /\.\./],
    [{ path: path.join(ctx.dir, 'secret') }, 403, /outside this agent's sandboxes/],
    [{ path: '/etc/passwd' }, 403, /outside/],
    [{ path: 'stdout' }, 400, /absolute/],
    [{}, 400, /path is required/],
    [{ path: path.join(ctx.sandbox, 'nope') }, 404, /does not exist/],
  ];
  for (const [params, status, message] of cases) {
    for (const answer of [await ctx.files.read(q(params)), await ctx.files.browse(q(params))]) {
      assert.is(answer.status, status, JSON.stringify(params));
      assert.match((answer.body as { error: string }).error, message);
    }
  }
});

Files('refuses a symlink leading out of the sandboxes, even one to a device', async (ctx) => {
  fs.symlinkSync(path.join(ctx.dir, 'secret'), path.join(ctx.sandbox, 'out'));
  fs.symlinkSync('/dev/zero', path.join(ctx.sandbox, 'zero'));
  fs.symlinkSync(ctx.dir, path.join(ctx.sandbox, 'up'));
  for (const name of ['out', 'zero', 'up/secret']) {
    const answer = await ctx.files.read(q({ path: path.join(ctx.sandbox, name) }));
    assert.is(answer.status, 403, name);
  }
  assert.is((await ctx.files.browse(q({ path: path.join(ctx.sandbox, 'up') }))).status, 403);
  // A link that stays inside is followed.
  fs.symlinkSync('stdout', path.join(ctx.sandbox, 'inside'));
  assert.equal((await ctx.files.read(q({ path: path.join(ctx.sandbox, 'inside'), offset: 0, length: 5 }))).body, { data: 'hello', offset: 0, bytes: 5 });
});

Files('refuses a FIFO without blocking on it, a directory, and bad offsets', async (ctx) => {
  const fifo = path.join(ctx.sandbox, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const answer = await ctx.files.read(q({ path: fifo }));
  assert.is(answer.status, 400);
  assert.match((answer.body as { error: string }).error, /not a regular file/);
  assert.is((await ctx.files.read(q({ path: ctx.sandbox }))).status, 400);
  for (const offset of ['-2', 'x', '1.5']) {
    const bad = await ctx.files.read(q({ path: path.join(ctx.sandbox, 'stdout'), offset }));
    assert.is(bad.status, 400, offset);
    assert.match((bad.body as { error: string }).error, /offset/);
  }
  assert.is((await ctx.files.read(q({ path: path.join(ctx.sandbox, 'stdout'), length: '-1' }))).status, 400);
});

Files.run();
