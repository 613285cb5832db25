// The one validating endpoint, on a real HTTP server on loopback with real WebSocket clients: the
// first-frame rules and deadline, binary only, schema checks answered with ERROR + 1008, a handler
// that throws, the frame budget, heartbeat silence, and close() ending every connection.
import http from 'node:http';
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import WebSocket from 'ws';
import { silentLogger } from '../../src/log.js';
import { LifelineError } from '../../src/protocol/errors.js';
import { decode, encode } from '../../src/protocol/msgpack.js';
import { Endpoint, type EndpointSession } from '../../src/session/endpoint.js';
import { waitFor } from '../helpers.js';

const Call = v.variant('type', [
  v.object({ type: v.literal('HELLO'), name: v.pipe(v.string(), v.maxLength(20)) }),
  v.object({ type: v.literal('SAY'), text: v.string() }),
  v.object({ type: v.literal('REFUSE') }),
  v.object({ type: v.literal('CRASH') }),
]);
type Event = { type: string; [key: string]: unknown };

interface Harness {
  url: string;
  endpoint: Endpoint<typeof Call, Event>;
  server: http.Server;
  said: string[];
  closed: Array<{ peer: string | undefined; registered: boolean }>;
  rejected: string[];
}

interface Client {
  ws: WebSocket;
  events: Event[];
  close: Promise<number>;
}

const test = suite('session endpoint');
let h: Harness | undefined;
const clients: WebSocket[] = [];

test.after.each(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  if (h) {
    await h.endpoint.close();
    await new Promise<void>((resolve) => h!.server.close(() => resolve()));
  }
  h = undefined;
});

