// A peer that sends the poisoned REGISTER of issue 14 (cpus 1e306) to a real master while a real
// `lifeline run` is waiting on its task: the REGISTER is refused and the run goes on untouched.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { AgentEvent, decodeFrame, encode, MAX_RESOURCE } from '../../src/protocol/index.js';
import { lifeline, withTimeout, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const Hostile = suite<{ cluster: Cluster; procs: Proc[] }>('a hostile agent against a running lifeline run');

Hostile.before.each(async (ctx) => {
  ctx.procs = [];
  ctx.cluster = await startCluster();
});
Hostile.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.cluster.stop();
});

/** Sends one REGISTER on a fresh connection and returns the first event the master answers with. */
async function register(address: string, resources: { cpus: number; mem: number; disk: number }, hostname: string) {
  const ws = new WebSocket(`ws://${address}/api/v1/agent`);
  ws.on('error', () => {});
  try {
    return await withTimeout(
      new Promise<ReturnType<typeof decodeFrame<typeof AgentEvent>>>((resolve, reject) => {
        ws.once('open', () => ws.send(encode({ type: 'REGISTER', agentInfo: { hostname, resources, checkpoint: true } })));
        ws.once('message', (data: Buffer) => resolve(decodeFrame(AgentEvent, data)));
        ws.once('close', () => reject(new Error('closed before any event')));
      }),
      5_000,
      'the master answering REGISTER',
    );
  } finally {
    ws.terminate();
  }
}

Hostile('refuses REGISTER with cpus 1e306, and the running task finishes with exit 0', async (ctx) => {
  const run = lifeline(['run', `--master=${ctx.cluster.masterAddress}`, '--command=sleep 2', '--name=victim', '--json']);
  ctx.procs.push(run);
  await run.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });

  const poisoned = await register(ctx.cluster.masterAddress, { cpus: 1e306, mem: 1, disk: 1 }, 'evil');
  assert.is(poisoned.type, 'ERROR');
  assert.match(poisoned.type === 'ERROR' ? poisoned.message : '', /agentInfo\.resources\.cpus/);
  // An agent at the bound is accepted: its offers reach the run's driver, and they are valid.
  const big = await register(ctx.cluster.masterAddress, { cpus: MAX_RESOURCE, mem: MAX_RESOURCE, disk: MAX_RESOURCE }, 'big');
  assert.is(big.type, 'REGISTERED');

  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /"TASK_FINISHED"/);
  assert.not.match(run.stderr, /lost|malformed|invalid/i, run.stderr);
});

Hostile.run();
