// `lifeline tasks` (cli/tasks.ts): main() against a stand-in master serving a canned /state: the
// table (live frameworks first, a missing name or update shown as -), --json, no tasks, a master
// that fails (exit 1, one line) and the usage errors (a FlagError; as the built CLI: exit 2).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/tasks.js';
import { FlagError } from '../../src/protocol/index.js';
import { freePort, lifeline, type Proc } from '../helpers.js';
import { capture, cells, cleanEnv, StandIn, type Answer, type Captured } from './stand-in.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function status(state: string, timestamp: number) {
  return { state, timestamp, source: 'SOURCE_EXECUTOR', reason: null, message: null };
}

/** Two frameworks, one of them removed; a task without name, sandbox or updates. */
function canned(now: number) {
  return {
    agents: [{ id: 'a-1', hostname: 'h1', status: 'ACTIVE' }],
    frameworks: [
      {
        id: 'f-1',
        name: 'web',
        status: 'ACTIVE',
        checkpoint: true,
        tasks: [
          { id: 't-1', state: 'TASK_RUNNING', name: 'server', agentId: 'a-1', executorId: 't-1', sandbox: '/s/t-1', statuses: [status('TASK_STARTING', now - 3 * HOUR), status('TASK_RUNNING', now - 10 * MINUTE)] },
          { id: 't-2', state: 'TASK_STAGING', agentId: 'a-2', executorId: 'e-2' },
        ],
      },
    ],
    completedFrameworks: [
      {
        id: 'f-0',
        name: 'batch',
        status: 'COMPLETED',
        checkpoint: false,
        tasks: [{ id: 't-0', state: 'TASK_FINISHED', name: 'job', agentId: 'a-1', executorId: 't-0', sandbox: '/s/t-0', statuses: [status('TASK_FINISHED', now - 3 * HOUR)] }],
      },
    ],
  };
}

interface Ctx {
  master: StandIn | undefined;
  procs: Proc[];
}

const Tasks = suite<Ctx>('cli/tasks');

Tasks.before.each((ctx) => {
  ctx.master = undefined;
  ctx.procs = [];
});
Tasks.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.master?.close();
});

async function serve(ctx: Ctx, answer: Answer): Promise<string> {
  ctx.master = await StandIn.start((request) => (request.url.pathname === '/state' ? answer : { status: 404, json: { error: 'no such path' } }));
  return ctx.master.address;
}

function tasks(args: string[]): Promise<Captured> {
  return capture(() => main(args));
}

Tasks('prints every task as an aligned table, live frameworks first, - for a missing name or update', async (ctx) => {
  const master = await serve(ctx, { json: canned(Date.now()) });
  const out = await tasks([`--master=${master}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stderr, '');
  assert.equal(cells(out.stdout), [
    ['ID', 'STATE', 'NAME', 'FRAMEWORK', 'AGENT', 'UPDATED'],
    // UPDATED is the time of the task's last update.
    ['t-1', 'TASK_RUNNING', 'server', 'f-1', 'a-1', '10m ago'],
    ['t-2', 'TASK_STAGING', '-', 'f-1', 'a-2', '-'],
    ['t-0', 'TASK_FINISHED', 'job', 'f-0', 'a-1', '3h ago'],
  ]);
  // Only GET /state was asked for, once.
  assert.equal(ctx.master!.received.map((r) => `${r.method} ${r.url.pathname}`), ['GET /state']);
});

Tasks('prints a JSON array with --json: sandbox and updated null when the master has none', async (ctx) => {
  const now = Date.now();
  const master = await serve(ctx, { json: canned(now) });
  const out = await tasks([`--master=${master}`, '--json']);
  assert.is(out.code, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout), [
    { id: 't-1', state: 'TASK_RUNNING', name: 'server', frameworkId: 'f-1', frameworkName: 'web', agentId: 'a-1', executorId: 't-1', sandbox: '/s/t-1', updated: now - 10 * MINUTE },
    { id: 't-2', state: 'TASK_STAGING', name: '', frameworkId: 'f-1', frameworkName: 'web', agentId: 'a-2', executorId: 'e-2', sandbox: null, updated: null },
    { id: 't-0', state: 'TASK_FINISHED', name: 'job', frameworkId: 'f-0', frameworkName: 'batch', agentId: 'a-1', executorId: 't-0', sandbox: '/s/t-0', updated: now - 3 * HOUR },
  ]);
});

Tasks('says so when the master knows no task, and prints [] with --json', async (ctx) => {
  const master = await serve(ctx, { json: { agents: [], frameworks: [{ id: 'f-1', name: 'idle', status: 'ACTIVE', checkpoint: true, tasks: [] }] } });
  const out = await tasks([`--master=${master}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, `no tasks on the master at ${master}\n`);
  const json = await tasks([`--master=${master}`, '--json']);
  assert.is(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout), []);
});