async function start({ registrationTimeoutMs = 5_000, heartbeatMs = 0 } = {}): Promise<Harness> {
  const server = http.createServer();
  const harness: Harness = { url: '', server, said: [], closed: [], rejected: [], endpoint: undefined! };
  harness.endpoint = new Endpoint<typeof Call, Event>({
    path: '/api/test',
    label: ' on /api/test',
    schema: Call,
    maxFrameBytes: 1024,
    registrationCalls: ['HELLO'],
    registrationTimeoutMs,
    logger: silentLogger,
    onCall(session: EndpointSession<Event>, call) {
      switch (call.type) {
        case 'HELLO':
          session.registered(call.name);
          session.send({ type: 'WELCOME', name: call.name });
          if (heartbeatMs > 0) session.heartbeat(heartbeatMs, () => session.send({ type: 'BEAT' }));
          return;
        case 'SAY':
          harness.said.push(`${session.peerId}: ${call.text}`);
          session.send({ type: 'HEARD', text: call.text });
          return;
        case 'REFUSE':
          throw new LifelineError('ERR_UNAUTHORIZED', 'not you');
        case 'CRASH':
          throw new TypeError('a bug in the handler');
      }
    },
    onClose: (session, registered) => harness.closed.push({ peer: session.peerId, registered }),
    onRejected: (error) => harness.rejected.push(error.code),
  });
  server.on('upgrade', (request, socket, head) => harness.endpoint.handleUpgrade(request, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  harness.url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/api/test`;
  return (h = harness);
}

async function connect(harness: Harness): Promise<Client> {
  const ws = new WebSocket(harness.url);
  clients.push(ws);
  const events: Event[] = [];
  ws.on('error', () => {});
  ws.on('message', (data: Buffer) => events.push(decode(data) as Event));
  const close = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await once(ws, 'open');
  return { ws, events, close };
}

async function hello(harness: Harness, name: string): Promise<Client> {
  const client = await connect(harness);
  client.ws.send(encode({ type: 'HELLO', name }));
  await waitFor(() => client.events.some((event) => event.type === 'WELCOME'), { message: `WELCOME for ${name}` });
  return client;
}

function errorOf(client: Client): Event | undefined {
  return client.events.find((event) => event.type === 'ERROR');
}

test('registers on the first frame and hands over the calls that follow', async () => {
  const harness = await start();
  const client = await hello(harness, 'a');
  client.ws.send(encode({ type: 'SAY', text: 'hi' }));
  await waitFor(() => client.events.some((event) => event.type === 'HEARD'), { message: 'HEARD' });
  assert.equal(harness.said, ['a: hi']);
  assert.is(harness.endpoint.sessionCount, 1);
});

test('a first frame that is not a registration call is refused with ERROR and 1008', async () => {
  const harness = await start();
  const client = await connect(harness);
  client.ws.send(encode({ type: 'SAY', text: 'too early' }));
  assert.is(await client.close, 1008);
  assert.match(String(errorOf(client)?.message), /the first frame on \/api\/test must be HELLO, got SAY/);
  assert.equal(harness.rejected, ['ERR_PROTOCOL']);
  await waitFor(() => harness.closed.length > 0, { message: 'the server side to close' });
  assert.equal(harness.closed, [{ peer: undefined, registered: false }]);
});

test('a second registration call on a registered connection is refused', async () => {
  const harness = await start();
  const client = await hello(harness, 'a');
  client.ws.send(encode({ type: 'HELLO', name: 'b' }));
  assert.is(await client.close, 1008);
  assert.match(String(errorOf(client)?.message), /HELLO on a connection already registered as a/);
  await waitFor(() => harness.closed.length > 0, { message: 'the server side to close' });
  assert.equal(harness.closed, [{ peer: 'a', registered: true }]);
});

test('a connection that does not register within the deadline is refused with ERR_TIMEOUT', async () => {
  const harness = await start({ registrationTimeoutMs: 100 });
  const client = await connect(harness);
  assert.is(await client.close, 1008);
  assert.is(errorOf(client)?.code, 'ERR_TIMEOUT');
  assert.match(String(errorOf(client)?.message), /no HELLO within 100 ms of connecting to \/api\/test/);
});

test('a text frame is refused: the protocol is binary msgpack', async () => {
  const harness = await start();
  const client = await connect(harness);
  client.ws.send(JSON.stringify({ type: 'HELLO', name: 'a' }));
  assert.is(await client.close, 1008);
  assert.match(String(errorOf(client)?.message), /must be binary msgpack, got a text frame/);
});

test('a frame that fails the schema is refused, naming the field, while another peer is still served', async () => {
  const harness = await start();
  const good = await hello(harness, 'good');
  const bad = await hello(harness, 'bad');
  bad.ws.send(encode({ type: 'SAY', text: 42 }));
  assert.is(await bad.close, 1008);
  assert.match(String(errorOf(bad)?.message), /text/);
  good.ws.send(encode({ type: 'SAY', text: 'still here' }));
  await waitFor(() => harness.said.includes('good: still here'), { message: 'the good peer to be served' });
  assert.is(good.ws.readyState, WebSocket.OPEN);
});

test('a handler that refuses with a LifelineError answers ERROR with its code; one that throws otherwise closes 1011', async () => {
  const harness = await start();
  const refused = await hello(harness, 'r');
  refused.ws.send(encode({ type: 'REFUSE' }));
  assert.is(await refused.close, 1008);
  assert.is(errorOf(refused)?.code, 'ERR_UNAUTHORIZED');
  const crashed = await hello(harness, 'c');
  crashed.ws.send(encode({ type: 'CRASH' }));
  assert.is(await crashed.close, 1011);
  assert.match(String(errorOf(crashed)?.message), /failed to handle CRASH: a bug in the handler/);
  const after = await hello(harness, 'after');
  assert.is(after.ws.readyState, WebSocket.OPEN, 'the endpoint still serves new peers');
});

test('an oversize frame closes the connection with 1009 and is counted', async () => {
  const harness = await start();
  const client = await connect(harness);
  client.ws.send(encode({ type: 'HELLO', name: 'x'.repeat(4096) }));
  assert.is(await client.close, 1009);
  await waitFor(() => harness.rejected.includes('ERR_FRAME_TOO_LARGE'), { message: 'the rejection to be counted' });
});

test('heartbeats go out every interval, and a silent peer is dropped after the missed intervals', async () => {
  const harness = await start({ heartbeatMs: 30 });
  const client = await hello(harness, 'quiet');
  // The client answers nothing (ws answers pings, but these are application heartbeats).
  const code = await client.close;
  assert.ok(client.events.filter((event) => event.type === 'BEAT').length >= 1, 'at least one heartbeat was sent');
  assert.is(code, 1006);
  await waitFor(() => harness.closed.length > 0, { message: 'the server side to close' });
  assert.equal(harness.closed, [{ peer: 'quiet', registered: true }]);
});

test('close() ends every connection', async () => {
  const harness = await start();
  const a = await hello(harness, 'a');
  const b = await connect(harness);
  await harness.endpoint.close();
  assert.is(await a.close, 1006);
  assert.is(await b.close, 1006);
  await waitFor(() => harness.endpoint.sessionCount === 0, { message: 'no session left' });
});

test.run();
