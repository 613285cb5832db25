// Authentication and authorization end to end (issue 14, points 2, 3 and 8): a real master with
// --credentials and both --authenticate_* on, a real agent and `lifeline run` with their
// --credential, and hand-driven peers on real WebSockets for what a hostile client tries: a wrong
// secret, a replayed response, no credential at all, another principal's framework ID or agent
// ID, a forged STATUS_UPDATE. Each is refused with an ERROR naming the code, the master logs the
// principal, and the real agent and framework go on untouched.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { decode, encode, firstFrameVersion } from '../../src/protocol/index.js';
import { respond, Secret } from '../../src/session/authentication.js';
import { freePort, getJson, lifeline, removeDir, tempDir, waitFor, withTimeout, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const SECRETS = { 'agent-a': 'agent-a-secret-1f9e', 'agent-b': 'agent-b-secret-77c2', 'fw-a': 'fw-a-secret-03bd', 'fw-b': 'fw-b-secret-d41a', ops: 'ops-secret-9a0e' } as const;
type Principal = keyof typeof SECRETS;

interface Ctx {
  dir: string;
  cluster: Cluster;
  procs: Proc[];
}

const Auth = suite<Ctx>('authentication and authorization on the master');

/** A credential file of mode 0600 for `principal` (with `secret`, default its own). */
function credentialFile(dir: string, principal: string, secret: string = SECRETS[principal as Principal]): string {
  const file = path.join(dir, `${principal}-${secret.length}-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify({ principal, secret }), { mode: 0o600 });
  return file;
}

Auth.before.each(async (ctx) => {
  ctx.dir = tempDir('ll-auth-');
  ctx.procs = [];
  const credentials = path.join(ctx.dir, 'credentials.json');
  fs.writeFileSync(credentials, JSON.stringify({ credentials: Object.entries(SECRETS).map(([principal, secret]) => ({ principal, secret })) }), { mode: 0o600 });
  ctx.cluster = await startCluster({
    masterFlags: [`--credentials=${credentials}`, '--authenticate_agents', '--authenticate_frameworks', '--operator_principals=ops', `--work_dir=${path.join(ctx.dir, 'master')}`],
    agentFlags: [`--credential=${credentialFile(ctx.dir, 'agent-a')}`],
  });
});
Auth.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.cluster.stop();
  removeDir(ctx.dir);
});

type Frame = { type: string; [key: string]: unknown };

/** One hand-driven connection: frames in order as they come, and how it closed. */
class Peer {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly #opened: Promise<void>;

  constructor(address: string, endpoint: 'agent' | 'scheduler') {
    this.ws = new WebSocket(`ws://${address}/api/v1/${endpoint}`);
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => this.frames.push(decode(data) as Frame));
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.#opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error('closed before it opened')));
    });
  }

  async send(frame: object | Uint8Array): Promise<void> {
    await this.#opened;
    this.ws.send(frame instanceof Uint8Array ? frame : encode(frame));
  }

  /** The next frame of `type` (skipping HEARTBEAT and PING). */
  async next(type: string | RegExp): Promise<Frame> {
    const match = (frame: Frame) => (typeof type === 'string' ? frame.type === type : type.test(frame.type));
    return waitFor(() => this.frames.find(match), { timeoutMs: 10_000, message: `a ${type} frame (got ${this.frames.map((f) => f.type).join(', ') || 'none'}; closed ${JSON.stringify(this.closed)})` });
  }

  async whenClosed(): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, { timeoutMs: 10_000, message: 'the master closing the connection' });
  }

  /** AUTHENTICATE, then the challenge answered as `principal` with `secret`. */
  async authenticate(principal: string, link: 'agent' | 'scheduler', secret: string = SECRETS[principal as Principal]) {
    await this.send({ type: 'AUTHENTICATE' });
    const { challenge } = (await this.next('CHALLENGE')) as unknown as { challenge: Uint8Array };
    assert.is(challenge.length, 32);
    return respond({ principal, secret: new Secret(secret) }, link, challenge);
  }

  close(): void {
    this.ws.terminate();
  }
}

