// The ExecutorDriver's link on its own (src/executor/driver-link.ts): the states of one attempt
// after another, how an attempt settles (SUBSCRIBED, a Refusal, a failure), what the host hears
// (events, a fatal error, a broken connection), and stop(). Against the fake agent on a real Unix
// socket, with the real SUBSCRIBE step (subscription.ts) as the handshake.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Backlog } from '../../src/executor/backlog.js';
import { DriverLink, Refusal, type LinkHost } from '../../src/executor/driver-link.js';
import { readExecutorEnvironment } from '../../src/executor/environment.js';
import { subscription } from '../../src/executor/subscription.js';
import { IllegalStateError, LifelineError, ProtocolError, encode, type ExecutorEvent } from '../../src/protocol/index.js';
import { removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';
import { FakeAgent, commandTask, type FakeAgentOptions } from './fake-agent.js';

interface Context {
  dir: string;
  agent: FakeAgent | undefined;
  links: DriverLink[];
}

const Link = suite<Context>('DriverLink', { dir: '', agent: undefined, links: [] });

Link.before.each((context) => {
  context.dir = tempDir('ll-link-');
  context.agent = undefined;
  context.links = [];
});

Link.after.each(async (context) => {
  for (const link of context.links) {
    if (link.state !== 'STOPPED') link.stop(new Error('test over'));
    link.close(1000, 'test over');
    await link.closed();
  }
  await context.agent?.close();
  removeDir(context.dir);
});

/** A link whose host records what it hears, in order with the test's own notes. */
async function link(context: Context, options: FakeAgentOptions = {}) {
  const agent = (context.agent = await FakeAgent.start(context.dir, options));
  const env = readExecutorEnvironment(agent.env(context.dir));
  const log: string[] = [];
  const seen = { events: [] as ExecutorEvent[], fatal: [] as LifelineError[], broken: [] as LifelineError[], log };
  const host: LinkHost = {
    handshake: (begin) => subscription({ env, backlog: new Backlog(), ready: async () => {}, begin, sentUpTo: () => {}, acknowledge: () => {} }),
    subscribed: () => void log.push(`subscribed in ${l.state}`),
    event: (event) => void seen.events.push(event),
    fatal: (error) => void seen.fatal.push(error),
    broken: (error) => void seen.broken.push(error),
  };
  const l = new DriverLink(host);
  context.links.push(l);
  return { link: l, agent, seen, socketPath: agent.socketPath };
}

async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  return withTimeout(
    promise.then(
      () => assert.unreachable(`${what} resolved`),
      (error: unknown) => error,
    ),
    5_000,
    what,
  );
}

Link('an attempt goes CONNECTING → SUBSCRIBING → SUBSCRIBED; the host hears of it before the attempt resolves', async (context) => {
  const { link: l, agent, seen, socketPath } = await link(context, { subscribe: false });
  assert.is(l.state, 'NEW');
  assert.is(l.send({ type: 'HEARTBEAT' }), false, 'no connection yet');
  const attempt = l.attempt(socketPath, 5_000).then(() => void seen.log.push('resolved'));
  assert.is(l.state, 'CONNECTING');
  assert.is(l.attempts, 1);
  await agent.waitForCall('SUBSCRIBE');
  assert.is(l.state, 'SUBSCRIBING');
  agent.send({
    type: 'SUBSCRIBED',
    agentId: 'agent-1',
    containerId: 'container-1',
    executorInfo: { executorId: 'executor-1', frameworkId: 'framework-1', command: { value: 'x' } },
    frameworkInfo: { id: 'framework-1', name: 'test', checkpoint: false },
    heartbeatIntervalMs: 5_000,
  });
  await withTimeout(attempt, 5_000, 'the attempt');
  assert.equal(seen.log, ['subscribed in SUBSCRIBED', 'resolved']);
  assert.ok(l.is('SUBSCRIBED'));
  assert.is(l.send({ type: 'HEARTBEAT' }), true);
  await agent.waitForCall('HEARTBEAT');
});

Link('events after SUBSCRIBED go to the host; an event type a newer agent added is dropped, not fatal', async (context) => {
  const { link: l, agent, seen, socketPath } = await link(context);
  await withTimeout(l.attempt(socketPath, 5_000), 5_000, 'the attempt');
  agent.sendRaw(encode({ type: 'FUTURE_EVENT', detail: 1 }));
  agent.send({ type: 'LAUNCH', task: commandTask('task-1', 'true') });
  await waitFor(() => seen.events.length === 1 || undefined, { message: 'the LAUNCH', timeoutMs: 5_000 });
  assert.is(seen.events[0]!.type, 'LAUNCH');
  assert.equal(seen.fatal, []);
  assert.is(l.state, 'SUBSCRIBED');
});

Link('an ERROR answer to SUBSCRIBE rejects the attempt with a Refusal carrying the agent error; the connection is closed', async (context) => {
  const { link: l, agent, socketPath } = await link(context, {
    subscribe: false,
    onCall: (call, a) => {
      if (call.type === 'SUBSCRIBE') a.send({ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'wrong token' });
    },
  });
  const error = await rejection(l.attempt(socketPath, 5_000), 'the refused attempt');
  assert.instance(error, Refusal);
  assert.is((error as Refusal).error.code, 'ERR_UNAUTHORIZED');
  assert.is((error as Refusal).shutdownGracePeriodMs, undefined);
  assert.is(l.state, 'DISCONNECTED');
  assert.is(await agent.waitForClose(), 1000);
});

