// TLS end to end (issue 14, point 1): a CA and certificates made with openssl in a temp dir; a real
// master serving HTTPS/WSS only, an agent and `lifeline run` reaching it as https://HOST:PORT and
// verifying it against --ssl_ca_file; a certificate from another CA is refused with a message
// naming the master and the reason, and plain ws:// gets nowhere.
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

const Tls = suite<Ctx>('TLS between master, agent and scheduler');

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: fs.readFileSync(ca) }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject);
  });
}

Tls.before.each((context) => {
  context.dir = tempDir('ll-tls-');
  context.procs = [];
  context.files = makeCertificates(context.dir);
});
Tls.after.each(async (context) => {
  await Promise.all(context.procs.map((proc) => proc.stop()));
  removeDir(context.dir);
});

async function startMaster(context: Ctx): Promise<string> {
  const port = await freePort();
  const master = lifeline(['master', '--ip=127.0.0.1', `--port=${port}`, `--ssl_cert_file=${context.files.cert}`, `--ssl_key_file=${context.files.key}`]);
  context.procs.push(master);
  await waitFor(async () => (await httpsStatus(`https://127.0.0.1:${port}/health`, context.files.ca)) === 200, { timeoutMs: 10_000, message: `master /health over https\n${master.stderr}` });
  return `https://127.0.0.1:${port}`;
}

Tls('runs a task over TLS: master HTTPS/WSS, agent and lifeline run verify it against --ssl_ca_file', async (context) => {
  const master = await startMaster(context);
  const agentPort = await freePort();
  const agent = lifeline([
    'agent', `--master=${master}`, `--ssl_ca_file=${context.files.ca}`, `--work_dir=${path.join(context.dir, 'work')}`,
    '--ip=127.0.0.1', `--port=${agentPort}`, '--registration_backoff_factor=100ms', '--resources=cpus:2;mem:1024;disk:1000',
    `--ssl_cert_file=${context.files.cert}`, `--ssl_key_file=${context.files.key}`,
  ]);
  context.procs.push(agent);
  await waitFor(async () => (await httpsStatus(`https://127.0.0.1:${agentPort}/health`, context.files.ca)) === 200, { timeoutMs: 15_000, message: `agent /health over https\n${agent.stderr}` });
  const run = lifeline(['run', `--master=${master}`, `--ssl_ca_file=${context.files.ca}`, '--command=true', '--json']);
  context.procs.push(run);
  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 0, `${run.stdout}\n${run.stderr}\n--- agent\n${agent.stderr.slice(-3000)}`);
  assert.match(run.stdout, /"TASK_FINISHED"/);
});

Tls('refuses a master whose certificate another CA signed, naming the master and the reason', async (context) => {
  const master = await startMaster(context);
  const run = lifeline(['run', `--master=${master}`, `--ssl_ca_file=${context.files.otherCa}`, '--command=true']);
  context.procs.push(run);
  await run.waitForOutput(/certificate/i, { timeoutMs: 15_000, stream: 'stderr' });
  assert.match(run.stderr, new RegExp(master.replace(/[.]/g, '\\.')));
  assert.match(run.stderr, /unable to get local issuer certificate|self.signed|certificate/i);
  assert.not.match(run.stdout, /TASK_/);
});

Tls('plain ws:// to a TLS master gets no connection', async (context) => {
  const master = await startMaster(context);
  const run = lifeline(['run', `--master=${master.replace('https://', '')}`, '--command=true']);
  context.procs.push(run);
  await run.waitForOutput(/retrying/, { timeoutMs: 15_000, stream: 'stderr' });
  assert.not.match(run.stdout, /TASK_/);
});

Tls.run();
