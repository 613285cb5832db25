import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { MasterLink } from '../../src/agent/master-link.js';
import { Master } from '../../src/master/index.js';
import { bigReregister } from '../fixtures/reregister.js';
import type { Logger } from '../../src/log.js';
import { freePort, waitFor } from '../helpers.js';

const test = suite('MasterLink');

/** A logger that keeps its error lines. */
function recordingLogger(errors: string[]): Logger {
  const noop = () => {};
  const logger: Logger = { debug: noop, info: noop, warn: noop, error: (_fields: unknown, message?: string) => errors.push(String(message)), child: () => logger } as unknown as Logger;
  return logger;
}

test('names the size and the master flag when the master refuses its registration frame as too large', async () => {
  // A real ws server with a small frame limit stands in for a master started with --max_frame_bytes=512.
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 512 });
  server.on('error', () => {});
  server.on('connection', (socket) => socket.on('error', () => {})); // the oversize frame is an error on the server side too
  await new Promise((resolve) => server.once('listening', resolve));
  const errors: string[] = [];
  const tasks = Array.from({ length: 20 }, (_, i) => ({ taskId: `task-${i}`, padding: 'x'.repeat(40) }));
  const link = new MasterLink({
    master: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    backoffFactorMs: 10_000,
    registration: () => ({ type: 'REREGISTER', tasks }) as never,
    onRegistered: () => {},
    onEvent: () => {},
    onDisconnected: () => {},
    logger: recordingLogger(errors),
  });
  try {
    link.start();
    const message = await waitFor(() => errors.find((line) => line.includes('too large')), { timeoutMs: 10_000, message: 'the refusal logged' });
    assert.match(message, /refused this agent's REREGISTER frame of \d+ bytes as too large \(close 1009\)/);
    assert.match(message, /start the master with --max_frame_bytes above \d+/);
    const bytes = Number(/frame of (\d+) bytes/.exec(message)![1]);
    assert.ok(bytes > 512, `the size named (${bytes}) is the frame's`);
  } finally {
    await link.close();
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('re-registers 5,000 tasks with a real master on its default frame limit, in parts', async () => {
  const master = new Master({ ip: '127.0.0.1', port: 0 });
  const { port } = await master.start();
  const registered: string[] = [];
  const errors: string[] = [];
  const link = new MasterLink({
    master: `127.0.0.1:${port}`,
    backoffFactorMs: 10_000,
    registration: () => bigReregister(5_000),
    onRegistered: (event) => registered.push(`${event.type} ${event.agentId}`),
    onEvent: () => {},
    onDisconnected: () => {},
    logger: recordingLogger(errors),
  });
  try {
    link.start();
    await waitFor(() => registered.length > 0, { timeoutMs: 20_000, message: `REREGISTERED (errors: ${errors.join('; ')})` });
    assert.equal(registered, ['REREGISTERED agent-1']);
    assert.equal(errors, []);
    assert.is(link.state, 'REGISTERED');
  } finally {
    await link.close();
    await master.stop();
  }
});

test('says an unreachable master at warn once per episode, then retries at debug until it answers', async () => {
  const lines: Array<{ level: string; message: string }> = [];
  const push = (level: string) => (_fields: unknown, message?: string) => lines.push({ level, message: String(message) });
  const logger = { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error'), child: () => logger } as unknown as Logger;
  const port = await freePort(); // nothing listens there
  const link = new MasterLink({
    master: `127.0.0.1:${port}`,
    backoffFactorMs: 20,
    maxBackoffMs: 40,
    registration: () => ({ type: 'REGISTER' }) as never,
    onRegistered: () => {},
    onEvent: () => {},
    onDisconnected: () => {},
    logger,
  });
  try {
    link.start();
    await waitFor(() => lines.filter((line) => line.message === 'retrying the master').length >= 3, { timeoutMs: 10_000, message: 'several failed attempts' });
    const warnings = lines.filter((line) => line.level === 'warn');
    assert.is(warnings.length, 1, JSON.stringify(lines));
    assert.match(warnings[0]!.message, new RegExp(`the master at 127\\.0\\.0\\.1:${port} is unreachable`));
  } finally {
    await link.close();
  }
});

test.run();
