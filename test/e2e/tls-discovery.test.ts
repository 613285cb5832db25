// TLS through etcd discovery (issue 14, point 1): masters serving HTTPS/WSS campaign in a real etcd
// as https://HOST:PORT, so an agent and `lifeline run` given a plain --master=etcd://… reach the
// leader over TLS, verified against --ssl_ca_file; a standby names the leader the same way.
// Skips (one line) without etcd on the PATH, fails so under CI=true.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, lifeline, removeDir, tempDir, waitFor, type Proc } from '../helpers.js';
import { requireEtcd, startEtcd, type EtcdServer } from '../../harness/lib/etcd.js';
import { makeCertificates, type Certificates } from './certificates.js';

interface Ctx {
  dir: string;
  etcd: EtcdServer;
  procs: Proc[];
  files: Certificates;
}

const Discovery = suite<Ctx>('TLS masters found through etcd');
const RUN = requireEtcd('test/e2e/tls-discovery.test.ts');

Discovery.before.each(async (ctx) => {
  ctx.dir = tempDir('ll-tls-etcd-');
  ctx.procs = [];
  ctx.files = makeCertificates(ctx.dir);
  if (RUN) ctx.etcd = await startEtcd();
});
Discovery.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.etcd?.stop();
  removeDir(ctx.dir);
});

function httpsJson(url: string, ca: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: fs.readFileSync(ca) }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }));
    }).on('error', reject);
  });
}

async function startTlsMaster(ctx: Ctx, registry: string): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const proc = lifeline(['master', '--ip=127.0.0.1', `--port=${port}`, `--registry=${registry}`, '--leader_lease_ttl=2secs', `--ssl_cert_file=${ctx.files.cert}`, `--ssl_key_file=${ctx.files.key}`]);
  ctx.procs.push(proc);
  await waitFor(async () => (await httpsJson(`https://127.0.0.1:${port}/health`, ctx.files.ca).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 15_000, message: `TLS master /health\n${proc.stderr}` });
  return { port, proc };
}

Discovery('an agent and lifeline run given etcd:// reach the TLS leader over wss; a standby names it https://', async (ctx) => {
  if (!RUN) return;
  const registry = `etcd://${ctx.etcd.endpoint}/lifeline-tls`;
  const first = await startTlsMaster(ctx, registry);
  await waitFor(async () => (await httpsJson(`https://127.0.0.1:${first.port}/state`, ctx.files.ca)).body.leading === true, { timeoutMs: 15_000, message: 'the first master leads' });
  const second = await startTlsMaster(ctx, registry);
  const standby = await waitFor(async () => {
    const state = await httpsJson(`https://127.0.0.1:${second.port}/state`, ctx.files.ca);
    return state.body.leader ? state : undefined;
  }, { timeoutMs: 15_000, message: 'the standby names a leader' });
  assert.is(standby.body.leading, false);
  assert.is(standby.body.leader, `https://127.0.0.1:${first.port}`);

  const work = path.join(ctx.dir, 'work');
  const agent = lifeline([
    'agent', `--master=${registry}`, `--ssl_ca_file=${ctx.files.ca}`, `--work_dir=${work}`, `--runtime_dir=${path.join(work, 'rt')}`,
    '--ip=127.0.0.1', `--port=${await freePort()}`, '--registration_backoff_factor=100ms', '--resources=cpus:2;mem:1024;disk:1000',
  ]);
  ctx.procs.push(agent);
  await waitFor(async () => ((await httpsJson(`https://127.0.0.1:${first.port}/state`, ctx.files.ca)).body.agents as unknown[]).length === 1, {
    timeoutMs: 20_000,
    message: `the agent registered with the TLS leader\n${agent.stderr.slice(-2000)}`,
  });
  const run = lifeline(['run', `--master=${registry}`, `--ssl_ca_file=${ctx.files.ca}`, '--command=true', '--json']);
  ctx.procs.push(run);
  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /"TASK_FINISHED"/);
  // Neither ever tried plain ws:// against the TLS port.
  assert.not.match(first.proc.stderr, /TLS handshake failed/);
});

Discovery.run();
