// `lifeline agents` (cli/agents.ts): main() against a stand-in master serving a canned /state: the
// table (TASKS counts an agent's live tasks only, what the master does not know shown as -),
// --json, no agents, a master that fails (exit 1, one line) and the usage errors (a FlagError; as
// the built CLI: exit 2).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/agents.js';
import { FlagError } from '../../src/protocol/index.js';
import { freePort, lifeline, type Proc } from '../helpers.js';
import { capture, cells, cleanEnv, StandIn, type Answer, type Captured } from './stand-in.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function task(id: string, state: string, agentId: string) {
  return { id, state, agentId, executorId: id, statuses: [] };
}

/**
 * a-1: two live tasks (one in each live framework) and two ended ones; a-2: an older agent that
 * said neither its address nor its release; a-3: no task at all.
 */
function canned(now: number) {
  return {
    agents: [
      { id: 'a-1', hostname: 'h1', status: 'ACTIVE', address: '10.0.0.1:5051', lastSeen: now - 10 * MINUTE, release: '0.2.0', protocol: 2 },
      { id: 'a-2', hostname: 'h2', status: 'DISCONNECTED', address: null, lastSeen: now - 3 * HOUR },
      { id: 'a-3', hostname: 'h3', status: 'ACTIVE', address: '10.0.0.3:5051', lastSeen: null, release: '0.1.0', protocol: 1 },
    ],
    frameworks: [
      { id: 'f-1', name: 'web', status: 'ACTIVE', checkpoint: true, tasks: [task('t-1', 'TASK_RUNNING', 'a-1'), task('t-2', 'TASK_KILLED', 'a-1'), task('t-3', 'TASK_STAGING', 'a-2')] },
      { id: 'f-2', name: 'cron', status: 'ACTIVE', checkpoint: true, tasks: [task('t-4', 'TASK_STARTING', 'a-1'), task('t-5', 'TASK_LOST', 'a-2')] },
    ],
    completedFrameworks: [{ id: 'f-0', name: 'old', status: 'COMPLETED', checkpoint: false, tasks: [task('t-0', 'TASK_FINISHED', 'a-1')] }],
  };
}

interface Ctx {
  master: StandIn | undefined;
  procs: Proc[];
}

const Agents = suite<Ctx>('cli/agents');

Agents.before.each((ctx) => {
  ctx.master = undefined;
  ctx.procs = [];
});
Agents.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.master?.close();
});

async function serve(ctx: Ctx, answer: Answer): Promise<string> {
  ctx.master = await StandIn.start((request) => (request.url.pathname === '/state' ? answer : { status: 404, json: { error: 'no such path' } }));
  return ctx.master.address;
}

function agents(args: string[]): Promise<Captured> {
  return capture(() => main(args));
}

Agents('prints every agent as an aligned table, counting its live tasks only', async (ctx) => {
  const master = await serve(ctx, { json: canned(Date.now()) });
  const out = await agents([`--master=${master}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stderr, '');
  assert.equal(cells(out.stdout), [
    ['ID', 'HOSTNAME', 'ADDRESS', 'STATUS', 'TASKS', 'LAST SEEN', 'VERSION'],
    ['a-1', 'h1', '10.0.0.1:5051', 'ACTIVE', '2', '10m ago', '0.2.0'],
    ['a-2', 'h2', '-', 'DISCONNECTED', '1', '3h ago', '-'],
    ['a-3', 'h3', '10.0.0.3:5051', 'ACTIVE', '0', '-', '0.1.0'],
  ]);
});

Agents('prints a JSON array with --json: the release as version, null for what the master does not know', async (ctx) => {
  const now = Date.now();
  const master = await serve(ctx, { json: canned(now) });
  const out = await agents([`--master=${master}`, '--json']);
  assert.is(out.code, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout), [
    { id: 'a-1', hostname: 'h1', address: '10.0.0.1:5051', status: 'ACTIVE', version: '0.2.0', lastSeen: now - 10 * MINUTE, tasks: 2 },
    { id: 'a-2', hostname: 'h2', address: null, status: 'DISCONNECTED', version: null, lastSeen: now - 3 * HOUR, tasks: 1 },
    { id: 'a-3', hostname: 'h3', address: '10.0.0.3:5051', status: 'ACTIVE', version: '0.1.0', lastSeen: null, tasks: 0 },
  ]);
});

Agents('says so when the master knows no agent, and prints [] with --json', async (ctx) => {
  const master = await serve(ctx, { json: { agents: [], frameworks: [] } });
  const out = await agents([`--master=${master}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, `no agents on the master at ${master}\n`);
  const json = await agents([`--master=${master}`, '--json']);
  assert.is(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout), []);
});

Agents('returns 1 with one line carrying the master\'s error when it answers one', async (ctx) => {
  const master = await serve(ctx, { status: 500, json: { error: 'registry unreadable' } });
  const out = await agents([`--master=${master}`]);
  assert.is(out.code, 1);
  assert.is(out.stdout, '');
  assert.is(out.stderr, `lifeline agents: the master at ${master} answered HTTP 500: registry unreadable\n`);
});

Agents('returns 1 with one line when nothing listens at --master', async () => {
  const port = await freePort();
  const out = await agents([`--master=127.0.0.1:${port}`]);
  assert.is(out.code, 1);
  assert.is(out.stderr, `lifeline agents: cannot reach the master at 127.0.0.1:${port}: connection refused\n`);
});

for (const [what, args, message] of [
  ['no --master', [], /^flag --master is required for lifeline agents$/],
  ['a --master without a port', ['--master=127.0.0.1'], /^invalid value for --master: "127\.0\.0\.1" \("127\.0\.0\.1" is not HOST:PORT; expected HOST:PORT or https:\/\/HOST:PORT\)$/],
  ['an argument', ['--master=127.0.0.1:1', 'a-1'], /^unexpected argument "a-1" for lifeline agents /],
  ['a --json=maybe', ['--master=127.0.0.1:1', '--json=maybe'], /^invalid value for --json: "maybe"/],
] as Array<[string, string[], RegExp]>) {
  Agents(`refuses ${what} with a FlagError, printing nothing`, async () => {
    const out = await agents(args);
    assert.instance(out.error, FlagError);
    assert.match((out.error as Error).message, message);
    assert.is(out.stdout + out.stderr, '');
  });
}

Agents('as the built CLI, exits 2 with one line on a usage error', async (ctx) => {
  const proc = lifeline(['agents', '--master=127.0.0.1:1', 'a-1'], { env: cleanEnv() });
  ctx.procs.push(proc);
  assert.equal(await proc.waitForExit(), { code: 2, signal: null });
  assert.match(proc.stderr, /^lifeline: unexpected argument "a-1" for lifeline agents [^\n]*\n$/);
  assert.is(proc.stdout, '');
});

Agents('--help names its flags and returns 0 without calling a master', async () => {
  const out = await agents(['--help', '--master=127.0.0.1:1']);
  assert.is(out.code, 0, String(out.error));
  assert.match(out.stdout, /^Usage: lifeline agents --master=HOST:PORT /);
  for (const flag of ['--master', '--json', '--credential', '--ssl_ca_file']) assert.match(out.stdout, `  ${flag}`);
});

Agents.run();
