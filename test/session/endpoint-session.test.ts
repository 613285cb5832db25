// One peer connection of an endpoint (session/endpoint-session.ts), over a fake Transport that
// records what the session asks of it: the lifecycle, send()'s shaping and refusals (prepare, the
// receiver's frame limit, a slow reader's backlog), reject() and guarded() as ERROR + close, and the
// connection's timers and heartbeat, cleared when it closes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Logger } from '../../src/log.js';
import { IllegalStateError, LifelineError, UnauthorizedError } from '../../src/protocol/errors.js';
import { decode, encode } from '../../src/protocol/msgpack.js';
import { EndpointSession, type Outgoing } from '../../src/session/endpoint-session.js';
import type { Transport } from '../../src/session/transport.js';
import { waitFor } from '../helpers.js';

const test = suite('session/endpoint-session');

type Event = { type: string; [key: string]: unknown };

/** A Transport that records what it is asked to do; `isOpen` and `bufferedAmount` are set by the test. */
class FakeTransport implements Transport {
  isOpen = true;
  bufferedAmount = 0;
  readonly sent: Event[] = [];
  readonly sentBytes: number[] = [];
  readonly closes: Array<{ code: number | undefined; reason: string | undefined }> = [];
  terminated = 0;

  send(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.sentBytes.push(data.length);
    this.sent.push(decode(data) as Event);
    return true;
  }

  close(code?: number, reason?: string): void {
    this.closes.push({ code, reason });
  }

