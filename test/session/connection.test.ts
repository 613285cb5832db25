// One client connection (session/connection.ts) against a real `ws` server on loopback: the
// handshake step and its verdicts, the deadline (from the connect or from the open), the watchdog
// once accepted, invalid and text frames, and every way of ending reported by exactly one onClosed.
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionError, LifelineError, ProtocolError } from '../../src/protocol/errors.js';
import { decode, encode } from '../../src/protocol/msgpack.js';
import { HandshakeTimeoutError, PeerSilentError, SessionConnection, type SessionConnectionOptions } from '../../src/session/connection.js';
import { HandshakeRefused, peerError, type HandshakeStep, type HandshakeVerdict } from '../../src/session/handshake.js';
import type { Connector } from '../../src/session/transport.js';
import { connectWs } from '../../src/session/ws-transport.js';
import { waitFor, withTimeout } from '../helpers.js';

const test = suite('session/connection');

type Frame = { type: string; [key: string]: unknown };

/** The test link's schema: an object with a string `type`, and no type called BAD. */
function decodeTest(data: Buffer): Frame {
  const value = decode(data) as Frame;
  if (typeof value !== 'object' || value === null || typeof value.type !== 'string' || value.type === 'BAD') {
    throw new ProtocolError(`not a test frame: ${JSON.stringify(value)}`);
  }
  return value;
}

/** Sends HELLO; WELCOME {intervalMs} accepts (heartbeats at that interval), DENIED refuses, BUSY fails, anything else waits. */
function hello({ beat = false, missed }: { beat?: boolean; missed?: number } = {}): HandshakeStep<Frame, number> {
  return {
    open: (link) => {
      link.send(encode({ type: 'HELLO' }));
    },
    answer: (frame): HandshakeVerdict<number> => {
      switch (frame.type) {
        case 'WELCOME': {
          const intervalMs = frame.intervalMs as number;
          return { kind: 'accept', value: intervalMs, heartbeat: { intervalMs, missed, beat: beat ? () => encode({ type: 'BEAT' }) : undefined } };
        }
        case 'DENIED':
          return { kind: 'refuse', error: peerError('server', 'ERR_UNAUTHORIZED', 'go away'), detail: { why: 'test' } };
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
  /** Every frame each connection sent, decoded. */
  received: Frame[][];
  /** Each connection's close code, as the server saw it. */
  closes: number[];
  sockets: WebSocket[];
}

let wss: WebSocketServer | undefined;
const connections: SessionConnection<Frame, number>[] = [];
test.after.each(async () => {
  for (const connection of connections.splice(0)) {
    connection.fail(new ConnectionError('test over'));
    await withTimeout(connection.closed, 5_000, 'the connection to close after the test');
  }
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

/** A ws server on loopback; `answer(frame, ws)` sees every frame. */
async function server(answer: (frame: Frame, ws: WebSocket) => void = () => {}): Promise<Server> {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const state: Server = { url: '', received: [], closes: [], sockets: [] };
  wss.on('connection', (ws) => {
    const frames: Frame[] = [];
    state.received.push(frames);
    state.sockets.push(ws);
    ws.on('message', (data: Buffer) => {
      const frame = decode(data) as Frame;
      frames.push(frame);
      answer(frame, ws);
    });
    ws.on('close', (code) => state.closes.push(code));
  });
  await once(wss, 'listening');
  state.url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  return state;
}

const send = (ws: WebSocket, frame: Frame) => ws.send(encode(frame));

interface Seen {
  accepted: number[];
  frames: Frame[];
  closed: Array<{ error: LifelineError; code: number; reason: string }>;
  transportErrors: Error[];
  invalid: ProtocolError[];
}

function connect(url: string, options: Partial<SessionConnectionOptions<Frame, number>> = {}): { seen: Seen; connection: SessionConnection<Frame, number> } {
  const seen: Seen = { accepted: [], frames: [], closed: [], transportErrors: [], invalid: [] };
  const connection = new SessionConnection<Frame, number>({
    connect: (events) => connectWs(url, { maxPayload: 64 * 1024, handshakeTimeoutMs: 2_000 }, events),
    peer: 'the test server',
    decode: decodeTest,
    handshake: hello(),
    handshakeTimeoutMs: 2_000,
    onAccepted: (value) => seen.accepted.push(value),
    onFrame: (frame) => seen.frames.push(frame),
    onClosed: (error, code, reason) => seen.closed.push({ error, code, reason }),
    onTransportError: (error) => seen.transportErrors.push(error),
    ...options,
  });
  connections.push(connection);
  return { seen, connection };
}

/** What `ready` rejected with (fails if it resolved). */
async function rejection(ready: Promise<unknown>): Promise<Error> {
  try {
    await withTimeout(ready, 5_000, 'the handshake to settle');
  } catch (error) {
    return error as Error;
  }
  assert.unreachable('expected the handshake to fail');
  throw new Error('unreachable');
}

test('runs the handshake: the first frame is sent, the answer accepts, later frames go to onFrame', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'NOT_YET' });
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      send(ws, { type: 'NEWS', n: 1 });
    }
  });
  const { seen, connection } = connect(srv.url);
  assert.is(connection.state, 'CONNECTING');
  assert.is(await withTimeout(connection.ready, 5_000, 'the handshake'), 1_000);
  assert.is(connection.state, 'OPEN');
  assert.equal(seen.accepted, [1_000]);
  await waitFor(() => seen.frames.length === 1, { message: 'the frame after the handshake' });
  // The frame the step let pass (NOT_YET) and the answer are the handshake's, not onFrame's.
  assert.equal(seen.frames, [{ type: 'NEWS', n: 1 }]);
  assert.equal(srv.received[0], [{ type: 'HELLO' }]);
  assert.ok(connection.send(encode({ type: 'CALL' })));
  await waitFor(() => srv.received[0]!.length === 2, { message: 'the call' });
  assert.equal(srv.received[0]![1], { type: 'CALL' });
  assert.type(connection.bufferedAmount, 'number');
  assert.equal(seen.closed, []);
});

