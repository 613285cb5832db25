// UnixWebSocket against the real `ws` server the agent uses, on a real Unix socket; and against a
// raw-frame server for what ws would never send (hostile frames, bad upgrade answers), checking
// the code reported, the end state, and every byte the client wrote back.
import http from 'node:http';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { UnixWebSocket, type WebSocketHandlers } from '../../src/session/unix-websocket.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';
import { type ClientFrame, closePayload, RawFrameServer, type RawPeer, type RawServerOptions, serverFrame, upgradeAnswer } from './raw-frame-server.js';
import { countSocketWrites } from './socket-writes.js';

interface Context {
  dir: string;
  server?: http.Server;
  wss?: WebSocketServer;
  raw?: RawFrameServer;
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
  context.raw = undefined;
});

Ws.after.each(async (context) => {
  for (const client of context.clients) client.terminate();
  for (const peer of context.peers) peer.terminate();
  if (context.wss) await new Promise<void>((resolve) => context.wss!.close(() => resolve()));
  if (context.server) await new Promise<void>((resolve) => context.server!.close(() => resolve()));
  await context.raw?.close();
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
function client(context: Context, socketPath: string, maxPayload = 1024 * 1024, closeTimeoutMs?: number) {
  const seen = {
    open: false,
    messages: [] as Buffer[],
    errors: [] as Error[],
    close: undefined as { code: number; reason: string } | undefined,
    closeCalls: 0,
    /** What send() returned when tried from the error handler. */
    sendInError: [] as boolean[],
  };
  const handlers: WebSocketHandlers = {
    open: () => (seen.open = true),
    message: (data) => seen.messages.push(data),
    error: (error) => {
      seen.errors.push(error);
      seen.sendInError.push(ws.send(Buffer.from('after the failure')));
    },
    close: (code, reason) => {
      seen.closeCalls++;
      assert.is(seen.close, undefined, 'close is called once');
      seen.close = { code, reason };
    },
  };
  const ws: UnixWebSocket = new UnixWebSocket(socketPath, '/api/v1/executor', handlers, { maxPayload, closeTimeoutMs });
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

Ws('the frames of one turn leave in one write; those of the next turn in another', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  const writes = await countSocketWrites(async () => {
    for (let i = 0; i < 5; i++) assert.ok(ws.send(Buffer.from(`first ${i}`)));
    // Sent from promise callbacks of the same turn: still the same write.
    await Promise.resolve().then(() => ws.send(Buffer.from('first 5')));
  });
  assert.equal(writes, { write: 0, writev: [6] }, 'six frames, one gathered write');
  await waitFor(() => peer.frames.frames.length >= 6, { message: 'the first turn\'s frames' });
  assert.is(peer.reads, 1, 'one read for the first turn');
  for (let i = 0; i < 3; i++) assert.ok(ws.send(Buffer.from(`second ${i}`)));
  await waitFor(() => peer.frames.frames.length >= 9, { message: 'the second turn\'s frames' });
  assert.is(peer.reads, 2, 'one more read for the second turn');
  assert.equal(peer.frames.frames.map((frame) => frame.payload.toString()), [...[0, 1, 2, 3, 4, 5].map((i) => `first ${i}`), ...[0, 1, 2].map((i) => `second ${i}`)]);
  ws.terminate();
});

Ws('every frame has its own random mask, also past a refill of the pool the masks are drawn from', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  // 1,024 masks per 4 KiB block: 2,500 frames draw from three blocks.
  const count = 2_500;
  for (let i = 0; i < count; i++) assert.ok(ws.send(Buffer.from(`message ${i}`)));
  await waitFor(() => peer.frames.frames.length >= count, { message: `${count} frames at the server` });
  const { frames } = peer.frames;
  frames.slice(0, count).forEach((frame, i) => assert.is(frame.payload.toString(), `message ${i}`));
  const masks = new Set(frames.slice(0, count).map((frame) => frame.mask.toString('hex')));
  // Random 32-bit keys: a collision or two among 2,500 is possible (p ≈ 0.07 %), a repeated block is not.
  assert.ok(masks.size >= count - 2, `${masks.size} distinct masks in ${count} frames`);
  ws.terminate();
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


type Seen = ReturnType<typeof client>['seen'];

/** A raw-frame server, a client connected to it, and the server's side of that connection (open, unless the upgrade is refused). */
async function rawClient(context: Context, options: RawServerOptions & { maxPayload?: number; closeTimeoutMs?: number } = {}) {
  context.raw = await RawFrameServer.start(context.dir, options);
  const { ws, seen } = client(context, context.raw.socketPath, options.maxPayload ?? 1000, options.closeTimeoutMs);
  const peer = await waitFor(() => (context.raw!.peers[0]?.request ? context.raw!.peers[0] : undefined), { message: 'the upgrade request' });
  return { ws, seen, peer };
}

/**
 * Waits until both ends are closed, then checks what the client wrote after its request: whole
 * masked frames only, nothing after its close frame, and a close frame (if any) whose code may go
 * on the wire. Returns that close frame's code and reason (code undefined: an empty close frame).
 */
async function ended(ws: UnixWebSocket, seen: Seen, peer: RawPeer): Promise<{ frames: ClientFrame[]; sentClose?: { code?: number; reason: string } }> {
  await waitFor(() => seen.close && peer.closed, { message: 'both ends closed' });
  assert.is(ws.state, 'CLOSED');
  assert.is(seen.closeCalls, 1, 'close is reported exactly once');
  assert.not.ok(ws.send(Buffer.from('late')), 'nothing is sent once closed');
  const { frames, rest } = peer.frames;
  assert.is(rest.length, 0, 'the client wrote whole frames only');
  for (const frame of frames) assert.ok(frame.masked, 'every client frame is masked');
  const closeAt = frames.findIndex((frame) => frame.opcode === 0x8);
  if (closeAt === -1) return { frames };
  assert.is(closeAt, frames.length - 1, 'nothing is written after the close frame');
  const { payload } = frames[closeAt]!;
  if (payload.length === 0) return { frames, sentClose: { reason: '' } };
  assert.ok(payload.length >= 2, 'a close payload is empty or has a code');
  const code = payload.readUInt16BE(0);
  assert.not.ok([1005, 1006, 1015].includes(code), `the client never sends ${code}`);
  assert.ok((code >= 1000 && code <= 1014 && code !== 1004) || (code >= 3000 && code <= 4999), `${code} is a code a close frame may carry`);
  return { frames, sentClose: { code, reason: payload.subarray(2).toString() } };
}

/** Opens a raw connection, writes `bytes` as the server, and checks that the client fails it with `code`. */
async function expectFailure(context: Context, bytes: Buffer, code: number, error: RegExp, options: { maxPayload?: number } = {}) {
  const { ws, seen, peer } = await rawClient(context, options);
  await waitFor(() => seen.open, { message: 'open' });
  peer.write(bytes);
  const { sentClose } = await ended(ws, seen, peer);
  assert.is(seen.close!.code, code, 'the code reported');
  assert.is(sentClose?.code, code, 'the code in the close frame the client wrote');
  assert.match(seen.errors[0]?.message ?? '', error);
  assert.equal(seen.messages, []);
  assert.equal(seen.sendInError, [false], 'send() refuses once the connection is failed');
  await context.raw!.close();
  context.raw = undefined;
}

Ws('refuses an upgrade whose Sec-WebSocket-Accept is wrong, or that is not a 101', async (context) => {
  const bad = await rawClient(context, { answer: () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n' });
  const badEnd = await ended(bad.ws, bad.seen, bad.peer);
  assert.is(bad.seen.open, false);
  assert.match(bad.seen.errors[0]!.message, /Sec-WebSocket-Accept/);
  assert.equal(badEnd.frames, []);
  await context.raw!.close();
  const refused = await rawClient(context, { answer: () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n' });
  await ended(refused.ws, refused.seen, refused.peer);
  assert.is(refused.seen.open, false);
  assert.match(refused.seen.errors[0]!.message, /unexpected server response: 404/);
});

Ws('refuses an upgrade without Connection: Upgrade or Upgrade: websocket, or with what it did not offer: never open, 1006, nothing written', async (context) => {
  const answers: [(key: string) => string, RegExp][] = [
    [(key) => upgradeAnswer(key, { omit: ['connection'] }), /Connection header/],
    [(key) => upgradeAnswer(key, { omit: ['connection'], extra: ['Connection: keep-alive'] }), /Connection header/],
    [(key) => upgradeAnswer(key, { omit: ['upgrade'] }), /Upgrade header/],
    [(key) => upgradeAnswer(key, { omit: ['upgrade'], extra: ['Upgrade: h2c'] }), /Upgrade header/],
    [(key) => upgradeAnswer(key, { status: '200 OK' }), /unexpected server response: 200/],
    [(key) => upgradeAnswer(key, { extra: ['Sec-WebSocket-Extensions: permessage-deflate'] }), /extension/],
  ];
  for (const [answer, error] of answers) {
    const { ws, seen, peer } = await rawClient(context, { answer, after: serverFrame(0x2, 'early') });
    const { frames } = await ended(ws, seen, peer);
    assert.is(seen.open, false);
    assert.is(seen.close!.code, 1006);
    assert.match(seen.errors[0]!.message, error);
    assert.equal(frames, [], 'nothing after the request');
    assert.equal(seen.messages, []);
    await context.raw!.close();
  }
  context.raw = undefined;
});

Ws('accepts Connection: Upgrade in any case and among other tokens, with frames in the same packet as the head', async (context) => {
  const { ws, seen, peer } = await rawClient(context, {
    answer: (key) => upgradeAnswer(key, { omit: ['connection'], extra: ['connection: keep-alive, UPGRADE'] }),
    after: serverFrame(0x2, 'first'),
  });
  await waitFor(() => seen.messages.length === 1, { message: 'the first message' });
  assert.is(seen.messages[0]!.toString(), 'first');
  peer.write(serverFrame(0x8, closePayload(1000)));
  const { sentClose } = await ended(ws, seen, peer);
  assert.equal(seen.close, { code: 1000, reason: '' });
  assert.equal(sentClose, { code: 1000, reason: '' });
});

Ws('assembles a message whose fragments have pings between them, and answers every ping', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  peer.write(
    Buffer.concat([
      serverFrame(0x2, 'hello ', { fin: false }),
      serverFrame(0x9, 'ping one'),
      serverFrame(0x0, 'fragmented ', { fin: false }),
      serverFrame(0x9, ''),
      serverFrame(0xa, 'unsolicited pong'),
      serverFrame(0x0, 'world'),
    ]),
  );
  await waitFor(() => seen.messages.length === 1 && peer.frames.frames.length === 2, { message: 'the message and two pongs' });
  assert.is(seen.messages[0]!.toString(), 'hello fragmented world');
  // The same, one byte per write: the parser waits for whole frames.
  const bytes = Buffer.concat([serverFrame(0x2, 'a', { fin: false }), serverFrame(0x9, 'ping two'), serverFrame(0x0, Buffer.alloc(300, 7))]);
  for (const byte of bytes) peer.write(Buffer.from([byte]));
  await waitFor(() => seen.messages.length === 2 && peer.frames.frames.length === 3, { message: 'the second message and its pong' });
  assert.equal(seen.messages[1], Buffer.concat([Buffer.from('a'), Buffer.alloc(300, 7)]));
  ws.close(3000, 'done');
  await waitFor(() => peer.frames.frames.length === 4, { message: 'the close frame' });
  peer.write(serverFrame(0x8, closePayload(3000, 'done')));
  const { frames, sentClose } = await ended(ws, seen, peer);
  assert.equal(
    frames.slice(0, 3).map((frame) => [frame.opcode, frame.payload.toString()]),
    [
      [0xa, 'ping one'],
      [0xa, ''],
      [0xa, 'ping two'],
    ],
  );
  assert.equal(sentClose, { code: 3000, reason: 'done' });
  assert.equal(seen.close, { code: 3000, reason: 'done' });
  assert.equal(seen.errors, []);
});

Ws('a message over maxPayload is 1009 before its payload arrives: 16-bit, 64-bit, top bit set, across fragments', async (context) => {
  await expectFailure(context, serverFrame(0x2, Buffer.alloc(1001)).subarray(0, 4), 1009, /exceeds the maximum of 1000 bytes/);
  await expectFailure(context, serverFrame(0x2, '', { declared64: 2n ** 32n }), 1009, /exceeds the maximum/);
  await expectFailure(context, serverFrame(0x2, '', { declared64: 2n ** 63n + 5n }), 1009, /exceeds the maximum/);
  await expectFailure(context, serverFrame(0x2, '', { declared64: 2n ** 64n - 1n }), 1009, /exceeds the maximum/);
  const fragments = Buffer.concat([serverFrame(0x2, Buffer.alloc(600), { fin: false }), serverFrame(0x9, 'x'), serverFrame(0x0, Buffer.alloc(401))]);
  await expectFailure(context, fragments, 1009, /exceeds the maximum of 1000 bytes/);
});

Ws('a message of exactly maxPayload, in fragments, is delivered', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  peer.write(Buffer.concat([serverFrame(0x2, Buffer.alloc(500, 1), { fin: false }), serverFrame(0x0, Buffer.alloc(500, 2))]));
  await waitFor(() => seen.messages.length === 1, { message: 'the message' });
  assert.is(seen.messages[0]!.length, 1000);
  peer.socket.end();
  await ended(ws, seen, peer);
  assert.is(seen.close!.code, 1006, 'an end without a close frame');
});

Ws('a masked frame from the server is a protocol error (1002)', async (context) => {
  await expectFailure(context, serverFrame(0x2, 'A', { masked: true }), 1002, /masked/);
});

Ws('reserved bits, unknown opcodes and bad control frames are protocol errors (1002)', async (context) => {
  for (const rsv of [4, 2, 1]) await expectFailure(context, serverFrame(0x2, 'x', { rsv }), 1002, /RSV bits/);
  for (const opcode of [0x3, 0x7, 0xb, 0xf]) await expectFailure(context, serverFrame(opcode, 'x'), 1002, new RegExp(`unknown opcode ${opcode}`));
  await expectFailure(context, serverFrame(0x9, 'x', { fin: false }), 1002, /control frame is fragmented/);
  await expectFailure(context, serverFrame(0x9, Buffer.alloc(126)), 1002, /longer than 125/);
  await expectFailure(context, serverFrame(0x8, Buffer.concat([closePayload(1000), Buffer.alloc(124)])), 1002, /longer than 125/);
});

Ws('a continuation without a message, or a new message inside a fragmented one, is a protocol error (1002)', async (context) => {
  await expectFailure(context, serverFrame(0x0, 'orphan'), 1002, /continuation frame without a message/);
  await expectFailure(context, Buffer.concat([serverFrame(0x2, 'a', { fin: false }), serverFrame(0x2, 'b')]), 1002, /new message started/);
});

Ws('a text frame is refused with 1003 "unsupported data": the protocol is binary', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  peer.write(serverFrame(0x1, 'text'));
  const { sentClose } = await ended(ws, seen, peer);
  assert.equal(sentClose, { code: 1003, reason: 'unsupported data' });
  assert.equal(seen.close, { code: 1003, reason: 'unsupported data' });
  assert.match(seen.errors[0]!.message, /text frame/);
  assert.equal(seen.messages, []);
});

Ws('a close frame with a code no endpoint may send, or a 1-byte payload, is a protocol error (1002)', async (context) => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    await expectFailure(context, serverFrame(0x8, closePayload(code, 'bad')), 1002, new RegExp(`invalid code ${code}`));
  }
  await expectFailure(context, serverFrame(0x8, Buffer.from([0x03])), 1002, /1-byte payload/);
});

Ws('a close reason that is not UTF-8 is 1007', async (context) => {
  for (const reason of [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('ok\xc0\xaf', 'latin1')]) {
    await expectFailure(context, serverFrame(0x8, closePayload(1000, reason)), 1007, /not valid UTF-8/);
  }
});

Ws('a close the server starts with a valid code is reported and echoed: 1000, 1001, 1011, 3000, 4999', async (context) => {
  for (const code of [1000, 1001, 1011, 3000, 4999]) {
    const { ws, seen, peer } = await rawClient(context);
    await waitFor(() => seen.open, { message: 'open' });
    peer.write(Buffer.concat([serverFrame(0x8, closePayload(code, 'bientôt ✓')), serverFrame(0x2, 'after the close'), serverFrame(0x9, 'after the close')]));
    const { sentClose, frames } = await ended(ws, seen, peer);
    assert.equal(seen.close, { code, reason: 'bientôt ✓' });
    assert.equal(sentClose, { code, reason: '' }, 'the code is echoed');
    assert.is(frames.length, 1, 'no pong for a ping after the close frame');
    assert.equal(seen.messages, [], 'nothing after the close frame is delivered');
    assert.equal(seen.errors, []);
    await context.raw!.close();
  }
  context.raw = undefined;
});

Ws('an empty close frame is reported as 1005 and answered with an empty one, never with 1005', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  peer.write(serverFrame(0x8));
  const { sentClose } = await ended(ws, seen, peer);
  assert.equal(seen.close, { code: 1005, reason: '' });
  assert.equal(sentClose, { reason: '' });
});

Ws('a truncated frame followed by the end of the stream is 1006, and the client writes nothing', async (context) => {
  for (const truncated of [Buffer.from([0x82]), serverFrame(0x2, Buffer.alloc(200)).subarray(0, 3), serverFrame(0x2, 'abcdef').subarray(0, 5), serverFrame(0x8, closePayload(1000)).subarray(0, 3)]) {
    const { ws, seen, peer } = await rawClient(context);
    await waitFor(() => seen.open, { message: 'open' });
    peer.write(truncated);
    peer.socket.end();
    const { frames } = await ended(ws, seen, peer);
    assert.is(seen.close!.code, 1006);
    assert.equal(frames, []);
    assert.equal(seen.messages, []);
    await context.raw!.close();
  }
  context.raw = undefined;
});

Ws('a server that never answers our close frame: the close timeout drops the socket, 1006, nothing more written', async (context) => {
  const { ws, seen, peer } = await rawClient(context, { closeTimeoutMs: 100 });
  await waitFor(() => seen.open, { message: 'open' });
  ws.close(1000, 'bye');
  assert.is(ws.state, 'CLOSING');
  assert.not.ok(ws.send(Buffer.from('late')), 'nothing is sent once closing');
  await waitFor(() => peer.frames.frames.length === 1, { message: 'the close frame' });
  // Frames the client must neither answer nor deliver: it has sent its close frame.
  peer.write(Buffer.concat([serverFrame(0x9, 'still there?'), serverFrame(0x2, 'late message')]));
  const { frames, sentClose } = await ended(ws, seen, peer);
  assert.is(frames.length, 1);
  assert.equal(sentClose, { code: 1000, reason: 'bye' });
  assert.is(seen.close!.code, 1006);
  assert.equal(seen.messages, []);
});

Ws('a server that never closes its side after a failure: the close timeout still ends it, with the failure code', async (context) => {
  const { ws, seen, peer } = await rawClient(context, { closeTimeoutMs: 100, halfOpen: true });
  await waitFor(() => seen.open, { message: 'open' });
  peer.write(serverFrame(0x2, 'x', { rsv: 4 }));
  await waitFor(() => peer.ended, { message: "the client's end" });
  assert.is(ws.state, 'CLOSING');
  await waitFor(() => seen.close, { message: 'the close, though the server keeps its side open' });
  assert.is(ws.state, 'CLOSED');
  assert.not.ok(peer.closed, 'the server never closed its side');
  peer.socket.end();
  const { sentClose } = await ended(ws, seen, peer);
  assert.equal(sentClose, { code: 1002, reason: 'protocol error' });
  assert.is(seen.close!.code, 1002);
});

Ws('a server answering our close with an invalid close frame: 1002, and no second close frame', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  ws.close(4000);
  await waitFor(() => peer.frames.frames.length === 1, { message: 'the close frame' });
  peer.write(serverFrame(0x8, closePayload(1006)));
  const { frames, sentClose } = await ended(ws, seen, peer);
  assert.is(frames.length, 1);
  assert.equal(sentClose, { code: 4000, reason: '' });
  assert.is(seen.close!.code, 1002);
  assert.match(seen.errors[0]!.message, /invalid code 1006/);
});

