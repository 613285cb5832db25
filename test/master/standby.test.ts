// StandbyRefusals on a real HTTP server and real WebSocket clients: every API connection to a
// master that does not lead gets one ERROR ERR_NOT_LEADER naming the leader (when one is known),
// then a 1013 close ("try again later").
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import WebSocket from 'ws';
import { silentLogger } from '../../src/log.js';
import { StandbyRefusals } from '../../src/master/standby.js';
import { decodeFrame, ErrorEvent } from '../../src/protocol/index.js';
import { withTimeout } from '../helpers.js';

interface Ctx {
  server: http.Server;
  standby: StandbyRefusals;
  url: string;
  leader: string | undefined;
  clients: WebSocket[];
}

const Standby = suite<Ctx>('master/standby: StandbyRefusals');

Standby.before.each(async (ctx) => {
  ctx.leader = undefined;
  ctx.clients = [];
  ctx.standby = new StandbyRefusals(() => ctx.leader, silentLogger);
  ctx.server = http.createServer((_request, response) => response.writeHead(404).end());
  ctx.server.on('upgrade', (request, socket, head) => ctx.standby.refuse(request, socket, head));
  await new Promise<void>((resolve) => ctx.server.listen(0, '127.0.0.1', resolve));
  ctx.url = `ws://127.0.0.1:${(ctx.server.address() as AddressInfo).port}`;
});
Standby.after.each(async (ctx) => {
  for (const client of ctx.clients) client.terminate();
  ctx.standby.close();
  await new Promise<void>((resolve) => ctx.server.close(() => resolve()));
});

/** Connects and collects every frame until the standby closes the connection. */
async function refused(ctx: Ctx, path: string): Promise<{ frames: Array<v.InferOutput<typeof ErrorEvent>>; code: number; reason: string }> {
  const ws = new WebSocket(`${ctx.url}${path}`);
  ctx.clients.push(ws);
  const received: Array<{ data: Buffer; isBinary: boolean }> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
  const { code, reason } = await withTimeout(
    new Promise<{ code: number; reason: string }>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('close', (closeCode, closeReason) => resolve({ code: closeCode, reason: closeReason.toString() }));
    }),
    5_000,
    'the standby closing the connection',
  );
  assert.ok(received.every((frame) => frame.isBinary), 'the refusal is a binary msgpack frame');
  return { frames: received.map((frame) => decodeFrame(ErrorEvent, frame.data)), code, reason };
}

Standby('names the leader in ERROR ERR_NOT_LEADER, then closes with 1013', async (ctx) => {
  ctx.leader = '10.0.0.7:5050';
  for (const path of ['/api/v1/agent', '/api/v1/scheduler']) {
    const { frames, code, reason } = await refused(ctx, path);
    assert.equal(frames, [{ type: 'ERROR', code: 'ERR_NOT_LEADER', message: 'this master is not the leader; the leader is 10.0.0.7:5050', leader: '10.0.0.7:5050' }], path);
    assert.equal([code, reason], [1013, 'not the leader'], path);
  }
});

Standby('with no leader known, says to try again and names none', async (ctx) => {
  const { frames, code } = await refused(ctx, '/api/v1/agent');
  assert.is(frames.length, 1);
  assert.equal(frames[0], { type: 'ERROR', code: 'ERR_NOT_LEADER', message: 'this master is not the leader, and no master leads right now; try again' });
  assert.not.ok('leader' in frames[0]!);
  assert.is(code, 1013);
});

Standby('asks who leads at each connection, not once', async (ctx) => {
  ctx.leader = 'first:5050';
  assert.is((await refused(ctx, '/api/v1/agent')).frames[0]!.leader, 'first:5050');
  ctx.leader = 'second:5050';
  assert.is((await refused(ctx, '/api/v1/agent')).frames[0]!.leader, 'second:5050');
});

Standby.run();