test('onAccepted runs before any frame that follows the answer', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      send(ws, { type: 'NEWS' });
    }
  });
  const order: string[] = [];
  const { connection } = connect(srv.url, { onAccepted: () => order.push('accepted'), onFrame: (frame) => order.push(frame.type) });
  await waitFor(() => order.length === 2, { message: 'the answer and the frame after it' });
  assert.equal(order, ['accepted', 'NEWS']);
  assert.is(connection.state, 'OPEN');
});

test('a handshake step that opens asynchronously is waited for', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 1_000 });
  });
  const step = hello();
  const { connection } = connect(srv.url, {
    handshake: {
      open: async (link) => {
        await new Promise((resolve) => setImmediate(resolve));
        await step.open(link);
      },
      answer: step.answer,
    },
  });
  assert.is(await withTimeout(connection.ready, 5_000, 'the handshake'), 1_000);
});

test('no answer within the deadline drops the connection with a HandshakeTimeoutError naming the handshake', async () => {
  const srv = await server();
  const { seen, connection } = connect(srv.url, { handshakeTimeoutMs: 80, handshakeName: 'registration' });
  const error = await rejection(connection.ready);
  assert.instance(error, HandshakeTimeoutError);
  assert.instance(error, ConnectionError);
  assert.is((error as LifelineError).code, 'ERR_CONNECTION');
  assert.is(error.message, 'the test server did not complete the registration within 80 ms');
  await withTimeout(connection.closed, 5_000, 'the close');
  assert.is(connection.state, 'CLOSED');
  assert.is(seen.closed.length, 1);
  assert.is(seen.closed[0]!.error, error);
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the drop' });
  assert.is(srv.closes[0], 1006, 'dropped, not closed with a handshake');
});

test('the deadline counts from the connect by default, or from the open when asked', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 1_000 });
  });
  // A connect that takes 300 ms: the open event is held back that long.
  const slow: Connector = (events) =>
    connectWs(srv.url, { maxPayload: 1024, handshakeTimeoutMs: 2_000 }, { ...events, open: () => void setTimeout(() => events.open(), 300) });
  const fromConnect = connect(srv.url, { connect: slow, handshakeTimeoutMs: 200 });
  const timedOut = await rejection(fromConnect.connection.ready);
  assert.instance(timedOut, HandshakeTimeoutError);
  assert.is(timedOut.message, 'the test server did not complete the handshake within 200 ms', 'unnamed, it is "the handshake"');
  const fromOpen = connect(srv.url, { connect: slow, handshakeTimeoutMs: 200, deadlineFrom: 'open' });
  assert.is(await withTimeout(fromOpen.connection.ready, 5_000, 'the handshake counted from the open'), 1_000);
});

