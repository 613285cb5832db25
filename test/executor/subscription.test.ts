// The ExecutorDriver's handshake step on its own (src/executor/subscription.ts): what SUBSCRIBE
// carries (only durable updates, in a bounded piece, and the unacknowledged tasks), and the verdict
// on each answer of the agent before SUBSCRIBED. The host and the link are plain recording objects:
// the step only calls them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Backlog } from '../../src/executor/backlog.js';
import type { ExecutorEnvironment } from '../../src/executor/environment.js';
import { SUBSCRIBE_MAX_UPDATES, SUBSCRIBE_MAX_UPDATE_BYTES, agentError, boundedPiece, subscription, type SubscriptionHost } from '../../src/executor/subscription.js';
import { EXECUTOR_PROTOCOL_VERSION } from '../../src/protocol/constants.js';
import { ExecutorCall, LifelineError, decodeFrame, encode, type ExecutorEvent, type TaskStatus } from '../../src/protocol/index.js';
import { SERVED } from '../../src/protocol/version.js';
import type { HandshakeVerdict } from '../../src/session/handshake.js';
import { IDS, commandTask } from './fake-agent.js';

const env: ExecutorEnvironment = {
  agentEndpoint: '/tmp/agent.sock',
  agentId: IDS.agentId,
  frameworkId: IDS.frameworkId,
  executorId: IDS.executorId,
  containerId: IDS.containerId,
  directory: '/tmp/sandbox',
  checkpoint: true,
  recoveryTimeoutMs: 60_000,
  subscriptionBackoffMaxMs: 500,
  shutdownGracePeriodMs: 2_000, backlogMaxUpdates: 10_000, backlogMaxBytes: 16 * 1024 * 1024,
  token: IDS.token,
};

function status(n: number, message = `update ${n}`): TaskStatus {
  return { taskId: 'task-1', state: 'TASK_RUNNING', uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, timestamp: 1, source: 'SOURCE_EXECUTOR', message };
}

/** A host that records what the step asks of it; `ready` and `begin` as given. */
function host(backlog = new Backlog(), { ready = async () => {}, begin = () => true }: { ready?: () => Promise<void>; begin?: () => boolean } = {}) {
  const seen = { sentUpTo: [] as number[], acknowledged: [] as string[], order: [] as string[] };
  const h: SubscriptionHost = {
    env,
    backlog,
    ready: async () => {
      seen.order.push('ready');
      await ready();
    },
    begin: () => {
      seen.order.push('begin');
      return begin();
    },
    sentUpTo: (seq) => void seen.sentUpTo.push(seq),
    acknowledge: (uuid) => void seen.acknowledged.push(uuid),
  };
  return { host: h, seen };
}

/** A link that keeps the frames sent, decoded as executor calls. */
function link() {
  const frames: ExecutorCall[] = [];
  return { frames, link: { send: (frame: Uint8Array) => (frames.push(decodeFrame(ExecutorCall, frame)), true) } };
}

function durable(backlog: Backlog, ...statuses: TaskStatus[]): void {
  for (const s of statuses) backlog.addUpdate(s).durable = true;
}

// ---- boundedPiece ----

const Piece = suite('boundedPiece');

Piece('takes the oldest entries up to the count bound', () => {
  const entries = [1, 2, 3, 4].map((n) => ({ status: status(n) }));
  assert.equal(boundedPiece(entries, 3).map((e) => e.status.message), ['update 1', 'update 2', 'update 3']);
  assert.equal(boundedPiece([]), []);
});

Piece('stops before the entry that would pass the byte bound', () => {
  const entries = [1, 2, 3].map((n) => ({ status: status(n, 'x'.repeat(100)) }));
  const one = encode(entries[0]!.status).length;
  assert.is(boundedPiece(entries, 10, 2 * one).length, 2, 'two fit exactly');
  assert.is(boundedPiece(entries, 10, 2 * one - 1).length, 1);
});

Piece('always takes the first entry, even when it alone is over the byte bound', () => {
  const big = { status: status(1, 'x'.repeat(1_000)) };
  assert.equal(boundedPiece([big, { status: status(2) }], 10, 10), [big]);
});

