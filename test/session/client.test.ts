import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { ProtocolError, type LifelineError } from '../../src/protocol/errors.js';
import { decode, encode } from '../../src/protocol/msgpack.js';
import { firstDelayMs, pRetryBackoff } from '../../src/session/backoff.js';
import { ClientSession, type ClientSessionOptions, type ConnectionEnd } from '../../src/session/client.js';
import { HandshakeTimeoutError, PeerSilentError } from '../../src/session/connection.js';
import { HandshakeRefused, peerError, type HandshakeStep } from '../../src/session/handshake.js';
import { connectWs } from '../../src/session/ws-transport.js';
import { waitFor } from '../helpers.js';

const test = suite('client session');

type Frame = { type: string; [key: string]: unknown };

/** The test protocol's schema: an object with a string `type`, and no type called BAD. */
function decodeTest(data: Buffer): Frame {
  const value = decode(data) as Frame;
  if (typeof value !== 'object' || value === null || typeof value.type !== 'string' || value.type === 'BAD') {
    throw new ProtocolError(`not a test frame: ${JSON.stringify(value)}`);
  }
  return value;
}

/** HELLO, answered by WELCOME {intervalMs} (accept), DENIED {code} (refuse) or BUSY (fail). */
function hello(beat = false): HandshakeStep<Frame, number> {
  return {
    open: (link) => {
      link.send(encode({ type: 'HELLO' }));
    },
    answer: (frame) => {
      switch (frame.type) {
        case 'WELCOME': {
          const intervalMs = frame.intervalMs as number;
          return { kind: 'accept', value: intervalMs, heartbeat: { intervalMs, beat: beat ? () => encode({ type: 'BEAT' }) : undefined } };
        }
        case 'DENIED':
          return { kind: 'refuse', error: peerError('server', frame.code as string, 'go away') };
        case 'BUSY':
          return { kind: 'fail', error: peerError('server', 'ERR_CONNECTION', 'busy') };
        default:
          return undefined;
      }
    },
  };
}

interface Server {
  url: string;
  connections: WebSocket[];
  received: Frame[][];
  closes: number[];
}

let wss: WebSocketServer | undefined;
let session: ClientSession<Frame, number> | undefined;
test.after.each(async () => {
  await session?.close();
  session = undefined;
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

/** A ws server on loopback; `answer(n, frame, ws)` sees every frame of connection n (0-based). */
async function server(answer: (n: number, frame: Frame, ws: WebSocket) => void): Promise<Server> {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const state: Server = { url: '', connections: [], received: [], closes: [] };
  wss.on('connection', (ws) => {
    const n = state.connections.length;
    state.connections.push(ws);
    state.received.push([]);
    ws.on('message', (data: Buffer) => {
      const frame = decode(data) as Frame;
      state.received[n]!.push(frame);
      answer(n, frame, ws);
    });
    ws.on('close', (code) => state.closes.push(code));
  });
  await once(wss, 'listening');
  state.url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  return state;
}

interface Seen {
  accepted: number[];
  frames: Frame[];
  ends: ConnectionEnd[];
  failed: Error[];
  refused: HandshakeRefused[];
}

function open(url: string, options: Partial<ClientSessionOptions<Frame, number>> = {}, beat = false): { seen: Seen; session: ClientSession<Frame, number> } {
  const seen: Seen = { accepted: [], frames: [], ends: [], failed: [], refused: [] };
  session = new ClientSession<Frame, number>({
    name: 'test session',
    peer: 'the test server',
    connect: (events) => connectWs(url, { maxPayload: 1024 * 1024, handshakeTimeoutMs: 2_000 }, events),
    decode: decodeTest,
    handshake: () => hello(beat),
    handshakeTimeoutMs: 2_000,
    backoff: { minMs: 5, maxMs: 20 },
    onAccepted: (value) => seen.accepted.push(value),
    onFrame: (frame) => seen.frames.push(frame),
    onConnectionEnd: (end) => seen.ends.push(end),
    onAttemptFailed: (error) => seen.failed.push(error),
    onRefused: (refusal) => seen.refused.push(refusal),
    ...options,
  });
  session.start();
  return { seen, session };
}

const send = (ws: WebSocket, frame: Frame) => ws.send(encode(frame));

test('sends the first frame, is accepted by the answer, then hands over every frame and beats both ways', async () => {
  const srv = await server((_n, frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 20 });
      send(ws, { type: 'NEWS', n: 1 });
    }
  });
  const { seen, session } = open(srv.url, {}, true);
  await waitFor(() => seen.frames.length === 1, { message: 'the frame after the handshake' });
  assert.equal(seen.accepted, [20]);
  assert.equal(seen.frames, [{ type: 'NEWS', n: 1 }]);
  assert.is(session.state, 'OPEN');
  await waitFor(() => srv.received[0]!.filter((frame) => frame.type === 'BEAT').length >= 2, { message: 'our heartbeats' });
  assert.equal(srv.received[0]![0], { type: 'HELLO' });
});

test('a handshake with no answer fails at its deadline and is tried again', async () => {
  const srv = await server(() => {});
  const { seen } = open(srv.url, { handshakeTimeoutMs: 50, handshakeName: 'greeting' });
  await waitFor(() => seen.failed.length >= 2, { message: 'two failed attempts' });
  assert.instance(seen.failed[0], HandshakeTimeoutError);
  assert.match(seen.failed[0]!.message, /the test server did not complete the greeting within 50 ms/);
  assert.ok(srv.connections.length >= 2);
  assert.equal(seen.accepted, []);
});