test('an accepted handshake disarms the deadline: the connection outlives it', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 1_000 });
  });
  const started = performance.now();
  const { seen, connection } = connect(srv.url, { handshakeTimeoutMs: 150 });
  await withTimeout(connection.ready, 5_000, 'the handshake');
  // Nothing to wait for but time: well past the deadline, the connection must still be open.
  await waitFor(() => performance.now() - started > 350, { message: 'the deadline to have passed' });
  assert.is(connection.state, 'OPEN');
  assert.equal(seen.closed, []);
});

test('a refusal rejects ready with HandshakeRefused and closes with 1000', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'DENIED' });
  });
  const { seen, connection } = connect(srv.url);
  const error = await rejection(connection.ready);
  assert.instance(error, HandshakeRefused);
  const refused = error as HandshakeRefused;
  assert.is(refused.error.code, 'ERR_UNAUTHORIZED');
  assert.equal(refused.detail, { why: 'test' });
  assert.is(refused.message, 'the server reported ERR_UNAUTHORIZED: go away');
  await withTimeout(connection.closed, 5_000, 'the close');
  assert.is(seen.closed.length, 1);
  assert.is(seen.closed[0]!.error, refused.error, 'onClosed gets the refusal itself');
  assert.is(seen.closed[0]!.code, 1000);
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the close' });
  assert.is(srv.closes[0], 1000);
});

test('a failed handshake rejects ready with its error and drops the connection', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'BUSY' });
  });
  const { seen, connection } = connect(srv.url);
  const error = await rejection(connection.ready);
  assert.not.instance(error, HandshakeRefused);
  assert.is(error.message, 'the server reported ERR_CONNECTION: busy');
  await withTimeout(connection.closed, 5_000, 'the drop');
  assert.is(seen.closed[0]!.error, error);
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the drop' });
  assert.is(srv.closes[0], 1006);
});

test('a handshake step that throws fails the attempt with a LifelineError (ERR_CONNECTION for a plain Error)', async () => {
  const srv = await server();
  const { seen, connection } = connect(srv.url, {
    handshake: {
      open: () => {
        throw new Error('cannot build the call');
      },
      answer: () => undefined,
    },
  });
  const error = await rejection(connection.ready);
  assert.instance(error, LifelineError);
  assert.is((error as LifelineError).code, 'ERR_CONNECTION');
  assert.is(error.message, 'cannot build the call');
  await withTimeout(connection.closed, 5_000, 'the drop');
  assert.is(seen.closed.length, 1);
  assert.equal(srv.received[0] ?? [], [], 'nothing was sent');
});

test('once accepted, a silent peer is dropped with a PeerSilentError after the missed intervals', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 20 });
  });
  const { seen, connection } = connect(srv.url, { handshake: hello({ missed: 2 }) });
  await withTimeout(connection.ready, 5_000, 'the handshake');
  await withTimeout(connection.closed, 5_000, 'the silent peer to be dropped');
  const error = seen.closed[0]!.error;
  assert.instance(error, PeerSilentError);
  assert.match(error.message, /^no frame from the test server for \d+ ms \(2 heartbeat intervals of 20 ms\)$/);
  assert.ok(Number(/for (\d+) ms/.exec(error.message)![1]) >= 40);
});

test('a peer that keeps talking is not dropped, and our beats go out each interval', async () => {
  let ticker: NodeJS.Timeout | undefined;
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 50 });
      ticker = setInterval(() => send(ws, { type: 'TICK' }), 5);
    }
  });
  try {
    const { seen, connection } = connect(srv.url, { handshake: hello({ beat: true }) });
    await withTimeout(connection.ready, 5_000, 'the handshake');
    await waitFor(() => srv.received[0]!.filter((frame) => frame.type === 'BEAT').length >= 4, { message: 'four beats' });
    // Four intervals (200 ms) passed, over the 3 missed intervals (150 ms) that drop a silent peer.
    assert.is(connection.state, 'OPEN');
    assert.equal(seen.closed, []);
    assert.ok(seen.frames.length > 0);
  } finally {
    clearInterval(ticker);
  }
});

test('an invalid frame fails the connection with 1008 and a ProtocolError', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      send(ws, { type: 'BAD' });
      send(ws, { type: 'NEWS' });
    }
  });
  const { seen, connection } = connect(srv.url, { onInvalid: (error) => (seen.invalid.push(error), 'close') });
  await withTimeout(connection.closed, 5_000, 'the close');
  assert.is(seen.invalid.length, 1);
  assert.instance(seen.closed[0]!.error, ProtocolError);
  assert.is(seen.closed[0]!.error, seen.invalid[0]);
  assert.equal(seen.frames, [], 'nothing after the bad frame is handed over');
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the close' });
  assert.is(srv.closes[0], 1008);
});