Piece('its defaults keep a SUBSCRIBE well under a 1 MiB frame', () => {
  assert.ok(SUBSCRIBE_MAX_UPDATE_BYTES < 1024 * 1024);
  const entries = Array.from({ length: SUBSCRIBE_MAX_UPDATES + 5 }, (_, n) => ({ status: status(n, '') }));
  assert.is(boundedPiece(entries).length, SUBSCRIBE_MAX_UPDATES);
});

Piece.run();

// ---- agentError ----

const Errors = suite('agentError');

Errors("an agent's ERROR becomes a LifelineError with the agent's code, saying it came from the agent", () => {
  const error = agentError('ERR_UNAUTHORIZED', 'wrong token');
  assert.instance(error, LifelineError);
  assert.is(error.code, 'ERR_UNAUTHORIZED');
  assert.is(error.message, 'the agent reported ERR_UNAUTHORIZED: wrong token');
});

Errors.run();

// ---- subscription(): open ----

const Open = suite('subscription() open');

Open('waits for the host to be ready, then begins and sends SUBSCRIBE with the IDs, token and protocol range', async () => {
  const { host: h, seen } = host();
  const { frames, link: l } = link();
  assert.is(await subscription(h).open(l), undefined, 'no verdict: wait for the answer');
  assert.equal(seen.order, ['ready', 'begin']);
  assert.is(frames.length, 1);
  const subscribe = frames[0]!;
  assert.is(subscribe.type, 'SUBSCRIBE');
  if (subscribe.type !== 'SUBSCRIBE') return;
  assert.is(subscribe.frameworkId, IDS.frameworkId);
  assert.is(subscribe.executorId, IDS.executorId);
  assert.is(subscribe.containerId, IDS.containerId);
  assert.is(subscribe.token, IDS.token);
  assert.is(subscribe.protocol, EXECUTOR_PROTOCOL_VERSION, 'the oldest version we speak: what a 0.1.0 agent demands');
  assert.is(subscribe.protocolMax, SERVED.current);
  assert.equal(subscribe.unacknowledgedUpdates, []);
  assert.equal(seen.sentUpTo, [0], 'nothing carried');
});

Open('carries the unacknowledged tasks, and the durable updates only up to the first that is not durable', async () => {
  const backlog = new Backlog();
  backlog.addTask(commandTask('task-1', 'sleep 9'));
  durable(backlog, status(1), status(2));
  backlog.addUpdate(status(3)); // not durable yet
  durable(backlog, status(4));
  const { host: h, seen } = host(backlog);
  const { frames, link: l } = link();
  await subscription(h).open(l);
  const subscribe = frames[0]!;
  if (subscribe.type !== 'SUBSCRIBE') return assert.unreachable('a SUBSCRIBE');
  assert.equal(subscribe.unacknowledgedTasks.map((t) => t.taskId), ['task-1']);
  assert.equal(subscribe.unacknowledgedUpdates.map((s) => s.message), ['update 1', 'update 2'], 'update 4 waits behind update 3');
  assert.equal(seen.sentUpTo, [2], 'the seq of the last update carried');
});

Open('carries a bounded piece of a long backlog; the rest is left to UPDATE frames', async () => {
  const backlog = new Backlog();
  durable(backlog, ...Array.from({ length: SUBSCRIBE_MAX_UPDATES + 10 }, (_, n) => status(n + 1, '')));
  const { host: h, seen } = host(backlog);
  const { frames, link: l } = link();
  await subscription(h).open(l);
  const subscribe = frames[0]!;
  if (subscribe.type !== 'SUBSCRIBE') return assert.unreachable('a SUBSCRIBE');
  assert.is(subscribe.unacknowledgedUpdates.length, SUBSCRIBE_MAX_UPDATES);
  assert.equal(seen.sentUpTo, [SUBSCRIBE_MAX_UPDATES]);
});

Open('a host that cannot get ready (the sandbox cannot be written) refuses with its error and sends nothing', async () => {
  const failure = new LifelineError('ERR_ENVIRONMENT', 'cannot write the executor state');
  const { host: h, seen } = host(new Backlog(), { ready: () => Promise.reject(failure) });
  const { frames, link: l } = link();
  const verdict = await subscription(h).open(l);
  assert.equal(verdict, { kind: 'refuse', error: failure });
  assert.equal(seen.order, ['ready'], 'never began');
  assert.equal(frames, []);
});

