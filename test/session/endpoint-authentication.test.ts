// The endpoint's challenge-response authentication over real WebSockets on loopback: AUTHENTICATE
// answered by a fresh CHALLENGE, the registration call's answer verified once per connection, and
// every refusal (wrong secret, replayed answer, missing credential, misplaced AUTHENTICATE) an
// ERROR ERR_UNAUTHENTICATED or ERR_PROTOCOL with close 1008, while other peers go on being served.
import http from 'node:http';
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import WebSocket from 'ws';
import { silentLogger } from '../../src/log.js';
import { Authentication, AuthenticateCall, ChallengeEvent } from '../../src/protocol/authentication.js';
import { decodeFrame, encode } from '../../src/protocol/codec.js';
import { ErrorEvent } from '../../src/protocol/common.js';
import { Authenticator, respond, Secret, type Credential } from '../../src/session/authentication.js';
import { Endpoint, type EndpointAuthentication, type EndpointSession } from '../../src/session/endpoint.js';
import { waitFor } from '../helpers.js';

const Call = v.variant('type', [
  AuthenticateCall,
  v.object({ type: v.literal('REGISTER'), name: v.pipe(v.string(), v.maxLength(20)), authentication: v.optional(Authentication) }),
]);
const WelcomeEvent = v.object({ type: v.literal('WELCOME'), name: v.string() });
const Event = v.variant('type', [ChallengeEvent, ErrorEvent, WelcomeEvent]);
type Event = v.InferOutput<typeof Event>;

const FLAG = '--authenticate_agents';
const agent: Credential = { principal: 'agent-1', secret: new Secret('the-agents-secret') };
const authenticator = new Authenticator([agent, { principal: 'agent-2', secret: new Secret('another-secret') }]);

interface Harness {
  url: string;
  endpoint: Endpoint<typeof Call, Event>;
  server: http.Server;
  /** Each accepted REGISTER: its name and the principal the session authenticated as. */
  registered: Array<{ name: string; principal: string | undefined }>;
  rejected: string[];
}

interface Client {
  ws: WebSocket;
  events: Event[];
  close: Promise<number>;
}

const test = suite('session endpoint authentication');
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

