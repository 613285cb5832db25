// Mutual TLS end to end (issue 14, point 1): a real master with --ssl_require_cert and
// --ssl_ca_file, certificates made with openssl. An agent presenting its --ssl_cert_file (signed by
// the CA) registers and runs a task for `lifeline run` presenting its own; a client without a
// certificate, or with one another CA signed, is refused in the handshake, the master logs who and
// why, and it goes on serving the good agent.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, lifeline, removeDir, tempDir, waitFor, type Proc } from '../helpers.js';
import { makeCertificates, type Certificates } from './certificates.js';

interface Ctx {
  dir: string;
  procs: Proc[];
  files: Certificates;
}

const Mtls = suite<Ctx>('mutual TLS between master, agent and scheduler');

/** GET over HTTPS verifying the master against the CA; with `client`, presenting that certificate. */
function httpsGet(url: string, ca: string, client?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const tls = { ca: fs.readFileSync(ca), ...(client && { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) }) };
    https.get(url, tls, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

Mtls.before.each((context) => {
  context.dir = tempDir('ll-mtls-');
  context.procs = [];
  context.files = makeCertificates(context.dir);
});
Mtls.after.each(async (context) => {
  await Promise.all(context.procs.map((proc) => proc.stop()));
  removeDir(context.dir);
});

const client = (files: Certificates) => ({ cert: files.clientCert, key: files.clientKey });

async function startMaster(context: Ctx): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const proc = lifeline([
    'master', '--ip=127.0.0.1', `--port=${port}`, `--ssl_cert_file=${context.files.cert}`, `--ssl_key_file=${context.files.key}`,
    '--ssl_require_cert', `--ssl_ca_file=${context.files.ca}`,
  ], { env: { ...process.env, LIFELINE_LOG_LEVEL: 'info' } });
  context.procs.push(proc);
  const url = `https://127.0.0.1:${port}`;
  await waitFor(async () => (await httpsGet(`${url}/health`, context.files.ca, client(context.files))).status === 200, { timeoutMs: 10_000, message: `master /health over mutual TLS\n${proc.stderr}` });
  return { url, proc };
}

/** An agent presenting its --ssl_cert_file (signed by the CA) as its client certificate; resolves once the master lists it. */
async function startAgent(context: Ctx, master: string): Promise<Proc> {
  const agent = lifeline([
    'agent', `--master=${master}`, `--ssl_ca_file=${context.files.ca}`, `--work_dir=${path.join(context.dir, 'work')}`,
    '--ip=127.0.0.1', `--port=${await freePort()}`, '--registration_backoff_factor=100ms', '--resources=cpus:2;mem:1024;disk:1000',
    `--ssl_cert_file=${context.files.cert}`, `--ssl_key_file=${context.files.key}`,
  ]);
  context.procs.push(agent);
  await waitFor(async () => {
    const state = JSON.parse((await httpsGet(`${master}/state`, context.files.ca, client(context.files))).body) as { agents?: unknown[] };
    return (state.agents?.length ?? 0) === 1;
  }, { timeoutMs: 15_000, message: `agent registered over mutual TLS\n${agent.stderr}` });
  return agent;
}

async function runTask(context: Ctx, master: string): Promise<void> {
  const run = lifeline(['run', `--master=${master}`, `--ssl_ca_file=${context.files.ca}`, `--ssl_cert_file=${context.files.clientCert}`, `--ssl_key_file=${context.files.clientKey}`, '--command=true', '--json']);
  context.procs.push(run);
  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /"TASK_FINISHED"/);
}

Mtls('an agent and lifeline run with certificates the CA signed register and run a task', async (context) => {
  const { url } = await startMaster(context);
  await startAgent(context, url);
  await runTask(context, url);
});

Mtls('a client without a certificate is refused, logged with its address and reason; the master serves the good agent on', async (context) => {
  const { url, proc: master } = await startMaster(context);
  await startAgent(context, url);
  let refused: Error | undefined;
  await httpsGet(`${url}/health`, context.files.ca).catch((error: Error) => (refused = error));
  assert.ok(refused, 'an HTTPS request without a client certificate gets no answer');
  const run = lifeline(['run', `--master=${url}`, `--ssl_ca_file=${context.files.ca}`, '--command=true', '--json']);
  context.procs.push(run);
  const line = await master.waitForOutput(/^.*TLS client refused.*$/m, { timeoutMs: 15_000, stream: 'stderr' });
  assert.match(line[0], /127\.0\.0\.1:\d+/, master.stderr);
  assert.match(line[0], /"code":"NO_CLIENT_CERTIFICATE"/);
  await run.stop();
  assert.not.match(run.stdout, /TASK_/);
  await runTask(context, url);
});

Mtls('a client certificate another CA signed is refused', async (context) => {
  const { url, proc: master } = await startMaster(context);
  let refused: Error | undefined;
  await httpsGet(`${url}/health`, context.files.ca, { cert: context.files.strangerCert, key: context.files.strangerKey }).catch((error: Error) => (refused = error));
  assert.ok(refused, 'an HTTPS request with a stranger certificate gets no answer');
  const line = await master.waitForOutput(/^.*TLS client refused.*$/m, { timeoutMs: 15_000, stream: 'stderr' });
  assert.match(line[0], /127\.0\.0\.1:\d+/, master.stderr);
  assert.match(line[0], /"code":"UNABLE_TO_VERIFY_LEAF_SIGNATURE".*not signed by --ssl_ca_file/);
  await waitFor(async () => (await httpsGet(`${url}/health`, context.files.ca, client(context.files))).status === 200, { message: 'still serving' });
});

Mtls.run();