Open('an attempt that is no longer current when ready sends nothing', async () => {
  const { host: h, seen } = host(new Backlog(), { begin: () => false });
  const { frames, link: l } = link();
  assert.is(await subscription(h).open(l), undefined);
  assert.equal(frames, []);
  assert.equal(seen.sentUpTo, []);
});

Open.run();

// ---- subscription(): answer ----

const Answer = suite('subscription() answer');

function answer(event: ExecutorEvent): { verdict: HandshakeVerdict<number>; acknowledged: string[] } {
  const { host: h, seen } = host();
  return { verdict: subscription(h).answer(event), acknowledged: seen.acknowledged };
}

Answer('SUBSCRIBED accepts with its heartbeat interval, and the heartbeat frame is a HEARTBEAT call', () => {
  const { verdict } = answer({
    type: 'SUBSCRIBED',
    agentId: IDS.agentId,
    containerId: IDS.containerId,
    executorInfo: { executorId: IDS.executorId, frameworkId: IDS.frameworkId, command: { value: 'x' } },
    frameworkInfo: { id: IDS.frameworkId, name: 'test', checkpoint: false },
    heartbeatIntervalMs: 1_234,
  });
  if (verdict?.kind !== 'accept') return assert.unreachable(`accept, got ${JSON.stringify(verdict)}`);
  assert.is(verdict.value, 1_234);
  assert.is(verdict.heartbeat?.intervalMs, 1_234);
  assert.equal(decodeFrame(ExecutorCall, verdict.heartbeat!.beat!()), { type: 'HEARTBEAT' });
});

Answer('a HEARTBEAT before SUBSCRIBED is not the answer yet', () => {
  assert.is(answer({ type: 'HEARTBEAT' }).verdict, undefined);
});

Answer('an ACKNOWLEDGED before SUBSCRIBED (an update carried in SUBSCRIBE) is passed to the host, and is not the answer', () => {
  const { verdict, acknowledged } = answer({ type: 'ACKNOWLEDGED', taskId: 'task-1', uuid: status(1).uuid });
  assert.is(verdict, undefined);
  assert.equal(acknowledged, [status(1).uuid]);
});

Answer("an ERROR refuses for good with the agent's code", () => {
  const { verdict } = answer({ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'wrong token' });
  if (verdict?.kind !== 'refuse') return assert.unreachable(`refuse, got ${JSON.stringify(verdict)}`);
  assert.is(verdict.error.code, 'ERR_UNAUTHORIZED');
  assert.match(verdict.error.message, 'wrong token');
});

Answer('an ERROR refusing our protocol version fails this attempt only (another agent may serve us)', () => {
  const { verdict } = answer({ type: 'ERROR', code: 'ERR_PROTOCOL_VERSION', message: 'protocol 9 is not supported' });
  if (verdict?.kind !== 'fail') return assert.unreachable(`fail, got ${JSON.stringify(verdict)}`);
  assert.is(verdict.error.code, 'ERR_PROTOCOL_VERSION');
});

Answer('SHUTDOWN refuses with ERR_UNKNOWN_EXECUTOR naming the executor, and carries the grace period', () => {
  const { verdict } = answer({ type: 'SHUTDOWN', gracePeriodMs: 3_000 });
  if (verdict?.kind !== 'refuse') return assert.unreachable(`refuse, got ${JSON.stringify(verdict)}`);
  assert.is(verdict.error.code, 'ERR_UNKNOWN_EXECUTOR');
  assert.match(verdict.error.message, `it does not know executor ${IDS.executorId}`);
  assert.is(verdict.detail, 3_000);
});

Answer('any other event before SUBSCRIBED is a protocol error (nothing is called back before SUBSCRIBED)', () => {
  for (const event of [{ type: 'LAUNCH', task: commandTask('task-1', 'true') }, { type: 'KILL', taskId: 'task-1' }] as ExecutorEvent[]) {
    const { verdict } = answer(event);
    if (verdict?.kind !== 'refuse') return assert.unreachable(`refuse, got ${JSON.stringify(verdict)}`);
    assert.is(verdict.error.code, 'ERR_PROTOCOL');
    assert.is(verdict.error.message, `the agent sent ${event.type} before SUBSCRIBED`);
  }
});

Answer.run();