Ws('close() refuses codes and reasons a close frame may not carry, and sends nothing for them', async (context) => {
  const { ws, seen, peer } = await rawClient(context);
  await waitFor(() => seen.open, { message: 'open' });
  for (const code of [1005, 1006, 1015, 999, 5000]) assert.throws(() => ws.close(code), /option close code must be/);
  assert.throws(() => ws.close(1000, 'x'.repeat(124)), /option close reason must be at most 123 bytes/);
  assert.is(ws.state, 'OPEN');
  ws.terminate();
  assert.is(ws.state, 'CLOSING');
  assert.not.ok(ws.send(Buffer.from('late')), 'nothing is sent once terminated');
  const { frames } = await ended(ws, seen, peer);
  assert.equal(frames, []);
  assert.is(seen.close!.code, 1006);
});

Ws('close() while connecting drops the socket: 1006, never open', async (context) => {
  const { ws, seen, peer } = await rawClient(context, { answer: () => '' });
  ws.close();
  const { frames } = await ended(ws, seen, peer);
  assert.equal(frames, []);
  assert.is(seen.open, false);
  assert.is(seen.close!.code, 1006);
});

Ws('random bytes after the upgrade never crash it: it always ends CLOSED, once, having written only valid masked frames', async (context) => {
  // A fixed-seed generator: the same 40 byte strings every run.
  let seed = 0x5eed;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  for (let run = 0; run < 40; run++) {
    const bytes = Buffer.from(Array.from({ length: 1 + (random() % 48) }, random));
    // Half the runs start with a plausible frame head, to get past the first checks more often.
    if (run % 2 === 0) bytes[0] = 0x80 | [0x0, 0x2, 0x8, 0x9, 0xa][random() % 5]!;
    const { ws, seen, peer } = await rawClient(context);
    await waitFor(() => seen.open, { message: 'open' });
    peer.write(bytes);
    peer.socket.end();
    await ended(ws, seen, peer);
    assert.ok(Number.isInteger(seen.close!.code), `run ${run}: a defined close code for ${bytes.toString('hex')}`);
    await context.raw!.close();
  }
  context.raw = undefined;
});

Ws.run();