test('with onInvalid "drop", an invalid frame is skipped and the connection goes on', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      send(ws, { type: 'BAD' });
      send(ws, { type: 'NEWS' });
    }
  });
  const { seen, connection } = connect(srv.url, { onInvalid: (error) => (seen.invalid.push(error), 'drop') });
  await waitFor(() => seen.frames.length === 1, { message: 'the frame after the bad one' });
  assert.equal(seen.frames, [{ type: 'NEWS' }]);
  assert.match(seen.invalid[0]!.message, /not a test frame/);
  assert.is(connection.state, 'OPEN');
});

test('an invalid answer during the handshake rejects ready with the ProtocolError (retryable, not a refusal)', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'BAD' });
  });
  const { connection } = connect(srv.url);
  const error = await rejection(connection.ready);
  assert.instance(error, ProtocolError);
  assert.not.instance(error, HandshakeRefused);
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the close' });
  assert.is(srv.closes[0], 1008);
});

test('a text frame is refused: the protocol is binary', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      ws.send('{"type":"NEWS"}');
    }
  });
  const { seen, connection } = connect(srv.url);
  await withTimeout(connection.closed, 5_000, 'the close');
  const error = seen.closed[0]!.error;
  assert.instance(error, ProtocolError);
  assert.is(error.message, 'the test server sent a text frame (the protocol is binary msgpack)');
  assert.equal(seen.frames, []);
});

test('close() rejects a pending handshake, closes with its code, and reports one onClosed', async () => {
  const srv = await server();
  const { seen, connection } = connect(srv.url);
  await waitFor(() => srv.received[0]?.length === 1, { message: 'the HELLO' });
  const closed = connection.close(4000, 'bye');
  assert.is(connection.state, 'CLOSING');
  assert.not.ok(connection.send(encode({ type: 'LATE' })), 'nothing is sent once closing');
  const error = await rejection(connection.ready);
  assert.instance(error, ConnectionError);
  assert.is(error.message, 'the connection to the test server was closed (4000: bye)');
  await withTimeout(closed, 5_000, 'the close');
  await connection.close();
  connection.fail(new ConnectionError('after the end'));
  assert.is(connection.state, 'CLOSED');
  assert.is(seen.closed.length, 1);
  assert.is(seen.closed[0]!.error, error);
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the close' });
  assert.is(srv.closes[0], 4000);
});

test('the peer closing the connection is a ConnectionError with its code and reason', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') {
      send(ws, { type: 'WELCOME', intervalMs: 1_000 });
      ws.close(4001, 'gone');
    }
  });
  const { seen, connection } = connect(srv.url);
  await withTimeout(connection.closed, 5_000, 'the close');
  assert.equal(seen.accepted, [1_000]);
  assert.is(seen.closed.length, 1);
  const { error, code, reason } = seen.closed[0]!;
  assert.instance(error, ConnectionError);
  assert.is(error.message, 'the test server closed the connection (code 4001: gone)');
  assert.equal([code, reason], [4001, 'gone']);
});

test('a failed connect is one onClosed with a ConnectionError that keeps the transport error as cause', async () => {
  const { seen, connection } = connect('ws://127.0.0.1:1');
  const error = await rejection(connection.ready);
  await withTimeout(connection.closed, 5_000, 'the failed connect');
  assert.instance(error, ConnectionError);
  assert.match(error.message, /^connection to the test server failed: /);
  assert.ok(seen.transportErrors.length >= 1);
  assert.is(error.cause, seen.transportErrors[0]);
  assert.is(seen.closed.length, 1);
  assert.is(seen.closed[0]!.code, 1006);
  assert.is(connection.state, 'CLOSED');
});

test('fail() drops an open connection with the error given', async () => {
  const srv = await server((frame, ws) => {
    if (frame.type === 'HELLO') send(ws, { type: 'WELCOME', intervalMs: 1_000 });
  });
  const { seen, connection } = connect(srv.url);
  await withTimeout(connection.ready, 5_000, 'the handshake');
  const reason = new ConnectionError('the agent is stopping');
  connection.fail(reason);
  await withTimeout(connection.closed, 5_000, 'the drop');
  assert.is(seen.closed[0]!.error, reason);
  await waitFor(() => srv.closes.length === 1, { message: 'the server to see the drop' });
  assert.is(srv.closes[0], 1006);
});

test.run();
