import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MAX_SOCKET_PATH_BYTES,
  checkSocketPath,
  defaultRuntimeDir,
  executorSocketPath,
  prepareSocketDir,
  removeStaleSocket,
} from '../../src/agent/socket-path.js';
import { LifelineError, SocketPathTooLongError } from '../../src/protocol/index.js';
import { Proc, removeDir, tempDir } from '../helpers.js';

const test = suite('socket path');
let dir: string;
const servers: net.Server[] = [];
const procs: Proc[] = [];

test.before.each(() => {
  dir = tempDir('ll-sock-');
});

test.after.each(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  removeDir(dir);
});

test('is <runtime_dir>/executors/agent.sock, absolute', () => {
  assert.is(executorSocketPath('/run/ll'), '/run/ll/executors/agent.sock');
  assert.ok(path.isAbsolute(executorSocketPath('rel/dir')));
});

test('accepts a path of 107 bytes and refuses 108 with an error naming --runtime_dir', () => {
  const base = '/tmp/';
  const fits = base + 'a'.repeat(MAX_SOCKET_PATH_BYTES - base.length);
  assert.is(Buffer.byteLength(fits), 107);
  assert.is(checkSocketPath(fits), fits);
  try {
    checkSocketPath(fits + 'a');
    assert.unreachable('a 108-byte path was accepted');
  } catch (error) {
    assert.instance(error, SocketPathTooLongError);
    assert.is((error as LifelineError).code, 'ERR_SOCKET_PATH_TOO_LONG');
    assert.match((error as Error).message, /--runtime_dir/);
    assert.match((error as Error).message, /108 bytes/);
  }
});

test('counts bytes, not characters', () => {
  const multiByte = '/tmp/' + 'é'.repeat(52); // 5 + 104 bytes
  assert.throws(() => checkSocketPath(multiByte), /109 bytes/);
});

test('derives the runtime dir from the work dir, or a short stable path when that is too long', () => {
  assert.is(defaultRuntimeDir('/var/lib/ll'), '/var/lib/ll/run');
  const long = '/tmp/' + 'w'.repeat(100);
  const derived = defaultRuntimeDir(long);
  assert.ok(derived.startsWith(os.tmpdir()), derived);
  assert.is(defaultRuntimeDir(long), derived, 'the same work dir always gives the same runtime dir');
  assert.is.not(defaultRuntimeDir(long + 'x'), derived);
  checkSocketPath(executorSocketPath(derived));
});

test('creates the socket directory with mode 0700 and fixes the mode of an existing one', async () => {
  const socketPath = executorSocketPath(path.join(dir, 'rt'));
  await prepareSocketDir(socketPath);
  assert.is(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
  fs.chmodSync(path.dirname(socketPath), 0o755);
  await prepareSocketDir(socketPath);
  assert.is(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
});

test('refuses a socket directory that is a symlink', async () => {
  fs.mkdirSync(path.join(dir, 'elsewhere'));
  fs.mkdirSync(path.join(dir, 'rt'));
  fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'rt', 'executors'));
  try {
    await prepareSocketDir(executorSocketPath(path.join(dir, 'rt')));
    assert.unreachable('a symlinked directory was accepted');
  } catch (error) {
    assert.match((error as Error).message, /not a directory/);
  }
});

test('removes a stale socket file that nothing answers on', async () => {
  const socketPath = path.join(dir, 'stale.sock');
  // A process that listens and dies by SIGKILL leaves its socket file behind.
  const proc = new Proc(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  procs.push(proc);
  await proc.waitForExit();
  assert.ok(fs.lstatSync(socketPath).isSocket(), 'the stale socket file is there');
  assert.ok(await removeStaleSocket(socketPath));
  assert.not.ok(fs.existsSync(socketPath));
  assert.not.ok(await removeStaleSocket(socketPath), 'nothing to remove the second time');
});

test('refuses to remove a socket a live agent answers on', async () => {
  const socketPath = path.join(dir, 'live.sock');
  const server = net.createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    await removeStaleSocket(socketPath);
    assert.unreachable('a live socket was removed');
  } catch (error) {
    assert.is((error as LifelineError).code, 'ERR_AGENT_ALREADY_RUNNING');
    assert.match((error as Error).message, /--runtime_dir/);
  }
  assert.ok(fs.existsSync(socketPath));
});

test('refuses to remove a file that is not a socket', async () => {
  const file = path.join(dir, 'agent.sock');
  fs.writeFileSync(file, 'not a socket');
  try {
    await removeStaleSocket(file);
    assert.unreachable('a regular file was removed');
  } catch (error) {
    assert.match((error as Error).message, /not a socket/);
  }
  assert.ok(fs.existsSync(file));
});

test.run();
