// Browser safety against a real master: a WebSocket upgrade from a foreign web page is refused
// with 403 before any frame, the master's own origin and clients without Origin are served, and
// no HTTP answer carries a permissive CORS header.
import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { encode } from '../../src/protocol/index.js';
import { withTimeout } from '../helpers.js';
import { Harness } from './harness.js';

const Origin = suite<{ h: Harness }>('Master: WebSocket upgrades from web pages');

Origin.before.each(async (context) => {
  context.h = await new Harness().start();
});
Origin.after.each(async ({ h }) => {
  await h.stop();
});

/** Opens a real ws client with these options: 'open', or the HTTP status it was refused with. */
function attempt(url: string, options: { origin?: string; headers?: Record<string, string> }): Promise<{ open: true; ws: WebSocket } | { open: false; status: number; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.on('error', () => {});
      ws.once('open', () => resolve({ open: true, ws }));
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ open: false, status: response.statusCode ?? 0, body }));
      });
      ws.once('close', () => reject(new Error('closed without an answer')));
    }),
    5_000,
    `an answer to the upgrade of ${url}`,
  );
}

Origin('refuses a foreign Origin with 403 on both endpoints, and the cluster serves everyone else', async ({ h }) => {
  for (const path of ['/api/v1/scheduler', '/api/v1/agent']) {
    const result = await attempt(`ws://127.0.0.1:${h.port}${path}`, { origin: 'http://evil.example' });
    assert.ok(!result.open, `${path} accepted a foreign origin`);
    if (!result.open) {
      assert.is(result.status, 403);
      assert.match(result.body, /Origin http:\/\/evil\.example is not this server's own/);
    }
  }
  // A DNS-rebinding page: same origin as its Host, but under the attacker's name.
  const rebound = await attempt(`ws://127.0.0.1:${h.port}/api/v1/scheduler`, { origin: `http://rebind.evil.example:${h.port}`, headers: { Host: `rebind.evil.example:${h.port}` } });
  assert.ok(!rebound.open && rebound.status === 403, JSON.stringify(rebound));

  await h.scheduler({ name: 'still-served' });
  await h.agent();
  const state = await h.state();
  assert.is(state.frameworks.length, 1);
  assert.is(state.agents.length, 1);
});

Origin("accepts the master's own origin (a page the master itself serves)", async ({ h }) => {
  const result = await attempt(`ws://127.0.0.1:${h.port}/api/v1/scheduler`, { origin: `http://127.0.0.1:${h.port}` });
  assert.ok(result.open);
  if (result.open) {
    const subscribed = await withTimeout(
      new Promise<Buffer>((resolve) => {
        result.ws.once('message', (data: Buffer) => resolve(data));
        result.ws.send(encode({ type: 'SUBSCRIBE', frameworkInfo: { name: 'same-origin' } }));
      }),
      5_000,
      'SUBSCRIBED',
    );
    assert.ok(subscribed.length > 0);
    result.ws.terminate();
  }
});

Origin('answers /state, /health and an OPTIONS preflight without any Access-Control-Allow-* header', async ({ h }) => {
  for (const method of ['GET', 'OPTIONS']) {
    for (const path of ['/state', '/health', '/metrics']) {
      const headers = await withTimeout(
        new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
          const request = http.request({ host: '127.0.0.1', port: h.port, path, method, headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' } }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.headers));
          });
          request.on('error', reject);
          request.end();
        }),
        5_000,
        `${method} ${path}`,
      );
      const cors = Object.keys(headers).filter((name) => name.startsWith('access-control-'));
      assert.equal(cors, [], `${method} ${path} answered ${cors.join(', ')}`);
    }
  }
});

Origin.run();