Tasks('returns 1 with one line carrying the master\'s error when it answers one', async (ctx) => {
  const master = await serve(ctx, { status: 503, json: { error: 'not the leader' } });
  const out = await tasks([`--master=${master}`]);
  assert.is(out.code, 1);
  assert.is(out.stdout, '');
  assert.is(out.stderr, `lifeline tasks: the master at ${master} answered HTTP 503: not the leader\n`);
});

Tasks('returns 1 with one line when the master answers something that is not JSON', async (ctx) => {
  const master = await serve(ctx, { text: '<html>proxy error</html>' });
  const out = await tasks([`--master=${master}`]);
  assert.is(out.code, 1);
  assert.is(out.stderr, `lifeline tasks: the master at ${master} answered HTTP 200 with something that is not JSON\n`);
});

Tasks('returns 1 with one line when nothing listens at --master', async () => {
  const port = await freePort();
  const out = await tasks([`--master=127.0.0.1:${port}`]);
  assert.is(out.code, 1);
  assert.is(out.stderr, `lifeline tasks: cannot reach the master at 127.0.0.1:${port}: connection refused\n`);
});

for (const [what, args, message] of [
  ['no --master', [], /^flag --master is required for lifeline tasks$/],
  ['a --master that is not HOST:PORT', ['--master=localhost'], /^invalid value for --master: "localhost" \("localhost" is not HOST:PORT; expected HOST:PORT or https:\/\/HOST:PORT\)$/],
  ['an argument', ['--master=127.0.0.1:1', 't-1'], /^unexpected argument "t-1" for lifeline tasks /],
  ['an unknown flag', ['--master=127.0.0.1:1', '--all'], /^unknown flag --all for lifeline tasks/],
] as Array<[string, string[], RegExp]>) {
  Tasks(`refuses ${what} with a FlagError, printing nothing`, async () => {
    const out = await tasks(args);
    assert.instance(out.error, FlagError);
    assert.match((out.error as Error).message, message);
    assert.is(out.stdout + out.stderr, '');
  });
}

Tasks('as the built CLI, exits 2 with one line on a usage error', async (ctx) => {
  const proc = lifeline(['tasks', '--master=localhost'], { env: cleanEnv() });
  ctx.procs.push(proc);
  assert.equal(await proc.waitForExit(), { code: 2, signal: null });
  assert.is(proc.stderr, 'lifeline: invalid value for --master: "localhost" ("localhost" is not HOST:PORT; expected HOST:PORT or https://HOST:PORT)\n');
  assert.is(proc.stdout, '');
});

Tasks('--help names its flags and returns 0 without calling a master', async () => {
  const out = await tasks(['--help', '--master=127.0.0.1:1']);
  assert.is(out.code, 0, String(out.error));
  assert.match(out.stdout, /^Usage: lifeline tasks --master=HOST:PORT /);
  for (const flag of ['--master', '--json', '--credential', '--ssl_ca_file']) assert.match(out.stdout, `  ${flag}`);
});

Tasks.run();