function subscribe(authentication: object | undefined, id?: string): object {
  return { type: 'SUBSCRIBE', frameworkInfo: { name: 'hand-driven', checkpoint: true, ...(id && { id }) }, ...firstFrameVersion(), ...(authentication && { authentication }) };
}

const AGENT_INFO = { hostname: 'impostor', resources: { cpus: 1, mem: 64, disk: 64 }, checkpoint: true };

async function expectRefused(peer: Peer, code: string, message: RegExp): Promise<void> {
  const error = await peer.next('ERROR');
  assert.is(error.code, code, JSON.stringify(error));
  assert.match(String(error.message), message);
  assert.is((await peer.whenClosed()).code, 1008);
}

/** A `lifeline run --json` authenticated as `principal`, waiting until its task runs; returns it and the framework ID. */
async function runningTask(ctx: Ctx, principal: Principal, command: string): Promise<{ run: Proc; frameworkId: string; taskId: string }> {
  const run = lifeline(['run', `--master=${ctx.cluster.masterAddress}`, `--credential=${credentialFile(ctx.dir, principal)}`, '--checkpoint', `--command=${command}`, '--json']);
  ctx.procs.push(run);
  await run.waitForOutput(/"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });
  const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; frameworkId?: string; status?: { taskId: string } });
  const frameworkId = lines.find((line) => line.type === 'SUBSCRIBED')!.frameworkId!;
  const taskId = lines.find((line) => line.type === 'UPDATE')!.status!.taskId;
  return { run, frameworkId, taskId };
}

async function finished(run: Proc): Promise<void> {
  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /"TASK_FINISHED"/);
}

/** The master's /state as its operator sees it. */
async function masterState(ctx: Ctx): Promise<{ agents: Array<{ id: string; status: string }>; frameworks: Array<{ id: string; tasks: Array<{ id: string; state: string }> }> }> {
  const response = await fetch(`http://${ctx.cluster.masterAddress}/state`, { headers: { authorization: `Basic ${Buffer.from(`ops:${SECRETS.ops}`).toString('base64')}` } });
  assert.is(response.status, 200);
  return (await response.json()) as never;
}

Auth('an agent and lifeline run with their credentials run a task; no secret is in any log, /state, --help or the task environment', async (ctx) => {
  const run = lifeline(['run', `--master=${ctx.cluster.masterAddress}`, `--credential=${credentialFile(ctx.dir, 'fw-a')}`, '--command=env; cat /proc/$PPID/environ | tr "\\0" "\\n"', '--json']);
  ctx.procs.push(run);
  await finished(run);
  const state = await masterState(ctx);
  assert.is(state.agents[0]?.status, 'ACTIVE');
  const help = lifeline(['master', '--help']);
  await help.waitForExit();
  const sandboxOutput = findFiles(ctx.cluster.workDir, 'stdout').map((file) => fs.readFileSync(file, 'utf8')).join('\n');
  assert.match(sandboxOutput, /LIFELINE_/, 'the task printed its environment');
  const everything = [ctx.cluster.master.stderr, ctx.cluster.master.stdout, ctx.cluster.agent.stderr, run.stdout, run.stderr, JSON.stringify(state), help.stdout, sandboxOutput].join('\n');
  for (const secret of Object.values(SECRETS)) assert.not.ok(everything.includes(secret), `secret ${secret.slice(0, 6)}… leaked`);
  assert.match(ctx.cluster.master.stderr, /"principal":"agent-a".*"agent registered"|"agent registered".*"principal":"agent-a"/);
  assert.match(ctx.cluster.master.stderr, /"principal":"fw-a"/);
});

