// The executor socket's trust checks on real directories and sockets. The cases that need another
// user's files chown them to `nobody`, so they run only as root (skipped with a line otherwise).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { untrustedDirProblem, untrustedSocketProblem } from '../../src/session/socket-trust.js';
import { removeDir, tempDir } from '../helpers.js';

const NOBODY = 65_534;
const asRoot = process.getuid?.() === 0 && process.env.CI !== 'true';
if (!asRoot) console.log('socket-trust: not root (or CI=true): the cases with files of another user are skipped');

const Trust = suite<{ dir: string; servers: net.Server[] }>('the executor socket is trusted only in directories no other user can write');

Trust.before.each((context) => {
  context.dir = tempDir('ll-trust-');
  context.servers = [];
});
Trust.after.each(async (context) => {
  for (const server of context.servers) await new Promise((resolve) => server.close(resolve));
  removeDir(context.dir);
});

async function listen(context: { servers: net.Server[] }, socketPath: string): Promise<void> {
  const server = net.createServer((socket) => socket.destroy());
  context.servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
}

Trust('accepts a private directory under /tmp (the walk stops at the root-owned sticky /tmp)', ({ dir }) => {
  const executors = path.join(dir, 'executors');
  fs.mkdirSync(executors, { mode: 0o700 });
  assert.is(untrustedDirProblem(executors), undefined);
});

Trust('refuses a directory on the way that others may write, naming it and its mode', ({ dir }) => {
  const shared = path.join(dir, 'shared');
  fs.mkdirSync(path.join(shared, 'executors'), { recursive: true, mode: 0o700 });
  fs.chmodSync(shared, 0o777);
  assert.match(untrustedDirProblem(path.join(shared, 'executors')) ?? '', new RegExp(`${shared} is writable by its group \\(mode 0777\\) and not sticky`));
  fs.chmodSync(shared, 0o757);
  assert.match(untrustedDirProblem(path.join(shared, 'executors')) ?? '', /writable by others \(mode 0757\)/);
});

Trust('follows a symlink and checks where it leads', ({ dir }) => {
  const open = path.join(dir, 'open');
  fs.mkdirSync(open, { mode: 0o700 });
  fs.chmodSync(open, 0o777);
  fs.mkdirSync(path.join(open, 'real'), { mode: 0o700 });
  fs.symlinkSync(path.join(open, 'real'), path.join(dir, 'link'));
  assert.match(untrustedDirProblem(path.join(dir, 'link')) ?? '', /open is writable/);
});

Trust('refuses a path that is not a socket, and says nothing about a missing one (connect reports ENOENT)', async (context) => {
  const file = path.join(context.dir, 'agent.sock');
  assert.is(untrustedSocketProblem(file), undefined);
  fs.writeFileSync(file, '');
  assert.match(untrustedSocketProblem(file) ?? '', /agent\.sock is not a socket/);
  fs.rmSync(file);
  await listen(context, file);
  assert.is(untrustedSocketProblem(file), undefined);
});

if (asRoot) {
  Trust("refuses a parent created first by another user (the /tmp fallback's predictable name)", ({ dir }) => {
    const planted = path.join(dir, 'lifeline-0-0123456789abcdef');
    fs.mkdirSync(path.join(planted, 'executors'), { recursive: true, mode: 0o700 });
    fs.chownSync(planted, NOBODY, NOBODY);
    assert.match(untrustedDirProblem(path.join(planted, 'executors'), 0) ?? '', new RegExp(`${planted} belongs to uid ${NOBODY}, not to uid 0 or root`));
  });

  Trust('refuses a socket another user planted, naming its owner', async (context) => {
    const socketPath = path.join(context.dir, 'agent.sock');
    await listen(context, socketPath);
    fs.lchownSync(socketPath, NOBODY, NOBODY);
    assert.match(untrustedSocketProblem(socketPath, 0) ?? '', new RegExp(`agent\\.sock belongs to uid ${NOBODY}, not to this executor's uid 0 or root`));
    // The same socket as seen by an executor running as nobody (a task user): root's socket is fine.
    fs.lchownSync(socketPath, 0, 0);
    assert.is(untrustedSocketProblem(socketPath, NOBODY), undefined);
  });
}

Trust.run();
