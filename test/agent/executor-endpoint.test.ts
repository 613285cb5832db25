// The executor endpoint as a transport, with a stub handler: first-frame rules, the SUBSCRIBE
// deadline and heartbeats both ways, on a real Unix socket.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExecutorEndpoint, type ExecutorConnection } from '../../src/agent/executor-endpoint.js';
import { executorSocketPath } from '../../src/agent/socket-path.js';
import { removeDir, tempDir } from '../helpers.js';
import { FakeExecutor } from './fakes.js';

const test = suite('ExecutorEndpoint');
let dir: string;
let endpoint: ExecutorEndpoint | undefined;
const clients: FakeExecutor[] = [];
const calls: string[] = [];

async function listen(options: { subscribeTimeoutMs?: number; heartbeatIntervalMs?: number } = {}) {
  endpoint = new ExecutorEndpoint({
    socketPath: executorSocketPath(path.join(dir, 'rt')),
    maxFrameBytes: 64 * 1024,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000,
    subscribeTimeoutMs: options.subscribeTimeoutMs,
    onUnknown: (type) => calls.push(`unknown ${type}`),
    handler: {
      subscribe(connection: ExecutorConnection, call) {
        calls.push(`SUBSCRIBE ${call.executorId}`);
        connection.accept({ frameworkId: call.frameworkId, executorId: call.executorId, containerId: call.containerId });
      },
      update: (_connection, status) => calls.push(`UPDATE ${status.taskId}`),
      message: () => calls.push('MESSAGE'),
      closed: (connection) => calls.push(`closed ${connection.executorId}`),
    },
  });
  await endpoint.listen();
  return endpoint;
}

async function client(): Promise<FakeExecutor> {
  const executor = await FakeExecutor.connect(endpoint!.socketPath);
  clients.push(executor);
  return executor;
}

const SUBSCRIBE = { type: 'SUBSCRIBE', frameworkId: 'f1', executorId: 'e1', containerId: 'c1', token: 't', protocol: 1, unacknowledgedTasks: [], unacknowledgedUpdates: [] };

test.before.each(() => {
  dir = tempDir('ll-ep-');
  calls.length = 0;
});

test.after.each(async () => {
  for (const executor of clients.splice(0)) executor.terminate();
  await endpoint?.close();
  endpoint = undefined;
  removeDir(dir);
});

test('closes a connection that does not SUBSCRIBE in time', async () => {
  await listen({ subscribeTimeoutMs: 100 });
  const silent = await client();
  const error = await silent.waitForEvent('ERROR');
  assert.match(String(error.message), /no SUBSCRIBE within 100 ms/);
  assert.is((await silent.waitForClose()).code, 1008);
});

test('refuses a second SUBSCRIBE on one connection, and hands calls over in order', async () => {
  await listen();
  const executor = await client();
  executor.send(SUBSCRIBE);
  executor.send({ type: 'UPDATE', status: { taskId: 'a', state: 'TASK_RUNNING', uuid: '11111111-1111-1111-1111-111111111111', timestamp: 1 } });
  executor.send({ type: 'MESSAGE', data: new Uint8Array([1]) });
  executor.send({ type: 'HEARTBEAT' });
  executor.send(SUBSCRIBE);
  const error = await executor.waitForEvent('ERROR');
  assert.match(String(error.message), /already subscribed/);
  await executor.waitForClose();
  assert.equal(calls, ['SUBSCRIBE e1', 'UPDATE a', 'MESSAGE', 'closed e1']);
});

test('ignores a call of a type a newer executor added and counts it, but refuses one as the first frame (issue 11)', async () => {
  await listen();
  const executor = await client();
  executor.send(SUBSCRIBE);
  executor.send({ type: 'FUTURE_CALL', x: 1 });
  executor.send({ type: 'UPDATE', status: { taskId: 'a', state: 'TASK_RUNNING', uuid: '11111111-1111-1111-1111-111111111111', timestamp: 1 } });
  executor.send(SUBSCRIBE);
  await executor.waitForEvent('ERROR');
  assert.equal(calls, ['SUBSCRIBE e1', 'unknown FUTURE_CALL', 'UPDATE a', 'closed e1']);
  const early = await client();
  early.send({ type: 'FUTURE_CALL' });
  assert.match(String((await early.waitForEvent('ERROR')).message), /first frame must be SUBSCRIBE, got FUTURE_CALL/);
});

test('sends heartbeats and drops an executor that stays silent for three intervals', async () => {
  await listen({ heartbeatIntervalMs: 50 });
  const executor = await client();
  executor.send(SUBSCRIBE);
  await executor.waitForEvent('HEARTBEAT');
  const close = await executor.waitForClose();
  assert.is(close.code, 1006, 'terminated, as a dead peer would be');
  assert.ok(calls.includes('closed e1'));
});

test('answers plain HTTP and other paths with 404', async () => {
  await listen();
  const http = await import('node:http');
  const status = await new Promise<number | undefined>((resolve, reject) => {
    http.get({ socketPath: endpoint!.socketPath, path: '/state' }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject);
  });
  assert.is(status, 404);
});

test.run();
