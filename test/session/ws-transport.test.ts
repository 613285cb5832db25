import { once } from 'node:events';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocketClient, { WebSocketServer, type WebSocket } from 'ws';
import { closeReason } from '../../src/session/transport.js';
import { connectWs, wsTransport } from '../../src/session/ws-transport.js';
import { waitFor } from '../helpers.js';
import { countSocketWrites } from './socket-writes.js';
import { recorder } from './transport-recorder.js';

const test = suite('ws transport');


let wss: WebSocketServer | undefined;
test.after.each(async () => {
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

async function server(onConnection: (ws: WebSocket) => void): Promise<string> {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', onConnection);
  await once(wss, 'listening');
  const { port } = wss.address() as { port: number };
  return `ws://127.0.0.1:${port}`;
}

test('carries binary messages both ways and reports one close with its code and reason', async () => {
  const serverSeen = recorder();
  const url = await server((ws) => {
    const transport = wsTransport(ws, serverSeen.events);
    ws.on('message', () => transport.send(Buffer.from('pong')));
  });
  const { seen, events } = recorder();
  const client = connectWs(url, { maxPayload: 1024, handshakeTimeoutMs: 5_000 }, events);
  await waitFor(() => seen.opened, { message: 'the client to open' });
  assert.ok(client.isOpen);
  let written = false;
  assert.ok(client.send(Buffer.from('ping'), (error) => (written = error === undefined)));
  await waitFor(() => seen.messages.length === 1, { message: 'the answer' });
  assert.equal(seen.messages, [{ data: 'pong', binary: true }]);
  assert.ok(written);
  assert.equal(serverSeen.seen.messages, [{ data: 'ping', binary: true }]);
  client.close(4000, 'done');
  await waitFor(() => seen.closes.length === 1 && serverSeen.seen.closes.length === 1, { message: 'both ends to close' });
  assert.equal(serverSeen.seen.closes, [{ code: 4000, reason: 'done' }]);
  assert.is(client.isOpen, false);
  assert.is(client.send(Buffer.from('late')), false);
});

test('a failed connect is an error event followed by one close, not a crash', async () => {
  const { seen, events } = recorder();
  connectWs('ws://127.0.0.1:1', { maxPayload: 1024, handshakeTimeoutMs: 5_000 }, events);
  await waitFor(() => seen.closes.length === 1, { message: 'the failed connect to close' });
  assert.is(seen.opened, false);
  assert.ok(seen.errors.length >= 1);
  assert.is(seen.closes[0]!.code, 1006);
});

test('an oversize message is an error (ws closes the connection with 1009) and one close', async () => {
  const url = await server((ws) => ws.send(Buffer.alloc(4096)));
  const { seen, events } = recorder();
  connectWs(url, { maxPayload: 1024, handshakeTimeoutMs: 5_000 }, events);
  await waitFor(() => seen.closes.length === 1, { message: 'the oversize message to close the connection' });
  assert.is((seen.errors[0] as { code?: string }).code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  assert.is(seen.messages.length, 0);
});

test('closeReason cuts a long reason to the 123-byte limit on a character boundary', () => {
  assert.is(closeReason('short'), 'short');
  const cut = closeReason('é'.repeat(100));
  assert.ok(Buffer.byteLength(cut) <= 123);
  assert.ok(!cut.includes('\uFFFD'));
});

test('the messages of one turn leave in one write, both ways (a server-side transport is given its socket)', async () => {
  const httpServer = http.createServer();
  const upgrades = new WebSocketServer({ noServer: true });
  /** Reads at the server's socket after the upgrade, and the server-side transport. */
  const atServer = { reads: 0, messages: 0, transport: undefined as ReturnType<typeof wsTransport> | undefined };
  httpServer.on('upgrade', (request, socket: Duplex, head) => {
    upgrades.handleUpgrade(request, socket, head, (ws) => {
      socket.on('data', () => (atServer.reads += 1));
      const { events } = recorder();
      atServer.transport = wsTransport(ws, { ...events, message: () => void (atServer.messages += 1) }, socket);
    });
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as { port: number };
  try {
    // Client → server: a connectWs transport takes its socket from the upgrade response.
    const { seen, events } = recorder();
    const client = connectWs(`ws://127.0.0.1:${port}`, { maxPayload: 1024, handshakeTimeoutMs: 5_000 }, events);
    await waitFor(() => seen.opened && atServer.transport, { message: 'both ends open' });
    const up = await countSocketWrites(() => {
      for (let i = 0; i < 5; i++) assert.ok(client.send(Buffer.from(`up ${i}`)));
    });
    // One gathered write (ws may hand a frame over as header and payload: its chunks are not counted).
    assert.equal([up.write, up.writev.length], [0, 1], `client → server: five messages, one gathered write (${JSON.stringify(up)})`);
    await waitFor(() => atServer.messages === 5, { message: 'five messages at the server' });
    assert.is(atServer.reads, 1, 'five messages in one read at the server');

    // Server → client, watched at a plain ws client's socket.
    const raw = new WebSocketClient(`ws://127.0.0.1:${port}`);
    raw.on('error', () => {});
    const atClient = { reads: 0, messages: 0 };
    raw.on('upgrade', (response) => response.socket.on('data', () => (atClient.reads += 1)));
    raw.on('message', () => (atClient.messages += 1));
    const before = atServer.transport;
    await waitFor(() => raw.readyState === WebSocketClient.OPEN && atServer.transport !== before, { message: 'the second client open' });
    const down = await countSocketWrites(() => {
      for (let i = 0; i < 5; i++) assert.ok(atServer.transport!.send(Buffer.from(`down ${i}`)));
    });
    // One gathered write (ws may hand a frame over as header and payload: its chunks are not counted).
    assert.equal([down.write, down.writev.length], [0, 1], `server → client: five messages, one gathered write (${JSON.stringify(down)})`);
    await waitFor(() => atClient.messages === 5, { message: 'five messages at the client' });
    assert.is(atClient.reads, 1, 'five messages in one read at the client');
    client.terminate();
    raw.terminate();
  } finally {
    // A failed assertion above still ends every connection, so that the server can close.
    for (const ws of upgrades.clients) ws.terminate();
    upgrades.close();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  }
});

test.run();
