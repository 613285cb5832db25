import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { MasterLink } from '../../src/agent/master-link.js';
import type { Logger } from '../../src/log.js';
import { encode, type AgentEvent } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';

// The agent obeys only its master (issue 12): nothing but the registration answer and PING is
// acted on before it is registered, and a standby's ERR_NOT_LEADER sends it to the leader named.
const test = suite('MasterLink: only its master is obeyed');

function recordingLogger(warnings: string[]): Logger {
  const noop = () => {};
  const logger: Logger = { debug: noop, info: noop, warn: (_fields: unknown, message?: string) => warnings.push(String(message)), error: noop, child: () => logger } as unknown as Logger;
  return logger;
}

async function fakeMaster(onConnection: (socket: WebSocket) => void): Promise<{ server: WebSocketServer; address: string; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('error', () => {});
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    server,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const send = (socket: WebSocket, event: AgentEvent) => socket.send(encode(event));

test('ignores and logs events before registration, a SHUTDOWN without a current epoch included', async () => {
  const master = await fakeMaster((socket) => {
    send(socket, { type: 'KILL_TASK', frameworkId: 'f', taskId: 't' });
    send(socket, { type: 'SHUTDOWN', message: 'from whoever answers' });
    send(socket, { type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'f' });
    send(socket, { type: 'REGISTERED', agentId: 'a1', pingIntervalMs: 60_000, epoch: 4 });
  });
  const events: string[] = [];
  const registered: string[] = [];
  const warnings: string[] = [];
  const link = new MasterLink({
    master: master.address,
    backoffFactorMs: 50,
    registration: () => ({ type: 'REGISTER', agentInfo: { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true } }),
    onRegistered: (event) => registered.push(event.agentId),
    onEvent: (event) => events.push(event.type),
    onDisconnected: () => {},
    logger: recordingLogger(warnings),
  });
  try {
    link.start();
    await waitFor(() => registered.length === 1, { message: 'registered' });
    assert.equal(events, []);
    assert.is(warnings.filter((line) => /before registration/.test(line)).length, 3, warnings.join('\n'));
    assert.is(link.epoch, 4);
  } finally {
    await link.close();
    await master.close();
  }
});

test('follows the leader a standby names, and obeys a SHUTDOWN that carries a current epoch', async () => {
  const leader = await fakeMaster((socket) => send(socket, { type: 'SHUTDOWN', message: 'you were removed', epoch: 7 }));
  const standby = await fakeMaster((socket) => {
    send(socket, { type: 'ERROR', code: 'ERR_NOT_LEADER', message: 'not the leader', leader: leader.address });
    socket.close(1013);
  });
  const events: string[] = [];
  const link = new MasterLink({
    master: `${standby.address},${leader.address}`,
    backoffFactorMs: 50,
    registration: () => ({ type: 'REGISTER', agentInfo: { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true } }),
    onRegistered: () => {},
    onEvent: (event) => events.push(event.type),
    onDisconnected: () => {},
    logger: recordingLogger([]),
  });
  try {
    link.start();
    await waitFor(() => events.includes('SHUTDOWN'), { timeoutMs: 5_000, message: 'the leader reached' });
  } finally {
    await link.close();
    await standby.close();
    await leader.close();
  }
});

test('refuses a registration answer from an older leader epoch and looks for the leader again', async () => {
  let connections = 0;
  const master = await fakeMaster((socket) => {
    connections += 1;
    if (connections === 1) {
      send(socket, { type: 'REGISTERED', agentId: 'a1', pingIntervalMs: 60_000, epoch: 5 });
      setTimeout(() => socket.close(1001), 50);
    } else if (connections === 2) {
      send(socket, { type: 'REREGISTERED', agentId: 'a1', pingIntervalMs: 60_000, epoch: 3 }); // a deposed leader
    } else {
      send(socket, { type: 'REREGISTERED', agentId: 'a1', pingIntervalMs: 60_000, epoch: 6 });
    }
  });
  const registered: string[] = [];
  const warnings: string[] = [];
  let link!: MasterLink;
  link = new MasterLink({
    master: master.address,
    backoffFactorMs: 50,
    registration: () => ({ type: 'REGISTER', agentInfo: { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true } }),
    onRegistered: (event) => registered.push(`${event.type} ${link.epoch}`),
    onEvent: () => {},
    onDisconnected: () => {},
    logger: recordingLogger(warnings),
  });
  try {
    link.start();
    await waitFor(() => registered.length === 2, { timeoutMs: 5_000, message: 'registered twice' });
    assert.equal(registered, ['REGISTERED 5', 'REREGISTERED 6']);
    assert.ok(warnings.some((line) => /older leader epoch/.test(line)), warnings.join('\n'));
    assert.ok(connections >= 3);
  } finally {
    await link.close();
    await master.close();
  }
});

test('once registered, ignores an event that names an older leader epoch, and acts on its own term\'s', async () => {
  const master = await fakeMaster((socket) => {
    send(socket, { type: 'REGISTERED', agentId: 'a1', pingIntervalMs: 60_000, epoch: 5 });
    setTimeout(() => {
      send(socket, { type: 'KILL_TASK', frameworkId: 'f', taskId: 'stale', epoch: 4 });
      send(socket, { type: 'KILL_TASK', frameworkId: 'f', taskId: 'current', epoch: 5 });
      send(socket, { type: 'KILL_TASK', frameworkId: 'f', taskId: 'unnamed' });
    }, 20);
  });
  const kills: string[] = [];
  const warnings: string[] = [];
  const link = new MasterLink({
    master: master.address,
    backoffFactorMs: 50,
    registration: () => ({ type: 'REGISTER', agentInfo: { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true } }),
    onRegistered: () => {},
    onEvent: (event) => {
      if (event.type === 'KILL_TASK') kills.push(event.taskId);
    },
    onDisconnected: () => {},
    logger: recordingLogger(warnings),
  });
  try {
    link.start();
    await waitFor(() => kills.length === 2, { message: 'the current and the unnamed kill' });
    assert.equal(kills, ['current', 'unnamed']);
    assert.ok(warnings.includes('event from an older leader epoch: ignored'), warnings.join('\n'));
  } finally {
    await link.close();
    await master.close();
  }
});

test.run();