Auth('a wrong secret, a replayed response and a missing credential are refused; the master serves everyone else', async (ctx) => {
  // A wrong secret: the response does not match this connection's challenge.
  const wrong = new Peer(ctx.cluster.masterAddress, 'scheduler');
  await wrong.send(subscribe(await wrong.authenticate('fw-a', 'scheduler', 'not-the-secret')));
  await expectRefused(wrong, 'ERR_UNAUTHENTICATED', /principal fw-a failed/);
  await ctx.cluster.master.waitForOutput(/"principal":"fw-a".*"msg":"authentication refused"/, { stream: 'stderr' });

  // A replayed response: recorded from a good connection, it answers another connection's challenge.
  const good = new Peer(ctx.cluster.masterAddress, 'scheduler');
  const recorded = encode(subscribe(await good.authenticate('fw-b', 'scheduler')));
  await good.send(recorded);
  assert.is((await good.next(/SUBSCRIBED|ERROR/)).type, 'SUBSCRIBED');
  const replay = new Peer(ctx.cluster.masterAddress, 'scheduler');
  await replay.send({ type: 'AUTHENTICATE' });
  await replay.next('CHALLENGE');
  await replay.send(recorded);
  await expectRefused(replay, 'ERR_UNAUTHENTICATED', /principal fw-b failed/);
  // Without asking for a challenge at all, the recorded frame is refused too.
  const bare = new Peer(ctx.cluster.masterAddress, 'scheduler');
  await bare.send(recorded);
  await expectRefused(bare, 'ERR_UNAUTHENTICATED', /send AUTHENTICATE first/);
  good.close();

  // No credential: lifeline run is refused with the flag named, and exits 1.
  const anonymous = lifeline(['run', `--master=${ctx.cluster.masterAddress}`, '--command=true']);
  ctx.procs.push(anonymous);
  const exit = await anonymous.waitForExit(20_000);
  assert.is(exit.code, 1);
  assert.match(anonymous.stderr, /ERR_UNAUTHENTICATED/);
  assert.match(anonymous.stderr, /--authenticate_frameworks/);
  // And an agent without one never registers.
  const agent = new Peer(ctx.cluster.masterAddress, 'agent');
  await agent.send({ type: 'REGISTER', agentInfo: AGENT_INFO, ...firstFrameVersion() });
  await expectRefused(agent, 'ERR_UNAUTHENTICATED', /--authenticate_agents/);

  // Everyone else is served: the real agent and a real framework.
  const { run } = await runningTask(ctx, 'fw-a', 'sleep 1');
  await finished(run);
  assert.is((await masterState(ctx)).agents.length, 1);
});

Auth("another principal's framework ID and agent ID are refused; the framework and the agent run on", async (ctx) => {
  const { run, frameworkId } = await runningTask(ctx, 'fw-a', 'sleep 4');

  const hijack = new Peer(ctx.cluster.masterAddress, 'scheduler');
  await hijack.send(subscribe(await hijack.authenticate('fw-b', 'scheduler'), frameworkId));
  await expectRefused(hijack, 'ERR_UNAUTHORIZED', new RegExp(`framework ${frameworkId} belongs to principal fw-a: principal fw-b cannot subscribe as it`));
  await ctx.cluster.master.waitForOutput(/"principal":"fw-b".*"msg":"refused call"/, { stream: 'stderr' });

  const agentId = (await masterState(ctx)).agents[0]!.id;
  const claim = new Peer(ctx.cluster.masterAddress, 'agent');
  const authentication = await claim.authenticate('agent-b', 'agent');
  await claim.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: agentId }, frameworks: [], executors: [], tasks: [], ...firstFrameVersion(), authentication });
  await expectRefused(claim, 'ERR_UNAUTHORIZED', new RegExp(`agent ${agentId} belongs to principal agent-a: principal agent-b cannot re-register as it`));

  await finished(run);
  const state = await masterState(ctx);
  assert.equal(state.agents.map((agent) => [agent.id, agent.status]), [[agentId, 'ACTIVE']]);
  assert.not.match(ctx.cluster.agent.stderr, /SHUTDOWN|superseded/, 'the real agent was never displaced');
});