/** `null`: an endpoint built without the authentication option at all. */
async function start(authentication: EndpointAuthentication | null = { authenticator, required: true, link: 'agent', flag: FLAG }): Promise<Harness> {
  const server = http.createServer();
  const harness: Harness = { url: '', server, registered: [], rejected: [], endpoint: undefined! };
  harness.endpoint = new Endpoint<typeof Call, Event>({
    path: '/api/test',
    label: ' on /api/test',
    schema: Call,
    maxFrameBytes: 4096,
    registrationCalls: ['REGISTER'],
    registrationTimeoutMs: 5_000,
    logger: silentLogger,
    authentication: authentication ?? undefined,
    onCall(session: EndpointSession<Event>, call) {
      if (call.type !== 'REGISTER') throw new Error(`onCall saw ${call.type}`);
      harness.registered.push({ name: call.name, principal: session.principal });
      session.registered(call.name);
      session.send({ type: 'WELCOME', name: call.name });
    },
    onClose: () => {},
    onRejected: (error) => harness.rejected.push(error.code),
  });
  server.on('upgrade', (request, socket, head) => harness.endpoint.handleUpgrade(request, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  harness.url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/api/test`;
  return (h = harness);
}

/** A client whose every event is checked against the event schema (a CHALLENGE must be 32 bytes). */
async function connect(harness: Harness): Promise<Client> {
  const ws = new WebSocket(harness.url);
  clients.push(ws);
  const events: Event[] = [];
  ws.on('error', () => {});
  ws.on('message', (data: Buffer) => events.push(decodeFrame(Event, data)));
  const close = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await once(ws, 'open');
  return { ws, events, close };
}

/** Sends AUTHENTICATE and returns the CHALLENGE's bytes. */
async function challenge(client: Client): Promise<Uint8Array> {
  client.ws.send(encode({ type: 'AUTHENTICATE' }));
  const event = await waitFor(() => client.events.find((e) => e.type === 'CHALLENGE'), { message: 'CHALLENGE' });
  return (event as ChallengeEvent).challenge;
}

function welcomed(client: Client, name: string): Promise<unknown> {
  return waitFor(() => client.events.some((e) => e.type === 'WELCOME'), { message: `WELCOME for ${name}` });
}

/** The ERROR the endpoint answered and the close code that followed it. */
async function refusedWith(client: Client): Promise<{ code: string; message: string }> {
  assert.is(await client.close, 1008);
  const error = client.events.find((e) => e.type === 'ERROR');
  assert.ok(error, 'an ERROR came before the close');
  return error as { code: string; message: string };
}

test('a registration answering the challenge with the right secret is accepted and the session knows its principal', async () => {
  const harness = await start();
  const client = await connect(harness);
  const bytes = await challenge(client);
  assert.is(bytes.length, 32);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1', authentication: respond(agent, 'agent', bytes) }));
  await welcomed(client, 'a1');
  assert.equal(harness.registered, [{ name: 'a1', principal: 'agent-1' }]);
  assert.equal(harness.endpoint.sessions.map((session) => session.principal), ['agent-1']);
  assert.equal(harness.rejected, []);
});

test('an answer made with a wrong secret is refused with ERR_UNAUTHENTICATED and 1008, before onCall', async () => {
  const harness = await start();
  const client = await connect(harness);
  const bytes = await challenge(client);
  const forged = respond({ principal: 'agent-1', secret: new Secret('a guess') }, 'agent', bytes);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1', authentication: forged }));
  const error = await refusedWith(client);
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
  assert.match(error.message, /authentication of principal agent-1 failed/);
  assert.not.match(error.message, /a guess|the-agents-secret/);
  assert.equal(harness.registered, []);
  assert.equal(harness.rejected, ['ERR_UNAUTHENTICATED']);
});

test('an answer recorded on one connection is refused when replayed on the next', async () => {
  const harness = await start();
  const first = await connect(harness);
  const recorded = respond(agent, 'agent', await challenge(first));
  first.ws.send(encode({ type: 'REGISTER', name: 'a1', authentication: recorded }));
  await welcomed(first, 'a1');
  // An eavesdropper replays the answer it saw: the new connection's challenge differs.
  const replay = await connect(harness);
  await challenge(replay);
  replay.ws.send(encode({ type: 'REGISTER', name: 'a1', authentication: recorded }));
  assert.is((await refusedWith(replay)).code, 'ERR_UNAUTHENTICATED');
  assert.equal(harness.registered, [{ name: 'a1', principal: 'agent-1' }]);
});

test('an answer made for the scheduler link is refused on the agent link', async () => {
  const harness = await start();
  const client = await connect(harness);
  const bytes = await challenge(client);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1', authentication: respond(agent, 'scheduler', bytes) }));
  assert.is((await refusedWith(client)).code, 'ERR_UNAUTHENTICATED');
  assert.equal(harness.registered, []);
});

test('a registration without authentication is refused where it is required, naming the flag', async () => {
  const harness = await start();
  const client = await connect(harness);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1' }));
  const error = await refusedWith(client);
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
  assert.ok(error.message.includes(FLAG), error.message);
  assert.match(error.message, /REGISTER carries no credential/);
  assert.equal(harness.registered, []);
});

test('a registration without authentication is accepted where it is not required, with no principal', async () => {
  const harness = await start({ authenticator, required: false, link: 'agent', flag: FLAG });
  const client = await connect(harness);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1' }));
  await welcomed(client, 'a1');
  assert.equal(harness.registered, [{ name: 'a1', principal: undefined }]);
});

test('a registration after AUTHENTICATE that carries no answer is refused even where none is required', async () => {
  const harness = await start({ authenticator, required: false, link: 'agent', flag: FLAG });
  const client = await connect(harness);
  await challenge(client);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1' }));
  const error = await refusedWith(client);
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
  assert.match(error.message, /after AUTHENTICATE must carry the answer to the challenge/);
});

test('AUTHENTICATE twice on one connection is refused with ERR_PROTOCOL', async () => {
  const harness = await start();
  const client = await connect(harness);
  await challenge(client);
  client.ws.send(encode({ type: 'AUTHENTICATE' }));
  const error = await refusedWith(client);
  assert.is(error.code, 'ERR_PROTOCOL');
  assert.match(error.message, /AUTHENTICATE must be the first frame of a connection, and comes once/);
  assert.is(client.events.filter((e) => e.type === 'CHALLENGE').length, 1);
});

test('AUTHENTICATE after registering is refused with ERR_PROTOCOL', async () => {
  const harness = await start({ authenticator, required: false, link: 'agent', flag: FLAG });
  const client = await connect(harness);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1' }));
  await welcomed(client, 'a1');
  client.ws.send(encode({ type: 'AUTHENTICATE' }));
  assert.is((await refusedWith(client)).code, 'ERR_PROTOCOL');
});

test('AUTHENTICATE to an endpoint without an authenticator is refused with ERR_UNAUTHENTICATED', async () => {
  const harness = await start({ authenticator: undefined, required: false, link: 'agent', flag: FLAG });
  const client = await connect(harness);
  client.ws.send(encode({ type: 'AUTHENTICATE' }));
  const error = await refusedWith(client);
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
  assert.match(error.message, /has no --credentials/);
  assert.not.ok(client.events.some((e) => e.type === 'CHALLENGE'));
});

test('AUTHENTICATE to an endpoint with no authentication option at all is refused the same way', async () => {
  const harness = await start(null);
  const client = await connect(harness);
  client.ws.send(encode({ type: 'AUTHENTICATE' }));
  assert.is((await refusedWith(client)).code, 'ERR_UNAUTHENTICATED');
});

test('an authentication without AUTHENTICATE first is refused: there is no challenge it can answer', async () => {
  const harness = await start();
  const client = await connect(harness);
  client.ws.send(encode({ type: 'REGISTER', name: 'a1', authentication: respond(agent, 'agent', new Uint8Array(32)) }));
  const error = await refusedWith(client);
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
  assert.match(error.message, /no challenge was asked for on this connection: send AUTHENTICATE first/);
  assert.equal(harness.registered, []);
});

test('after a refusal the endpoint still serves another connection', async () => {
  const harness = await start();
  const bad = await connect(harness);
  await challenge(bad);
  bad.ws.send(encode({ type: 'REGISTER', name: 'bad', authentication: { principal: 'agent-2', response: new Uint8Array(32) } }));
  assert.is((await refusedWith(bad)).code, 'ERR_UNAUTHENTICATED');
  const good = await connect(harness);
  const bytes = await challenge(good);
  good.ws.send(encode({ type: 'REGISTER', name: 'good', authentication: respond(agent, 'agent', bytes) }));
  await welcomed(good, 'good');
  assert.equal(harness.registered, [{ name: 'good', principal: 'agent-1' }]);
  assert.is(good.ws.readyState, WebSocket.OPEN);
});

test.run();
