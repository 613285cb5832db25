import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry, Counter } from 'prom-client';
import { AgentHttpServer, healthOf } from '../../src/agent/http.js';
import { getJson } from '../helpers.js';

const test = suite('agent HTTP endpoint');
let server: AgentHttpServer | undefined;

test.after.each(async () => {
  await server?.close();
  server = undefined;
});

async function start(status: string, body?: unknown) {
  const registry = new Registry();
  new Counter({ name: 'lifeline_test_total', help: 'a test counter', registers: [registry] }).inc(3);
  server = new AgentHttpServer({ ip: '127.0.0.1', port: 0, registry, state: () => ({ status, body }) });
  const { port } = await server.listen();
  return `http://127.0.0.1:${port}`;
}

test('answers /state and /health with 503 while the agent is recovering', async () => {
  const base = await start('RECOVERING');
  const state = await getJson(`${base}/state`);
  assert.is(state.status, 503);
  assert.equal(state.body, { status: 'RECOVERING', error: 'the agent is RECOVERING' });
  assert.equal(await getJson(`${base}/health`), { status: 503, body: { status: 'recovering' } });
});

test('/health is a readiness probe: 200 ok only while RUNNING, 503 naming the state otherwise', async () => {
  for (const [status, code, body] of [
    ['RUNNING', 200, 'ok'],
    ['DISCONNECTED', 503, 'disconnected'],
    ['TERMINATING', 503, 'terminating'],
  ] as const) {
    const base = await start(status, status === 'RUNNING' ? { id: 'a1' } : undefined);
    assert.equal(await getJson(`${base}/health`), { status: code, body: { status: body } }, status);
    await server!.close();
  }
});

test('/health takes a health source that can say degraded (a disk that stopped taking the checkpoint)', async () => {
  const registry = new Registry();
  server = new AgentHttpServer({ ip: '127.0.0.1', port: 0, registry, state: () => ({ status: 'RUNNING', body: {} }), diskHealth: () => ({ status: 'degraded' }) });
  const { port } = await server.listen();
  assert.equal(await getJson(`http://127.0.0.1:${port}/health`), { status: 503, body: { status: 'degraded' } });
  assert.equal(healthOf('RUNNING'), { status: 'ok', ready: true });
});

test('answers /state with the state once there is one, /metrics from its own registry, 404 otherwise', async () => {
  const base = await start('RUNNING', { id: 'a1', status: 'RUNNING', frameworks: [] });
  assert.equal(await getJson(`${base}/state`), { status: 200, body: { id: 'a1', status: 'RUNNING', frameworks: [] } });
  const metrics = await fetch(`${base}/metrics`);
  assert.is(metrics.status, 200);
  assert.match(await metrics.text(), /lifeline_test_total 3/);
  assert.is((await getJson(`${base}/nope`)).status, 404);
  assert.is((await fetch(`${base}/state`, { method: 'POST' })).status, 405);
});

test('names --port when it cannot listen', async () => {
  const base = await start('RUNNING', {});
  const port = Number(new URL(base).port);
  const other = new AgentHttpServer({ ip: '127.0.0.1', port, registry: new Registry(), state: () => ({ status: 'RUNNING' }) });
  try {
    await other.listen();
    assert.unreachable('listened on a port in use');
  } catch (error) {
    assert.match((error as Error).message, /EADDRINUSE.*--port/);
  }
});

test.run();