Auth("a forged STATUS_UPDATE for another agent's task is refused and never reaches the framework", async (ctx) => {
  const { run, frameworkId, taskId } = await runningTask(ctx, 'fw-a', 'sleep 3');
  const forger = new Peer(ctx.cluster.masterAddress, 'agent');
  await forger.send({ type: 'REGISTER', agentInfo: AGENT_INFO, ...firstFrameVersion(), authentication: await forger.authenticate('agent-b', 'agent') });
  const registered = await forger.next(/REGISTERED|ERROR/);
  assert.is(registered.type, 'REGISTERED', JSON.stringify(registered));
  const ownId = String(registered.agentId);
  const realId = (await masterState(ctx)).agents.find((agent) => agent.id !== ownId)!.id;
  await forger.send({
    type: 'STATUS_UPDATE',
    frameworkId,
    status: { taskId, state: 'TASK_FAILED', uuid: '0f0f0f0f-0000-4000-8000-000000000001', timestamp: Date.now(), source: 'SOURCE_EXECUTOR', message: 'forged', agentId: ownId, executorId: taskId },
  });
  await expectRefused(forger, 'ERR_UNAUTHORIZED', new RegExp(`agent ${ownId} \\(principal agent-b\\) cannot send STATUS_UPDATE TASK_FAILED for task ${taskId} of framework ${frameworkId}: it runs on agent ${realId}`));
  await finished(run);
  assert.not.match(run.stdout, /TASK_FAILED|forged/);
});

Auth('/state and /metrics need an operator of --operator_principals; /health stays open', async (ctx) => {
  const url = `http://${ctx.cluster.masterAddress}`;
  const basic = (principal: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}` });
  const none = await fetch(`${url}/state`);
  assert.is(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="lifeline"/);
  assert.is((await fetch(`${url}/metrics`, { headers: basic('ops', 'wrong') })).status, 401);
  const framework = await fetch(`${url}/state`, { headers: basic('fw-a', SECRETS['fw-a']) });
  assert.is(framework.status, 403);
  assert.match(await framework.text(), /principal fw-a is not an operator/);
  assert.is((await fetch(`${url}/metrics`, { headers: basic('ops', SECRETS.ops) })).status, 200);
  assert.is((await getJson(`${url}/health`)).status, 200);
  await ctx.cluster.master.waitForOutput(/"code":"ERR_UNAUTHORIZED","path":"\/state","principal":"fw-a"/, { stream: 'stderr' });
});

Auth.run();

const Exposed = suite<{ dir: string }>('a master beyond loopback and its credentials file');
Exposed.before.each((ctx) => {
  ctx.dir = tempDir('ll-auth-flags-');
});
Exposed.after.each((ctx) => removeDir(ctx.dir));

Exposed('refuses to listen beyond loopback until both --authenticate_* are said, and refuses a readable --credentials', async (ctx) => {
  const exposed = lifeline(['master', '--ip=0.0.0.0', '--port=0']);
  assert.is((await exposed.waitForExit()).code, 2);
  assert.match(exposed.stderr, /beyond loopback.*--authenticate_agents and --authenticate_frameworks/);
  const readable = path.join(ctx.dir, 'credentials.json');
  fs.writeFileSync(readable, JSON.stringify({ credentials: [{ principal: 'p', secret: 'readable-secret' }] }), { mode: 0o644 });
  fs.chmodSync(readable, 0o644);
  const refused = lifeline(['master', '--port=0', `--credentials=${readable}`]);
  assert.is((await refused.waitForExit()).code, 2);
  assert.match(refused.stderr, /readable by its group and others \(mode 0644\).*chmod 600/);
  assert.not.match(refused.stderr, /readable-secret/);
  // Said explicitly, it starts beyond loopback (for the moment this test takes).
  const port = await freePort();
  const open = lifeline(['master', '--ip=0.0.0.0', `--port=${port}`, '--authenticate_agents=false', '--authenticate_frameworks=false']);
  try {
    await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/health`).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 10_000, message: `master on 0.0.0.0\n${open.stderr}` });
  } finally {
    await withTimeout(open.stop(), 5_000, 'master stop');
  }
});

Exposed.run();

/** Files named `name` under `dir`, at any depth. */
function findFiles(dir: string, name: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === name) found.push(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name));
  }
  return found;
}