Link('a SHUTDOWN answer rejects with a Refusal that carries its grace period', async (context) => {
  const { link: l, socketPath } = await link(context, {
    subscribe: false,
    onCall: (call, a) => {
      if (call.type === 'SUBSCRIBE') a.send({ type: 'SHUTDOWN', gracePeriodMs: 1_500 });
    },
  });
  const error = await rejection(l.attempt(socketPath, 5_000), 'the refused attempt');
  assert.instance(error, Refusal);
  assert.is((error as Refusal).error.code, 'ERR_UNKNOWN_EXECUTOR');
  assert.is((error as Refusal).shutdownGracePeriodMs, 1_500);
});

Link('an attempt that cannot connect fails with the connection error (not a Refusal), and another may follow', async (context) => {
  const { link: l } = await link(context);
  const error = await rejection(l.attempt(`${context.dir}/nobody.sock`, 5_000), 'the attempt to nowhere');
  assert.not.instance(error, Refusal);
  assert.is((error as LifelineError).code, 'ERR_CONNECTION');
  assert.is(l.state, 'DISCONNECTED');
  await withTimeout(l.attempt(context.agent!.socketPath, 5_000), 5_000, 'the next attempt');
  assert.is(l.attempts, 2);
});

Link('a subscribed connection that breaks is reported to broken(), DISCONNECTED; a new attempt subscribes again', async (context) => {
  const { link: l, agent, seen, socketPath } = await link(context);
  await withTimeout(l.attempt(socketPath, 5_000), 5_000, 'the attempt');
  agent.dropConnections();
  await waitFor(() => seen.broken[0], { message: 'broken()', timeoutMs: 5_000 });
  assert.instance(seen.broken[0], LifelineError);
  assert.is(l.state, 'DISCONNECTED');
  await withTimeout(l.attempt(socketPath, 5_000), 5_000, 'the second attempt');
  assert.is(l.state, 'SUBSCRIBED');
});

Link('a malformed event once subscribed goes to fatal() and the connection closes with 1008', async (context) => {
  const { link: l, agent, seen, socketPath } = await link(context);
  await withTimeout(l.attempt(socketPath, 5_000), 5_000, 'the attempt');
  agent.sendRaw(encode({ type: 'KILL' })); // no taskId
  await waitFor(() => seen.fatal[0], { message: 'fatal()', timeoutMs: 5_000 });
  assert.instance(seen.fatal[0], ProtocolError);
  assert.is(await agent.waitForClose(), 1008);
});

Link('fail() refuses an attempt under way with that error; once subscribed it goes to fatal() instead', async (context) => {
  const { link: l, agent, seen, socketPath } = await link(context, { subscribe: false });
  const attempt = l.attempt(socketPath, 5_000);
  await agent.waitForCall('SUBSCRIBE');
  const error = new LifelineError('ERR_PROTOCOL', 'the agent sent SUBSCRIBED twice');
  l.fail(error);
  const refusal = await rejection(attempt, 'the failed attempt');
  assert.instance(refusal, Refusal);
  assert.is((refusal as Refusal).error, error);
  assert.equal(seen.fatal, [], 'not also fatal');

  agent.options.subscribe = true;
  await withTimeout(l.attempt(socketPath, 5_000), 5_000, 'the next attempt');
  l.fail(error);
  assert.equal(seen.fatal, [error]);
});

Link('abandon() closes the attempt under way with the reason given and rejects it with the error', async (context) => {
  const { link: l, agent, socketPath } = await link(context, { subscribe: false });
  const attempt = l.attempt(socketPath, 5_000);
  await agent.waitForCall('SUBSCRIBE');
  const timeout = new LifelineError('ERR_TIMEOUT', 'recovery timeout');
  l.abandon(timeout, 'recovery timeout');
  assert.is(await rejection(attempt, 'the abandoned attempt'), timeout);
  assert.is(l.state, 'DISCONNECTED');
  assert.is(await agent.waitForClose(), 1000);
});

Link('a second attempt while subscribed is refused by name: SUBSCRIBED cannot move to CONNECTING', async (context) => {
  const { link: l, socketPath } = await link(context);
  await withTimeout(l.attempt(socketPath, 5_000), 5_000, 'the attempt');
  const error = await rejection(l.attempt(socketPath, 5_000), 'the second attempt');
  assert.instance(error, IllegalStateError);
  assert.match((error as Error).message, 'from SUBSCRIBED to CONNECTING');
});

Link('stop() rejects the attempt under way with its reason; after close() and closed(), nothing more is heard', async (context) => {
  const { link: l, agent, seen, socketPath } = await link(context, { subscribe: false });
  const attempt = l.attempt(socketPath, 5_000);
  await agent.waitForCall('SUBSCRIBE');
  const reason = new LifelineError('ERR_DRIVER_STOPPED', 'the executor driver was stopped');
  l.stop(reason);
  assert.is(l.state, 'STOPPED');
  assert.is(await rejection(attempt, 'the stopped attempt'), reason);
  l.close(1000, 'executor stopped');
  await withTimeout(l.closed(), 5_000, 'closed()');
  assert.is(await agent.waitForClose(), 1000);
  assert.equal(seen.broken, [], 'a stopped link reports no break');
  assert.is(l.state, 'STOPPED');
  const after = await rejection(l.attempt(socketPath, 5_000), 'an attempt after stop()');
  assert.instance(after, IllegalStateError);
});

Link.run();