test('a refusal is fatal: surfaced with the peer code, the session ends CLOSED, no second connection', async () => {
  const srv = await server((_n, frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'DENIED', code: 'ERR_UNAUTHORIZED' });
  });
  const { seen, session } = open(srv.url);
  await waitFor(() => seen.refused.length === 1, { message: 'the refusal' });
  const error: LifelineError = seen.refused[0]!.error;
  assert.is(error.code, 'ERR_UNAUTHORIZED');
  assert.match(error.message, /the server reported ERR_UNAUTHORIZED: go away/);
  assert.is(session.state, 'CLOSED');
  await session.close();
  assert.is(srv.connections.length, 1);
  assert.equal(seen.failed, []);
});

test('a failed handshake is retried, and the next attempt can be accepted', async () => {
  const srv = await server((n, frame, ws) => {
    if (frame.type === 'HELLO') send(ws, n === 0 ? { type: 'BUSY' } : { type: 'WELCOME', intervalMs: 1_000 });
  });
  const { seen } = open(srv.url);
  await waitFor(() => seen.accepted.length === 1, { message: 'the second attempt accepted' });
  assert.is(seen.failed.length, 1);
  assert.match(seen.failed[0]!.message, /busy/);
  assert.is(srv.connections.length, 2);
});

test('a peer silent for the missed heartbeat intervals is dropped, and the session reconnects', async () => {
  const srv = await server((_n, frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 20 });
  });
  const { seen } = open(srv.url);
  await waitFor(() => seen.accepted.length === 2, { message: 'a second accepted connection' });
  const first = seen.ends[0]!;
  assert.instance(first.error, PeerSilentError);
  assert.ok(first.accepted);
  assert.is(first.state, 'OPEN');
  assert.match(first.error.message, /no frame from the test server for \d+ ms \(3 heartbeat intervals of 20 ms\)/);
});

test('keeps trying an unreachable peer at the capped delay', async () => {
  const srv = await server(() => {});
  const url = srv.url;
  await new Promise<void>((resolve) => wss!.close(() => resolve()));
  wss = undefined;
  const { seen } = open(url, { backoff: { minMs: 1, maxMs: 4 } });
  // Uncapped, the 12th attempt would wait 2^10 ms alone; capped at 4 ms they all come quickly.
  await waitFor(() => seen.failed.length >= 12, { message: '12 failed attempts', timeoutMs: 5_000 });
  assert.is(seen.accepted.length, 0);
  assert.is(pRetryBackoff({ minMs: 1, maxMs: 4 }).maxTimeout, 4);
  assert.ok(firstDelayMs({ minMs: 100, maxMs: 150 }) <= 150);
});

test('queues calls made while disconnected and sends them in order once accepted', async () => {
  const srv = await server((_n, frame, ws) => {
    if (frame.type === 'HELLO') setImmediate(() => send(ws, { type: 'WELCOME', intervalMs: 1_000 }));
  });
  const { seen, session } = open(srv.url, { queue: true });
  assert.ok(session.send(encode({ type: 'CALL', n: 1 })));
  assert.ok(session.send(encode({ type: 'CALL', n: 2 })));
  assert.is(session.queued, 2);
  await waitFor(() => srv.received[0]?.length === 3, { message: 'the queued calls' });
  assert.equal(srv.received[0], [{ type: 'HELLO' }, { type: 'CALL', n: 1 }, { type: 'CALL', n: 2 }]);
  assert.is(seen.accepted.length, 1);
  assert.is(session.queued, 0);
});

test('without a queue, a call made while disconnected is refused', async () => {
  const srv = await server(() => {});
  const { session } = open(srv.url);
  assert.not.ok(session.send(encode({ type: 'CALL' })));
  assert.not.ok(await session.sendAndFlush(encode({ type: 'CALL' })));
});

test('an invalid frame closes the connection with 1008; with onInvalid "drop" it is only dropped', async () => {
  const srv = await server((_n, frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      send(ws, { type: 'BAD' });
    }
  });
  const { seen } = open(srv.url);
  await waitFor(() => srv.closes.includes(1008), { message: 'the 1008 close' });
  await waitFor(() => seen.ends.length >= 1, { message: 'the end of the connection' });
  assert.instance(seen.ends[0]!.error, ProtocolError);
  await session!.close();

  const dropped: ProtocolError[] = [];
  const second = open(srv.url, {
    onInvalid: (error) => {
      dropped.push(error);
      return 'drop';
    },
  });
  await waitFor(() => dropped.length === 1, { message: 'the dropped frame' });
  assert.is(second.session.state, 'OPEN');
});

test('close() ends the session with a close handshake and stops reconnecting', async () => {
  const srv = await server((_n, frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 1_000 });
  });
  const { seen, session } = open(srv.url);
  await waitFor(() => seen.accepted.length === 1, { message: 'accepted' });
  await session.close(1000, 'bye');
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the close' });
  assert.equal(srv.closes, [1000]);
  assert.is(session.state, 'CLOSED');
  assert.is(srv.connections.length, 1);
});

test.run();
