// The Transport contract (session/transport.ts) and its one runtime helper, closeReason. The contract
// is held against both implementations over real sockets: `ws` on loopback TCP (ws-transport.ts) and
// the light client on a Unix socket (unix-transport.ts): open first, binary messages, a close reason
// cut to fit, exactly one close, and send() false once not open.
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeReason, type Connector, type Transport, type TransportEvents } from '../../src/session/transport.js';
import { connectUnix } from '../../src/session/unix-transport.js';
import { connectWs } from '../../src/session/ws-transport.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';
import { recorder } from './transport-recorder.js';

const test = suite('session/transport');

let dir: string | undefined;
let cleanup: (() => Promise<void>) | undefined;
test.after.each(async () => {
  await cleanup?.();
  cleanup = undefined;
  if (dir) removeDir(dir);
  dir = undefined;
});

test('closeReason keeps a reason of up to 123 bytes as it is', () => {
  assert.is(closeReason(''), '');
  assert.is(closeReason('short'), 'short');
  const exact = 'r'.repeat(123);
  assert.is(closeReason(exact), exact);
  // 61 two-byte characters and one byte: 123 bytes, kept.
  const mixed = 'é'.repeat(61) + 'x';
  assert.is(closeReason(mixed), mixed);
});

test('closeReason cuts a longer reason to its first 120 bytes', () => {
  assert.is(closeReason('r'.repeat(124)), 'r'.repeat(120));
  assert.is(closeReason('é'.repeat(100)), 'é'.repeat(60));
});

test('closeReason never ends in half a character', () => {
  // One byte, then three-byte characters: byte 120 falls inside the 40th '€'.
  const cut = closeReason('a' + '€'.repeat(50));
  assert.is(cut, 'a' + '€'.repeat(39));
  const emoji = closeReason('ab' + '😀'.repeat(40));
  assert.is(emoji, 'ab' + '😀'.repeat(29));
  for (const text of [cut, emoji]) {
    assert.ok(Buffer.byteLength(text) <= 123);
    assert.not.ok(text.includes('\uFFFD'));
  }
});

interface Peer {
  received: string[];
  closes: Array<{ code: number; reason: string }>;
}

/** A `ws` server on loopback TCP that answers "re:<message>"; a Connector to it. */
async function tcpServer(peer: Peer): Promise<Connector> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => serve(ws, peer));
  await once(wss, 'listening');
  cleanup = () => closeAll(wss);
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  return (events) => connectWs(url, { maxPayload: 1024, handshakeTimeoutMs: 5_000 }, events);
}

/** The same on a Unix socket, as the agent's executor endpoint is; a Connector of the light client. */
async function unixServer(peer: Peer): Promise<Connector> {
  dir = tempDir('ll-tr-');
  const socketPath = path.join(dir, 's.sock');
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer, path: '/api/v1/executor' });
  wss.on('connection', (ws) => serve(ws, peer));
  httpServer.listen(socketPath);
  await once(httpServer, 'listening');
  cleanup = async () => {
    await closeAll(wss);
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  };
  return (events) => connectUnix(socketPath, '/api/v1/executor', { maxPayload: 1024 }, events);
}

function serve(ws: WebSocket, peer: Peer): void {
  ws.on('message', (data: Buffer) => {
    peer.received.push(data.toString());
    ws.send(Buffer.concat([Buffer.from('re:'), data]));
  });
  ws.on('close', (code, reason) => peer.closes.push({ code, reason: reason.toString() }));
}

async function closeAll(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** A few turns of the event loop, for a second close event that must not come. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

const IMPLEMENTATIONS: Array<[string, (peer: Peer) => Promise<Connector>]> = [
  ['ws over TCP', tcpServer],
  ['the light client over a Unix socket', unixServer],
];

for (const [name, start] of IMPLEMENTATIONS) {
  test(`${name}: opens, carries binary messages, sends a cut close reason and closes exactly once`, async () => {
    const peer: Peer = { received: [], closes: [] };
    const connect = await start(peer);
    const { seen, events } = recorder();
    const order: string[] = [];
    const transport: Transport = connect({
      open: () => (order.push('open'), events.open()),
      message: (data, binary) => (order.push('message'), events.message(data, binary)),
      error: events.error,
      close: (code, reason) => (order.push('close'), events.close(code, reason)),
    } satisfies TransportEvents);
    assert.not.ok(transport.isOpen, 'not open before the open event');
    assert.not.ok(transport.send(Buffer.from('early')), 'nothing is sent before open');
    await waitFor(() => seen.opened, { message: 'the open event' });
    assert.ok(transport.isOpen);
    assert.type(transport.bufferedAmount, 'number');
    let written: Error | undefined | 'not yet' = 'not yet';
    assert.ok(transport.send(Buffer.from('hi'), (error) => (written = error)));
    await waitFor(() => seen.messages.length === 1, { message: 'the answer' });
    assert.equal(seen.messages, [{ data: 're:hi', binary: true }]);
    assert.equal(peer.received, ['hi']);
    assert.is(written, undefined, 'onWritten ran without an error');

    transport.close(4001, 'z'.repeat(300));
    await waitFor(() => seen.closes.length === 1 && peer.closes.length === 1, { message: 'both ends to see the close' });
    assert.equal(peer.closes, [{ code: 4001, reason: 'z'.repeat(120) }]);
    assert.is(seen.closes[0]!.code, 4001);
    assert.not.ok(transport.isOpen);
    assert.not.ok(transport.send(Buffer.from('late')));
    transport.close();
    transport.terminate();
    await settle();
    assert.equal(order, ['open', 'message', 'close']);
    assert.equal(seen.errors, []);
  });

  test(`${name}: terminate() drops the connection and is reported as one close`, async () => {
    const peer: Peer = { received: [], closes: [] };
    const connect = await start(peer);
    const { seen, events } = recorder();
    const transport = connect(events);
    await waitFor(() => seen.opened, { message: 'the open event' });
    transport.terminate();
    await waitFor(() => seen.closes.length === 1 && peer.closes.length === 1, { message: 'the drop to be seen by both ends' });
    assert.is(peer.closes[0]!.code, 1006, 'the server saw no close frame');
    assert.not.ok(transport.isOpen);
    transport.terminate();
    await settle();
    assert.is(seen.closes.length, 1);
  });
}

test('a failed connect is error then one close 1006, never open, for both implementations', async () => {
  dir = tempDir('ll-tr-');
  const connectors: Connector[] = [
    (events) => connectWs('ws://127.0.0.1:1', { maxPayload: 1024, handshakeTimeoutMs: 5_000 }, events),
    (events) => connectUnix(path.join(dir!, 'nobody.sock'), '/api/v1/executor', { maxPayload: 1024 }, events),
  ];
  for (const connect of connectors) {
    const order: string[] = [];
    const { seen, events } = recorder();
    const transport = connect({ ...events, error: (error) => (order.push('error'), events.error(error)), close: (code, reason) => (order.push('close'), events.close(code, reason)) });
    await waitFor(() => seen.closes.length === 1, { message: 'the failed connect to close' });
    await settle();
    assert.not.ok(seen.opened);
    assert.is(order[0], 'error', order.join());
    assert.equal(order.filter((event) => event === 'close'), ['close']);
    assert.is(order.at(-1), 'close');
    assert.is(seen.closes[0]!.code, 1006);
    assert.not.ok(transport.isOpen);
    assert.not.ok(transport.send(Buffer.from('x')));
  }
});

test.run();
