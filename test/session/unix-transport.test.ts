import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { connectUnix } from '../../src/session/unix-transport.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';
import { recorder } from './transport-recorder.js';

const test = suite('unix transport');


let dir: string | undefined;
let cleanup: (() => Promise<void>) | undefined;
test.after.each(async () => {
  await cleanup?.();
  cleanup = undefined;
  if (dir) removeDir(dir);
  dir = undefined;
});

/** A `ws` server on a Unix socket, as the agent's executor endpoint is. */
async function wsServer(onConnection: (ws: WebSocket) => void): Promise<string> {
  dir = tempDir('ll-ut-');
  const socketPath = path.join(dir, 's.sock');
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer, path: '/api/v1/executor' });
  wss.on('connection', onConnection);
  httpServer.listen(socketPath);
  await once(httpServer, 'listening');
  cleanup = async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  };
  return socketPath;
}

test('carries binary messages both ways over a Unix socket and reports one close with its code', async () => {
  let serverCloses: number[] = [];
  const socketPath = await wsServer((ws) => {
    ws.on('message', (data: Buffer) => ws.send(Buffer.concat([Buffer.from('re:'), data])));
    ws.on('close', (code) => serverCloses.push(code));
  });
  const { seen, events } = recorder();
  const transport = connectUnix(socketPath, '/api/v1/executor', { maxPayload: 1024 }, events);
  await waitFor(() => seen.opened, { message: 'the open' });
  assert.ok(transport.isOpen);
  let written = false;
  assert.ok(transport.send(Buffer.from('hi'), () => (written = true)));
  await waitFor(() => seen.messages.length === 1, { message: 'the answer' });
  assert.equal(seen.messages, [{ data: 're:hi', binary: true }]);
  assert.ok(written);
  transport.close(4000, 'done');
  await waitFor(() => seen.closes.length === 1, { message: 'the close' });
  await waitFor(() => serverCloses.length === 1, { message: 'the server side close' });
  assert.equal(serverCloses, [4000]);
  assert.not.ok(transport.isOpen);
  assert.not.ok(transport.send(Buffer.from('late')));
  serverCloses = [];
});

test('a missing socket is an error, then one close with 1006', async () => {
  dir = tempDir('ll-ut-');
  const { seen, events } = recorder();
  connectUnix(path.join(dir, 'none.sock'), '/api/v1/executor', { maxPayload: 1024 }, events);
  await waitFor(() => seen.closes.length === 1, { message: 'the close' });
  assert.is(seen.errors.length, 1);
  assert.is((seen.errors[0] as NodeJS.ErrnoException).code, 'ENOENT');
  assert.equal(seen.closes, [{ code: 1006, reason: '' }]);
  assert.not.ok(seen.opened);
});

test('a peer that never answers the close frame is dropped by the close timeout', async () => {
  dir = tempDir('ll-ut-');
  const socketPath = path.join(dir, 'mute.sock');
  const sockets: net.Socket[] = [];
  // Upgrades, then ignores every frame: our close frame gets no answer.
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.once('data', (head) => {
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(head.toString())![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    });
  });
  server.listen(socketPath);
  await once(server, 'listening');
  cleanup = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const { seen, events } = recorder();
  const transport = connectUnix(socketPath, '/api/v1/executor', { maxPayload: 1024, closeTimeoutMs: 50 }, events);
  await waitFor(() => seen.opened, { message: 'the open' });
  transport.close(1000, 'bye');
  transport.close(1000, 'twice');
  await waitFor(() => seen.closes.length === 1, { message: 'the close after the timeout' });
  assert.is(seen.closes[0]!.code, 1006);
});

/** Every module `entry` reaches by static imports, and every bare specifier and lazy import among them. */
function importGraph(entry: string): { modules: string[]; packages: Set<string>; lazy: string[] } {
  const modules: string[] = [];
  const packages = new Set<string>();
  const lazy: string[] = [];
  const visit = (file: string) => {
    if (modules.includes(file)) return;
    modules.push(file);
    const source = fs.readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s[^;]*?from\s*'([^']+)'|^import\s*'([^']+)'/gm)) {
      const specifier = match[1] ?? match[2]!;
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier));
      else packages.add(specifier);
    }
    for (const match of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]/g)) lazy.push(`${path.basename(file)} → ${match[1]}`);
  };
  visit(entry);
  return { modules, packages, lazy };
}

test("the executor side's import graph uses the Unix transport, never ws, and loads nothing lazily", () => {
  const entry = fileURLToPath(new URL('../../src/executor/index.js', import.meta.url));
  const { modules, packages, lazy } = importGraph(entry);
  const names = modules.map((file) => path.relative(path.dirname(path.dirname(entry)), file));
  assert.ok(names.includes(path.join('session', 'unix-transport.js')), names.join(' '));
  assert.not.ok(names.includes(path.join('session', 'ws-transport.js')), names.join(' '));
  assert.not.ok(names.includes(path.join('session', 'client.js')), names.join(' '));
  assert.not.ok(packages.has('ws'), [...packages].join(' '));
  assert.equal(lazy, []);
});

test.run();
