// `lifeline state`: the built CLI against a stand-in HTTP server (flags, pretty JSON, errors).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, lifeline, Proc } from '../helpers.js';

interface Ctx {
  server: http.Server | undefined;
  procs: Proc[];
}

const State = suite<Ctx>('lifeline state');

State.before.each((ctx) => {
  ctx.server = undefined;
  ctx.procs = [];
});
State.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  if (ctx.server) {
    ctx.server.closeAllConnections();
    await new Promise((resolve) => ctx.server!.close(resolve));
  }
});

async function serve(ctx: Ctx, status: number, body: string): Promise<string> {
  ctx.server = http.createServer((req, res) => {
    if (req.url !== '/state') return void res.writeHead(404).end();
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => ctx.server!.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(ctx.server.address() as AddressInfo).port}`;
}

function state(ctx: Ctx, args: string[]): Proc {
  const proc = lifeline(['state', ...args]);
  ctx.procs.push(proc);
  return proc;
}

const STATE = { agents: [{ id: 'a-1', hostname: 'h', checkpoint: true, status: 'ACTIVE' }], frameworks: [], completedFrameworks: [] };

State('prints /state of a master as pretty JSON', async (ctx) => {
  const address = await serve(ctx, 200, JSON.stringify(STATE));
  const proc = state(ctx, [`--master=${address}`]);
  const exit = await proc.waitForExit();
  assert.is(exit.code, 0, proc.stderr);
  assert.is(proc.stdout, `${JSON.stringify(STATE, null, 2)}\n`);
});

State('prints /state of an agent as pretty JSON', async (ctx) => {
  const agentState = { id: 'a-1', status: 'RUNNING', frameworks: [] };
  const address = await serve(ctx, 200, JSON.stringify(agentState));
  const proc = state(ctx, [`--agent=${address}`]);
  assert.is((await proc.waitForExit()).code, 0, proc.stderr);
  assert.equal(JSON.parse(proc.stdout), agentState);
});

State('exits 1 with one line when the endpoint answers an error', async (ctx) => {
  const address = await serve(ctx, 503, JSON.stringify({ status: 'RECOVERING' }));
  const proc = state(ctx, [`--agent=${address}`]);
  assert.is((await proc.waitForExit()).code, 1);
  assert.is(proc.stderr.trim().split('\n').length, 1);
  assert.match(proc.stderr, /agent at .* answered HTTP 503/);
});

State('exits 1 with one line when nothing listens', async (ctx) => {
  const port = await freePort();
  const proc = state(ctx, [`--master=127.0.0.1:${port}`]);
  assert.is((await proc.waitForExit()).code, 1);
  assert.is(proc.stderr.trim().split('\n').length, 1, proc.stderr);
  assert.match(proc.stderr, new RegExp(`cannot reach master at 127.0.0.1:${port}`));
  assert.is(proc.stdout, '');
});

const usage: Array<[string, string[], RegExp]> = [
  ['neither flag', [], /--master or --agent is required/],
  ['both flags', ['--master=127.0.0.1:1', '--agent=127.0.0.1:2'], /--master and --agent cannot be given together/],
  ['a bad address', ['--agent=127.0.0.1'], /--agent.*"127.0.0.1"/],
];
for (const [what, args, pattern] of usage) {
  State(`exits 2 with one line on ${what}`, async (ctx) => {
    const proc = state(ctx, args);
    assert.is((await proc.waitForExit()).code, 2);
    assert.is(proc.stderr.trim().split('\n').length, 1, proc.stderr);
    assert.match(proc.stderr, pattern);
  });
}

State.run();
