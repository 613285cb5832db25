// The operator verbs (tasks, agents, state, kill, logs) against a stand-in master that demands HTTP
// Basic (issue 14): the built CLI with a --credential file, without one, with a principal that is no
// operator and with a wrong secret; over https:// with --ssl_ca_file. The secret never shows in
// what a refused run prints, and goes to the master only (never to the agent's /files).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeCertificates, type Certificates } from '../e2e/certificates.js';
import { lifeline, removeDir, tempDir, type Proc } from '../helpers.js';

/** The master's --credentials: `ops` may operate, `viewer` is known but no operator. */
const SECRETS: Record<string, string> = { ops: 'sé-cret:with a colon ✓', viewer: 'viewer-secret-42' };
const OPERATORS = new Set(['ops']);

interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
}

interface Ctx {
  dir: string;
  server: http.Server | https.Server | undefined;
  procs: Proc[];
  received: Received[];
  /** `127.0.0.1:PORT` of the stand-in (master and agent both). */
  address: string;
}

/** The master's check of an operator call, as issue 14 says: 401 (asks for Basic) or 403, JSON `{"error"}`. */
function judge(header: string | undefined): { status: number; error: string } | undefined {
  const match = header === undefined ? null : /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
  if (!match) return { status: 401, error: 'this master requires an operator credential' };
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const principal = decoded.slice(0, colon);
  if (colon === -1 || SECRETS[principal] !== decoded.slice(colon + 1)) return { status: 401, error: `authentication of principal ${principal} failed` };
  if (!OPERATORS.has(principal)) return { status: 403, error: `principal ${principal} is not an operator (--operator_principals)` };
  return undefined;
}

function state(address: string) {
  return {
    agents: [{ id: 'a-1', hostname: 'h1', status: 'ACTIVE', address, lastSeen: Date.now(), release: '0.2.0', protocol: 2 }],
    frameworks: [
      {
        id: 'f-1',
        name: 'fw',
        status: 'ACTIVE',
        checkpoint: true,
        tasks: [{ id: 't-1', state: 'TASK_RUNNING', name: 'sleepy', agentId: 'a-1', executorId: 'e-1', sandbox: '/sandboxes/t-1', statuses: [] }],
      },
    ],
    completedFrameworks: [],
  };
}

const handler = (ctx: Ctx) => (req: http.IncomingMessage, res: http.ServerResponse) => {
  ctx.received.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  const url = new URL(req.url ?? '/', 'http://stand-in');
  // The agent's /files asks for no credential.
  if (url.pathname === '/files/read') return void json(200, { data: 'hello from t-1\n', offset: Number(url.searchParams.get('offset')), bytes: 15 });
  const refused = judge(req.headers.authorization);
  if (refused) return void json(refused.status, { error: refused.error }, refused.status === 401 ? { 'www-authenticate': 'Basic realm="lifeline"' } : {});
  if (req.method === 'GET' && url.pathname === '/state') return void json(200, state(ctx.address));
  if (req.method === 'POST' && url.pathname === '/api/v1/tasks/t-1/kill') return void json(200, { taskId: 't-1', frameworkId: 'f-1', agentId: 'a-1', state: 'TASK_RUNNING', sent: true });
  json(404, { error: `no ${url.pathname}` });
};

async function listen(ctx: Ctx, server: http.Server | https.Server): Promise<string> {
  ctx.server = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ctx.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return ctx.address;
}

/** A --credential file, private (0600) unless told. */
function credentialFile(ctx: Ctx, principal: string, secret: string, mode = 0o600): string {
  const file = path.join(ctx.dir, `${principal.replace(/\W/g, '_')}-${mode.toString(8)}.json`);
  fs.writeFileSync(file, JSON.stringify({ principal, secret }), { mode });
  fs.chmodSync(file, mode);
  return file;
}

function basic(principal: string, secret: string): string {
  return `Basic ${Buffer.from(`${principal}:${secret}`, 'utf8').toString('base64')}`;
}

