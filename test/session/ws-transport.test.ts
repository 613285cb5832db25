import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeReason } from '../../src/session/transport.js';
import { connectWs, wsTransport } from '../../src/session/ws-transport.js';
import { waitFor } from '../helpers.js';
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

test.run();
