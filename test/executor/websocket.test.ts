// UnixWebSocket against the real `ws` server the agent uses, on a real Unix socket; and against a
// raw socket server for what ws would never send (a masked frame, a bad upgrade answer).
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { UnixWebSocket, type WebSocketHandlers } from '../../src/executor/websocket.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';

interface Context {
  dir: string;
  server?: http.Server | net.Server;
  wss?: WebSocketServer;
  peers: WebSocket[];
  clients: UnixWebSocket[];
}

const Ws = suite<Context>('UnixWebSocket', { dir: '', peers: [], clients: [] });

Ws.before.each((context) => {
  context.dir = tempDir('ll-uws-');
  context.peers = [];
  context.clients = [];
  context.server = undefined;
  context.wss = undefined;
});

Ws.after.each(async (context) => {
  for (const client of context.clients) client.terminate();
  for (const peer of context.peers) peer.terminate();
  if (context.wss) await new Promise<void>((resolve) => context.wss!.close(() => resolve()));
  if (context.server) await new Promise<void>((resolve) => context.server!.close(() => resolve()));
  removeDir(context.dir);
});

/** A ws server on `<dir>/agent.sock`, upgrading /api/v1/executor like the agent's endpoint. */
async function wsServer(context: Context, maxPayload = 1024 * 1024): Promise<string> {
  const socketPath = path.join(context.dir, 'agent.sock');
  const server = http.createServer((_, response) => response.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, maxPayload });
  server.on('upgrade', (request, socket, head) => {
    if (request.url !== '/api/v1/executor') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => {});
      context.peers.push(ws);
    });
  });
  context.server = server;
  context.wss = wss;
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return socketPath;
}

/** A client that records what happens to it. */
function client(context: Context, socketPath: string, maxPayload = 1024 * 1024) {
  const seen = { open: false, messages: [] as Buffer[], errors: [] as Error[], close: undefined as { code: number; reason: string } | undefined };
  const handlers: WebSocketHandlers = {
    open: () => (seen.open = true),
    message: (data) => seen.messages.push(data),
    error: (error) => seen.errors.push(error),
    close: (code, reason) => {
      assert.is(seen.close, undefined, 'close is called once');
      seen.close = { code, reason };
    },
  };
  const ws = new UnixWebSocket(socketPath, '/api/v1/executor', handlers, { maxPayload });
  context.clients.push(ws);
  return { ws, seen };
}

Ws('opens, and exchanges binary messages of every length class both ways', async (context) => {
  const socketPath = await wsServer(context);
  const { ws, seen } = client(context, socketPath);
  await waitFor(() => seen.open && context.peers.length === 1, { message: 'open' });
  const received: Buffer[] = [];
  context.peers[0]!.on('message', (data: Buffer) => received.push(data));
  const sizes = [0, 1, 125, 126, 65_535, 65_536, 300_000];
  for (const size of sizes) {
    const payload = Buffer.alloc(size, size % 251);
    assert.ok(ws.send(payload));
    context.peers[0]!.send(payload);
  }
  await waitFor(() => received.length === sizes.length && seen.messages.length === sizes.length, { message: 'every message both ways' });
  for (const [i, size] of sizes.entries()) {
    assert.equal(received[i], Buffer.alloc(size, size % 251), `client → server, ${size} bytes`);
    assert.equal(seen.messages[i], Buffer.alloc(size, size % 251), `server → client, ${size} bytes`);
  }
  assert.equal(seen.errors, []);
});

Ws('reassembles a fragmented message and answers pings', async (context) => {
  const socketPath = await wsServer(context);
  const { seen } = client(context, socketPath);
  await waitFor(() => seen.open && context.peers.length === 1, { message: 'open' });
  const peer = context.peers[0]!;
  let ponged = false;
  peer.on('pong', (data: Buffer) => (ponged = data.toString() === 'are you there'));
  peer.ping('are you there');
  peer.send(Buffer.from('hello '), { fin: false });
  peer.send(Buffer.from('fragmented '), { fin: false });
  peer.send(Buffer.from('world'), { fin: true });
  await waitFor(() => seen.messages.length === 1 && ponged, { message: 'the message and the pong' });
  assert.is(seen.messages[0]!.toString(), 'hello fragmented world');
});