async function run(ctx: Ctx, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = lifeline(args);
  ctx.procs.push(proc);
  const { code } = await proc.waitForExit();
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

/** Each verb's arguments and what its success prints. */
const VERBS: Array<[string, (master: string) => string[], RegExp]> = [
  ['tasks', (master) => ['tasks', `--master=${master}`], /^ID +STATE .*\nt-1 +TASK_RUNNING +sleepy +f-1 +a-1 /],
  ['agents', (master) => ['agents', `--master=${master}`], /^ID +HOSTNAME .*\na-1 +h1 +127\.0\.0\.1:\d+ +ACTIVE +1 /],
  ['state', (master) => ['state', `--master=${master}`], /^\{\n {2}"agents": \[/],
  ['kill', (master) => ['kill', 't-1', `--master=${master}`], /^kill of task t-1 \(framework f-1\) sent to agent a-1; it was TASK_RUNNING\n$/],
  ['logs', (master) => ['logs', 't-1', `--master=${master}`], /^hello from t-1\n$/],
];

function assertNoSecret(output: { stdout: string; stderr: string }, ...secrets: string[]): void {
  for (const secret of secrets) {
    for (const shown of [secret, Buffer.from(secret, 'utf8').toString('base64')]) {
      assert.not.ok(output.stdout.includes(shown), `stdout shows the secret: ${output.stdout}`);
      assert.not.ok(output.stderr.includes(shown), `stderr shows the secret: ${output.stderr}`);
    }
  }
}

function setUp(ctx: Ctx): void {
  ctx.dir = tempDir('ll-cred-');
  ctx.server = undefined;
  ctx.procs = [];
  ctx.received = [];
  ctx.address = '';
}

async function tearDown(ctx: Ctx): Promise<void> {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  if (ctx.server) {
    ctx.server.closeAllConnections();
    await new Promise((resolve) => ctx.server!.close(resolve));
  }
  removeDir(ctx.dir);
}

const Auth = suite<Ctx>('operator verbs and a master with authentication');
Auth.before.each(setUp);
Auth.after.each(tearDown);

for (const [verb, args, success] of VERBS) {
  Auth(`${verb} with an operator's --credential succeeds and sends base64(principal:secret) as HTTP Basic`, async (ctx) => {
    const master = await listen(ctx, http.createServer(handler(ctx)));
    const out = await run(ctx, [...args(master), `--credential=${credentialFile(ctx, 'ops', SECRETS.ops!)}`]);
    assert.is(out.code, 0, out.stderr);
    assert.match(out.stdout, success);
    assert.is(out.stderr, '');
    const toMaster = ctx.received.filter((call) => !call.url.startsWith('/files/'));
    assert.ok(toMaster.length > 0);
    for (const call of toMaster) assert.is(call.authorization, basic('ops', SECRETS.ops!), `${call.method} ${call.url}`);
  });

  Auth(`${verb} without --credential exits 1 with one line: the master requires an operator credential`, async (ctx) => {
    const master = await listen(ctx, http.createServer(handler(ctx)));
    const out = await run(ctx, args(master));
    assert.is(out.code, 1, out.stderr);
    assert.is(out.stdout, '');
    assert.is(out.stderr, `lifeline ${verb}: the master at ${master} requires an operator credential: pass --credential=PATH\n`);
    assert.is(ctx.received[0]!.authorization, undefined);
  });

  Auth(`${verb} as a principal that is no operator exits 1 with one line naming it and --operator_principals, not the secret`, async (ctx) => {
    const master = await listen(ctx, http.createServer(handler(ctx)));
    const out = await run(ctx, [...args(master), `--credential=${credentialFile(ctx, 'viewer', SECRETS.viewer!)}`]);
    assert.is(out.code, 1, out.stderr);
    assert.is(out.stdout, '');
    assert.is(out.stderr, `lifeline ${verb}: principal viewer is not an operator of the master at ${master} (--operator_principals)\n`);
    assert.is(ctx.received[0]!.authorization, basic('viewer', SECRETS.viewer!));
    assertNoSecret(out, SECRETS.viewer!);
  });
}

Auth('a wrong secret exits 1 with one line naming the principal, not the secret', async (ctx) => {
  const master = await listen(ctx, http.createServer(handler(ctx)));
  const wrong = 'not-the-secret-7f3a';
  const out = await run(ctx, ['tasks', `--master=${master}`, `--credential=${credentialFile(ctx, 'ops', wrong)}`]);
  assert.is(out.code, 1, out.stderr);
  assert.is(out.stderr, `lifeline tasks: the master at ${master} refused the credential of principal ops: unknown principal or wrong secret (check --credential)\n`);
  assertNoSecret(out, wrong, `ops:${wrong}`);
});

Auth('logs sends the credential to the master only, not to the agent\'s /files', async (ctx) => {
  const master = await listen(ctx, http.createServer(handler(ctx)));
  const out = await run(ctx, ['logs', 't-1', `--master=${master}`, `--credential=${credentialFile(ctx, 'ops', SECRETS.ops!)}`]);
  assert.is(out.code, 0, out.stderr);
  const files = ctx.received.filter((call) => call.url.startsWith('/files/'));
  assert.is(files.length, 1);
  assert.is(files[0]!.authorization, undefined);
});

Auth('a --credential file others can read exits 2 with one line naming the flag, not the secret', async (ctx) => {
  const master = await listen(ctx, http.createServer(handler(ctx)));
  const file = credentialFile(ctx, 'ops', SECRETS.ops!, 0o644);
  const out = await run(ctx, ['tasks', `--master=${master}`, `--credential=${file}`]);
  assert.is(out.code, 2, out.stderr);
  assert.is(out.stderr.trim().split('\n').length, 1, out.stderr);
  assert.match(out.stderr, `--credential=${file} is readable by`);
  assertNoSecret(out, SECRETS.ops!);
  assert.is(ctx.received.length, 0);
});

Auth('a principal with a colon, which HTTP Basic cannot carry, is refused before any call', async (ctx) => {
  const master = await listen(ctx, http.createServer(handler(ctx)));
  const out = await run(ctx, ['kill', 't-1', `--master=${master}`, `--credential=${credentialFile(ctx, 'ops:admin', 'abc-secret')}`]);
  assert.is(out.code, 2, out.stderr);
  assert.match(out.stderr, /field principal: invalid value/);
  assertNoSecret(out, 'abc-secret');
  assert.is(ctx.received.length, 0);
});

Auth('https:// to a master without TLS is one line that says to write HOST:PORT', async (ctx) => {
  const master = await listen(ctx, http.createServer(handler(ctx)));
  const out = await run(ctx, ['agents', `--master=https://${master}`]);
  assert.is(out.code, 1, out.stderr);
  assert.is(out.stderr, `lifeline agents: cannot reach the master at https://${master}: TLS failed: wrong version number (does it serve HTTPS? without TLS, write HOST:PORT)\n`);
});

Auth('--help of every verb lists --credential and --ssl_ca_file', async (ctx) => {
  for (const [verb] of VERBS) {
    const out = await run(ctx, [verb, '--help']);
    assert.is(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ {2}--credential=PATH\n {6}.*HTTP Basic/m);
    assert.match(out.stdout, /^ {2}--ssl_ca_file=PATH\n {6}.*CA certificates \(PEM\)/m);
  }
});

Auth.run();

interface TlsCtx extends Ctx {
  files: Certificates;
}

const Tls = suite<TlsCtx>('operator verbs and a master serving https://');
Tls.before.each((ctx) => {
  setUp(ctx);
  ctx.files = makeCertificates(ctx.dir);
});
Tls.after.each(tearDown);

async function listenTls(ctx: TlsCtx): Promise<string> {
  const server = https.createServer({ cert: fs.readFileSync(ctx.files.cert), key: fs.readFileSync(ctx.files.key) }, handler(ctx));
  return `https://${await listen(ctx, server)}`;
}

for (const verb of ['tasks', 'state', 'kill']) {
  Tls(`${verb} reaches https://HOST:PORT, verified against --ssl_ca_file, with the credential`, async (ctx) => {
    const master = await listenTls(ctx);
    const [, args, success] = VERBS.find(([name]) => name === verb)!;
    const out = await run(ctx, [...args(master), `--ssl_ca_file=${ctx.files.ca}`, `--credential=${credentialFile(ctx, 'ops', SECRETS.ops!)}`]);
    assert.is(out.code, 0, out.stderr);
    assert.match(out.stdout, success);
    assert.is(ctx.received[0]!.authorization, basic('ops', SECRETS.ops!));
  });
}

Tls('a master whose certificate another CA signed is refused before the credential is sent, naming --ssl_ca_file', async (ctx) => {
  const master = await listenTls(ctx);
  const out = await run(ctx, ['tasks', `--master=${master}`, `--ssl_ca_file=${ctx.files.otherCa}`, `--credential=${credentialFile(ctx, 'ops', SECRETS.ops!)}`]);
  assert.is(out.code, 1, out.stderr);
  assert.is(out.stderr.trim().split('\n').length, 1, out.stderr);
  assert.match(out.stderr, `lifeline tasks: cannot reach the master at ${master}: `);
  assert.match(out.stderr, /certificate.*not signed by --ssl_ca_file/);
  assert.is(ctx.received.length, 0);
  assertNoSecret(out, SECRETS.ops!);
});

Tls('without --ssl_ca_file the system CAs do not trust the test CA: the line says to pass it', async (ctx) => {
  const master = await listenTls(ctx);
  const out = await run(ctx, ['state', `--master=${master}`]);
  assert.is(out.code, 1, out.stderr);
  assert.match(out.stderr, /pass the CA that signed its certificate with --ssl_ca_file/);
  assert.is(ctx.received.length, 0);
});

Tls('plain HOST:PORT to a master serving HTTPS is one line that asks whether it serves HTTPS', async (ctx) => {
  const master = await listenTls(ctx);
  const out = await run(ctx, ['tasks', `--master=${master.replace('https://', '')}`, `--credential=${credentialFile(ctx, 'ops', SECRETS.ops!)}`]);
  assert.is(out.code, 1, out.stderr);
  assert.match(out.stderr, /^lifeline tasks: cannot reach the master at 127\.0\.0\.1:\d+: .*\(does it serve HTTPS only\?\)\n$/);
  assertNoSecret(out, SECRETS.ops!);
});

Tls('a missing --ssl_ca_file is one line naming the flag and the path', async (ctx) => {
  const master = await listenTls(ctx);
  const missing = path.join(ctx.dir, 'no-such-ca.pem');
  const out = await run(ctx, ['agents', `--master=${master}`, `--ssl_ca_file=${missing}`]);
  assert.ok(out.code !== 0);
  assert.is(out.stderr.trim().split('\n').length, 1, out.stderr);
  assert.match(out.stderr, `--ssl_ca_file=${missing}: ENOENT`);
});

Tls.run();
