// `lifeline kill TASK_ID` (cli/kill.ts): main() against a stand-in master: the POST it sends (path,
// --framework as framework_id, a JSON body), what it prints for a kill sent and for one that waits
// for an away agent, --json, the master's refusal (exit 1), and the usage errors (a FlagError; as
// the built CLI: exit 2).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/kill.js';
import { FlagError } from '../../src/protocol/index.js';
import { freePort, lifeline, type Proc } from '../helpers.js';
import { capture, cleanEnv, StandIn, type Answer, type Captured, type Received } from './stand-in.js';

interface Ctx {
  master: StandIn | undefined;
  procs: Proc[];
}

const Kill = suite<Ctx>('cli/kill');

Kill.before.each((ctx) => {
  ctx.master = undefined;
  ctx.procs = [];
});
Kill.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.master?.close();
});

/** The master's answer to a kill it took (what master/http answers). */
function taken(request: Received, sent: boolean): Answer {
  const taskId = decodeURIComponent(/^\/api\/v1\/tasks\/([^/]+)\/kill$/.exec(request.url.pathname)![1]!);
  return { json: { taskId, frameworkId: request.url.searchParams.get('framework_id') ?? 'f-1', agentId: 'a-1', state: 'TASK_RUNNING', sent } };
}

async function serve(ctx: Ctx, route: (request: Received) => Answer): Promise<string> {
  ctx.master = await StandIn.start(route);
  return ctx.master.address;
}

function kill(args: string[]): Promise<Captured> {
  return capture(() => main(args));
}

Kill('POSTs {} to /api/v1/tasks/<id>/kill and says which agent the kill went to', async (ctx) => {
  const master = await serve(ctx, (request) => taken(request, true));
  const out = await kill(['t-1', `--master=${master}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, 'kill of task t-1 (framework f-1) sent to agent a-1; it was TASK_RUNNING\n');
  assert.is(out.stderr, '');
  const [request, ...more] = ctx.master!.received;
  assert.is(more.length, 0, 'one request only');
  assert.is(request!.method, 'POST');
  assert.is(request!.url.pathname, '/api/v1/tasks/t-1/kill');
  assert.is(request!.url.search, '', 'no framework_id without --framework');
  assert.is(request!.body, '{}');
  assert.is(request!.headers['content-type'], 'application/json');
});

Kill('says the kill waits for the agent when the master could not send it', async (ctx) => {
  const master = await serve(ctx, (request) => taken(request, false));
  const out = await kill([`--master=${master}`, 't-1']);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, 'agent a-1 is away: task t-1 will be killed when it re-registers\n');
});

Kill('passes --framework as framework_id, and takes TASK_ID anywhere among the flags', async (ctx) => {
  const master = await serve(ctx, (request) => taken(request, true));
  // --master's value as a separate word is not taken for the TASK_ID.
  const out = await kill(['--master', master, 't.2_x-y', '--framework', 'f-9']);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, 'kill of task t.2_x-y (framework f-9) sent to agent a-1; it was TASK_RUNNING\n');
  assert.is(ctx.master!.received[0]!.url.pathname, '/api/v1/tasks/t.2_x-y/kill');
  assert.is(ctx.master!.received[0]!.url.searchParams.get('framework_id'), 'f-9');
});

Kill('prints the master\'s answer as one line of JSON with --json', async (ctx) => {
  const master = await serve(ctx, (request) => taken(request, false));
  const out = await kill(['t-1', `--master=${master}`, '--json']);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout.split('\n').length, 2, out.stdout);
  assert.equal(JSON.parse(out.stdout), { taskId: 't-1', frameworkId: 'f-1', agentId: 'a-1', state: 'TASK_RUNNING', sent: false });
});

Kill('returns 1 with one line carrying the master\'s error for a task it does not know', async (ctx) => {
  const master = await serve(ctx, () => ({ status: 404, json: { error: 'no task t-9' } }));
  const out = await kill(['t-9', `--master=${master}`]);
  assert.is(out.code, 1);
  assert.is(out.stdout, '');
  assert.is(out.stderr, `lifeline kill: the master at ${master} answered HTTP 404: no task t-9\n`);
});

Kill('returns 1 with one line when nothing listens at --master', async () => {
  const port = await freePort();
  const out = await kill(['t-1', `--master=127.0.0.1:${port}`]);
  assert.is(out.code, 1);
  assert.is(out.stderr, `lifeline kill: cannot reach the master at 127.0.0.1:${port}: connection refused\n`);
});

for (const [what, args, message] of [
  ['no TASK_ID', ['--master=127.0.0.1:1'], /^lifeline kill needs a TASK_ID \(see lifeline tasks\)$/],
  ['two TASK_IDs', ['t-1', 't-2', '--master=127.0.0.1:1'], /^lifeline kill takes one TASK_ID, got 2: "t-1" "t-2"$/],
  ['a TASK_ID that is no task ID', ['../etc', '--master=127.0.0.1:1'], /^invalid TASK_ID "\.\.\/etc" \(task IDs match /],
  ['no --master', ['t-1'], /^flag --master is required for lifeline kill$/],
  ['a --master that is not HOST:PORT', ['t-1', '--master=http://127.0.0.1:1'], /^invalid value for --master: "http:\/\/127\.0\.0\.1:1"/],
] as Array<[string, string[], RegExp]>) {
  Kill(`refuses ${what} with a FlagError, printing nothing`, async () => {
    const out = await kill(args);
    assert.instance(out.error, FlagError);
    assert.match((out.error as Error).message, message);
    assert.is(out.stdout + out.stderr, '');
  });
}

Kill('as the built CLI, exits 2 with one line on a usage error, sending nothing', async (ctx) => {
  const master = await serve(ctx, (request) => taken(request, true));
  const proc = lifeline(['kill', `--master=${master}`], { env: cleanEnv() });
  ctx.procs.push(proc);
  assert.equal(await proc.waitForExit(), { code: 2, signal: null });
  assert.is(proc.stderr, 'lifeline: lifeline kill needs a TASK_ID (see lifeline tasks)\n');
  assert.is(proc.stdout, '');
  assert.equal(ctx.master!.received, []);
});

Kill('--help shows the usage with TASK_ID and returns 0', async () => {
  const out = await kill(['--help']);
  assert.is(out.code, 0, String(out.error));
  assert.match(out.stdout, /^Usage: lifeline kill TASK_ID --master=HOST:PORT /);
  for (const flag of ['--master', '--framework', '--json', '--credential', '--ssl_ca_file']) assert.match(out.stdout, `  ${flag}`);
});

Kill.run();