Ws('closes with a handshake: the server sees our code and reason, we see its answer', async (context) => {
  const socketPath = await wsServer(context);
  const { ws, seen } = client(context, socketPath);
  await waitFor(() => seen.open && context.peers.length === 1, { message: 'open' });
  let serverSaw: { code: number; reason: string } | undefined;
  context.peers[0]!.on('close', (code: number, reason: Buffer) => (serverSaw = { code, reason: reason.toString() }));
  ws.close(1008, 'invalid frame');
  assert.not.ok(ws.send(Buffer.from('late')), 'nothing is sent once closing');
  await waitFor(() => seen.close && serverSaw, { message: 'both sides closed' });
  assert.equal(serverSaw, { code: 1008, reason: 'invalid frame' });
  assert.is(seen.close!.code, 1008, 'the server echoes the code');
  assert.is(ws.state, 'CLOSED');
});

Ws('reports the code and reason of a close the server starts', async (context) => {
  const socketPath = await wsServer(context);
  const { seen } = client(context, socketPath);
  await waitFor(() => seen.open && context.peers.length === 1, { message: 'open' });
  context.peers[0]!.close(1001, 'going away');
  await waitFor(() => seen.close, { message: 'close' });
  assert.equal(seen.close, { code: 1001, reason: 'going away' });
  assert.equal(seen.errors, []);
});

Ws('a connection that just drops is 1006', async (context) => {
  const socketPath = await wsServer(context);
  const { seen } = client(context, socketPath);
  await waitFor(() => seen.open && context.peers.length === 1, { message: 'open' });
  context.peers[0]!.terminate();
  await waitFor(() => seen.close, { message: 'close' });
  assert.is(seen.close!.code, 1006);
});

Ws('a message over maxPayload fails the connection with 1009', async (context) => {
  const socketPath = await wsServer(context);
  const { seen } = client(context, socketPath, 1000);
  await waitFor(() => seen.open && context.peers.length === 1, { message: 'open' });
  let serverSaw: number | undefined;
  context.peers[0]!.on('close', (code: number) => (serverSaw = code));
  context.peers[0]!.send(Buffer.alloc(1001));
  await waitFor(() => seen.close && serverSaw, { message: 'closed' });
  assert.is(seen.close!.code, 1009);
  assert.is(serverSaw, 1009);
  assert.match(seen.errors[0]!.message, /exceeds the maximum of 1000 bytes/);
  assert.equal(seen.messages, []);
});

Ws('no server at the path: an error, then close 1006, never open', async (context) => {
  const { seen } = client(context, path.join(context.dir, 'nobody.sock'));
  await waitFor(() => seen.close, { message: 'close' });
  assert.is(seen.open, false);
  assert.is(seen.close!.code, 1006);
  assert.match(seen.errors[0]!.message, /ENOENT/);
});

/** A raw server that answers the upgrade with `answer(key)` and then writes `after`. */
async function rawServer(context: Context, answer: (key: string) => string, after?: Buffer): Promise<string> {
  const socketPath = path.join(context.dir, 'raw.sock');
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(head)?.[1] ?? '';
      socket.write(answer(key));
      if (after) socket.write(after);
    });
  });
  context.server = server;
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return socketPath;
}

Ws('refuses an upgrade whose Sec-WebSocket-Accept is wrong, or that is not a 101', async (context) => {
  const socketPath = await rawServer(context, () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n');
  const bad = client(context, socketPath);
  await waitFor(() => bad.seen.close, { message: 'close' });
  assert.is(bad.seen.open, false);
  assert.match(bad.seen.errors[0]!.message, /Sec-WebSocket-Accept/);
  await new Promise<void>((resolve) => context.server!.close(() => resolve()));
  context.server = undefined;
  const socketPath404 = await rawServer(context, () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  const refused = client(context, socketPath404);
  await waitFor(() => refused.seen.close, { message: 'close' });
  assert.is(refused.seen.open, false);
  assert.match(refused.seen.errors[0]!.message, /unexpected server response: 404/);
});

Ws('a masked frame from the server is a protocol error (1002)', async (context) => {
  const { createHash } = await import('node:crypto');
  const accept = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  // A masked binary frame of 1 byte: FIN|binary, MASK|1, mask key, payload.
  const masked = Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0x41 ^ 1]);
  const socketPath = await rawServer(
    context,
    (key) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`,
    masked,
  );
  const { seen } = client(context, socketPath);
  await waitFor(() => seen.close, { message: 'close' });
  assert.is(seen.open, true);
  assert.equal(seen.messages, []);
  assert.is(seen.close!.code, 1002);
  assert.match(seen.errors[0]!.message, /masked/);
});

Ws.run();