  terminate(): void {
    this.terminated += 1;
  }
}

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger(lines: Line[]): Logger {
  const at = (level: Line['level']) => (obj: object | string, msg?: string) => lines.push({ level, obj: typeof obj === 'string' ? { text: obj } : (obj as Record<string, unknown>), msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

/** A session on a fresh fake transport, with its log lines. */
function open(outgoing?: Outgoing<Event>): { session: EndpointSession<Event>; transport: FakeTransport; lines: Line[] } {
  const transport = new FakeTransport();
  const lines: Line[] = [];
  const session = new EndpointSession<Event>(transport, '127.0.0.1:40000', () => recordingLogger(lines), outgoing);
  sessions.push(session);
  return { session, transport, lines };
}

/** Active ref'd timers (setTimeout, setInterval) of this process. */
const activeTimers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;

const sessions: EndpointSession<Event>[] = [];
test.after.each(() => {
  // Whatever a test left running is cleared by the close it would get from its endpoint.
  for (const session of sessions.splice(0)) session.closed();
});

test('each session has its own increasing id and a logger made for that id', () => {
  const ids: number[] = [];
  const first = new EndpointSession<Event>(new FakeTransport(), 'a', (id) => (ids.push(id), recordingLogger([])));
  const second = new EndpointSession<Event>(new FakeTransport(), 'b', (id) => (ids.push(id), recordingLogger([])));
  sessions.push(first, second);
  assert.ok(second.id > first.id);
  assert.equal(ids, [first.id, second.id]);
  assert.is(first.remote, 'a');
});

test('starts CONNECTED and open, registers once as its peer ID, and refuses a second registration by name', () => {
  const { session } = open();
  assert.is(session.state, 'CONNECTED');
  assert.ok(session.isOpen);
  assert.is(session.peerId, undefined);
  session.registered('agent-1');
  assert.is(session.state, 'REGISTERED');
  assert.is(session.peerId, 'agent-1');
  assert.ok(session.isOpen);
  assert.throws(
    () => session.registered('agent-2'),
    (error: unknown) => error instanceof IllegalStateError && error.message === `cannot move connection ${session.id} from 127.0.0.1:40000 from REGISTERED to REGISTERED`,
  );
  assert.is(session.peerId, 'agent-1');
});

test('is not open when its transport is not, whatever its state', () => {
  const { session, transport } = open();
  transport.isOpen = false;
  assert.is(session.state, 'CONNECTED');
  assert.not.ok(session.isOpen);
  assert.not.ok(session.send({ type: 'PING' }));
  assert.equal(transport.sent, []);
});

test('close() starts the close handshake once; closed() ends in CLOSED; nothing is sent after', () => {
  const { session, transport } = open();
  session.close(4000, 'bye');
  assert.is(session.state, 'CLOSING');
  assert.not.ok(session.isOpen);
  session.close(1000, 'again');
  assert.equal(transport.closes, [{ code: 4000, reason: 'bye' }]);
  assert.not.ok(session.send({ type: 'PING' }));
  assert.equal(transport.sent, []);
  session.closed();
  session.closed();
  assert.is(session.state, 'CLOSED');
  assert.throws(() => session.registered('late'), (error: unknown) => error instanceof IllegalStateError && /from CLOSED to REGISTERED/.test(error.message));
});

test('terminate() drops the connection at once and moves to CLOSING', () => {
  const { session, transport } = open();
  session.registered('f1');
  session.terminate();
  assert.is(session.state, 'CLOSING');
  assert.is(transport.terminated, 1);
  assert.equal(transport.closes, []);
  // A close after it does not start a handshake on a dropped connection.
  session.close();
  assert.equal(transport.closes, []);
});

test('send() encodes the event as msgpack and reports the transport\'s verdict', () => {
  const { session, transport } = open();
  assert.ok(session.send({ type: 'OFFERS', offers: [{ id: 'o1' }], data: new Uint8Array([1, 2]) }));
  assert.is(transport.sent.length, 1);
  assert.is(transport.sent[0]!.type, 'OFFERS');
  assert.equal(transport.sent[0]!.offers, [{ id: 'o1' }]);
  assert.equal([...(transport.sent[0]!.data as Uint8Array)], [1, 2]);
  transport.bufferedAmount = 17;
  assert.is(session.bufferedAmount, 17);
});

test('send() shapes each event for the agreed version first, then lets prepare() fix or refuse it', () => {
  const prepared: Event[] = [];
  const { session, transport } = open({
    prepare: (event) => {
      prepared.push(event);
      if (event.type === 'SECRET') return undefined;
      return { ...event, message: String(event.message ?? '').slice(0, 3) };
    },
  });
  session.shapeWith((event) => ({ ...event, shaped: true }));
  assert.ok(session.send({ type: 'SAY', message: 'hello' }));
  assert.equal(prepared, [{ type: 'SAY', message: 'hello', shaped: true }]);
  assert.equal(transport.sent, [{ type: 'SAY', message: 'hel', shaped: true }]);
  assert.not.ok(session.send({ type: 'SECRET' }));
  assert.is(transport.sent.length, 1);
});

test('send() refuses an event larger than the receiver\'s frame limit, logs ERR_FRAME_TOO_LARGE and keeps the connection', () => {
  const event = { type: 'SAY', text: 'x'.repeat(100) };
  const size = encode(event).length;
  const { session, transport, lines } = open({ maxSendBytes: size });
  assert.ok(session.send(event), 'exactly the limit is sent');
  assert.not.ok(session.send({ ...event, text: 'x'.repeat(101) }));
  assert.is(transport.sent.length, 1);
  const line = lines.find((entry) => entry.obj.code === 'ERR_FRAME_TOO_LARGE');
  assert.ok(line, 'the refusal is logged');
  assert.is(line!.level, 'error');
  assert.is(line!.obj.event, 'SAY');
  assert.is(line!.obj.bytes, size + 1);
  assert.is(line!.obj.limit, size);
  assert.ok(session.isOpen);
  assert.is(transport.terminated, 0);
});

test('send() to a slow reader whose backlog would pass maxBufferedBytes closes it instead of queueing', () => {
  const event = { type: 'SAY', text: 'x'.repeat(50) };
  const size = encode(event).length;
  const { session, transport, lines } = open({ maxBufferedBytes: 1_000 });
  session.registered('f1');
  transport.bufferedAmount = 1_000 - size;
  assert.ok(session.send(event), 'a backlog of exactly the cap is allowed');
  transport.bufferedAmount = 1_000 - size + 1;
  assert.not.ok(session.send(event));
  assert.is(transport.sent.length, 1);
  assert.is(transport.terminated, 1);
  assert.is(session.state, 'CLOSING');
  const line = lines.find((entry) => entry.msg === 'slow reader: connection closed');
  assert.ok(line, 'the slow reader is logged');
  assert.is(line!.level, 'warn');
  assert.is(line!.obj.peer, 'f1');
  assert.is(line!.obj.maxBufferedBytes, 1_000);
  assert.is(line!.obj.bufferedBytes, 1_000 - size + 1);
  assert.not.ok(session.send(event));
  assert.is(transport.terminated, 1, 'closed once');
});

test('without maxBufferedBytes any backlog is queued', () => {
  const { session, transport } = open();
  transport.bufferedAmount = 1e12;
  assert.ok(session.send({ type: 'SAY' }));
  assert.is(transport.terminated, 0);
});

test('reject() sends ERROR with the error\'s code and message, then closes with 1008 (or the code given)', () => {
  const { session, transport } = open();
  session.reject(new UnauthorizedError('framework f1 is not yours'));
  assert.equal(transport.sent, [{ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'framework f1 is not yours' }]);
  assert.equal(transport.closes, [{ code: 1008, reason: 'framework f1 is not yours' }]);
  assert.is(session.state, 'CLOSING');
  // A second refusal of a closing connection sends nothing.
  session.reject(new LifelineError('ERR_PROTOCOL', 'late'));
  assert.is(transport.sent.length, 1);
  const other = open();
  other.session.reject(new LifelineError('ERR_PROTOCOL_VERSION', 'too new'), 4002);
  assert.equal(other.transport.closes, [{ code: 4002, reason: 'too new' }]);
});

test('reject() cuts a long message to 60000 characters so that any receiver accepts the ERROR', () => {
  const { session, transport } = open();
  session.reject(new LifelineError('ERR_PROTOCOL', 'y'.repeat(70_000)));
  assert.is((transport.sent[0]!.message as string).length, 60_000);
});

test('guarded() answers a thrown LifelineError with ERROR and 1008, logged as a refused call', () => {
  const { session, transport, lines } = open();
  session.registered('f1');
  session.guarded('ACCEPT', () => {
    throw new UnauthorizedError('offer o1 is not yours');
  });
  assert.equal(transport.sent, [{ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'offer o1 is not yours' }]);
  assert.is(transport.closes[0]!.code, 1008);
  const line = lines.find((entry) => entry.msg === 'refused call');
  assert.is(line?.level, 'warn', 'an unauthorized call is a warning');
  assert.is(line?.obj.call, 'ACCEPT');
  assert.is(line?.obj.peer, 'f1');

  const other = open();
  other.session.guarded('KILL', () => {
    throw new LifelineError('ERR_NOT_SUBSCRIBED', 'subscribe first');
  });
  assert.is(other.transport.sent[0]!.code, 'ERR_NOT_SUBSCRIBED');
  assert.is(other.lines.find((entry) => entry.msg === 'refused call')?.level, 'info', 'any other refusal is info');
});

test('guarded() answers any other failure with ERR_ILLEGAL_STATE and 1011, and it never escapes', () => {
  const { session, transport, lines } = open();
  session.guarded('REGISTER', () => {
    throw new Error('disk on fire');
  });
  assert.equal(transport.sent, [{ type: 'ERROR', code: 'ERR_ILLEGAL_STATE', message: 'failed to handle REGISTER: disk on fire' }]);
  assert.equal(transport.closes, [{ code: 1011, reason: 'failed to handle REGISTER: disk on fire' }]);
  assert.is(lines.find((entry) => entry.msg === 'handler failed')?.level, 'error');

  const other = open();
  other.session.guarded('SAY', () => {
    throw 'a string';
  });
  assert.is(other.transport.sent[0]!.message, 'failed to handle SAY: a string');
});

test('guarded() runs a handler that succeeds and sends nothing of its own', () => {
  const { session, transport } = open();
  let ran = false;
  session.guarded('SAY', () => {
    ran = true;
  });
  assert.ok(ran);
  assert.equal(transport.sent, []);
  assert.equal(transport.closes, []);
});

test('after() runs once unless cancelled, every() repeats', async () => {
  const { session } = open();
  let once = 0;
  let cancelled = 0;
  let repeated = 0;
  session.after(1, () => once++);
  const cancel = session.after(1, () => cancelled++);
  cancel();
  session.every(1, () => repeated++);
  await waitFor(() => once === 1 && repeated >= 3, { timeoutMs: 2_000, message: 'the timers to fire' });
  assert.is(cancelled, 0);
  assert.is(once, 1);
});

test('the timers and the heartbeat stop when the connection closes, by close(), terminate() or closed()', () => {
  for (const end of ['close', 'terminate', 'closed'] as const) {
    const before = activeTimers();
    const { session } = open();
    session.after(60_000, () => assert.unreachable('an after() timer outlived its connection'));
    session.every(60_000, () => assert.unreachable('an every() timer outlived its connection'));
    session.heartbeat(60_000, () => {});
    assert.is(activeTimers(), before + 3, end);
    session[end]();
    assert.is(activeTimers(), before, end);
  }
});

test('cancelling an after() timer clears it, and cancelling twice is harmless', () => {
  const before = activeTimers();
  const { session } = open();
  const cancel = session.after(60_000, () => {});
  assert.is(activeTimers(), before + 1);
  cancel();
  cancel();
  assert.is(activeTimers(), before);
});

test('heartbeat() beats while the peer talks and drops a peer silent for the missed intervals', async () => {
  const { session, transport, lines } = open();
  session.registered('a1');
  let beats = 0;
  session.heartbeat(50, () => beats++, 3);
  const talking = setInterval(() => session.touch(), 2);
  try {
    await waitFor(() => beats >= 4, { timeoutMs: 2_000, message: 'four beats' });
    assert.is(transport.terminated, 0, 'a peer that talks is not dropped');
  } finally {
    clearInterval(talking);
  }
  await waitFor(() => transport.terminated === 1, { timeoutMs: 2_000, message: 'the silent peer to be dropped' });
  assert.is(session.state, 'CLOSING');
  const line = lines.find((entry) => entry.level === 'warn' && /no frame from the peer for 3 heartbeat intervals/.test(entry.msg ?? ''));
  assert.ok(line, 'the silence is logged');
  assert.is(line!.obj.peer, 'a1');
  assert.ok((line!.obj.silentMs as number) >= 150, 'logged rounded, after more than 3 intervals of 50 ms');
});

test('a new heartbeat() replaces the running one', () => {
  const before = activeTimers();
  const { session } = open();
  session.heartbeat(60_000, () => {});
  session.heartbeat(30_000, () => {});
  assert.is(activeTimers(), before + 1);
  session.close();
  assert.is(activeTimers(), before);
});

test.run();
