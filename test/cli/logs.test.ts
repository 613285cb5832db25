// `lifeline logs TASK_ID` (cli/logs.ts): main() against a stand-in that is both the master (/state
// says where the task's sandbox and agent are) and that agent (/files/read serves bytes of
// in-memory files with Mesos's offset/length, offset=-1 answering the size): stdout or --stderr, a
// file larger than one read, --framework, what cannot be located (exit 1), the usage errors (a
// FlagError), and, as the built CLI (it runs for seconds, and stops on a signal), --follow across
// an agent error and a rotation until the task has ended.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/logs.js';
import { FlagError } from '../../src/protocol/index.js';
import { lifeline, type Proc } from '../helpers.js';
import { capture, cleanEnv, StandIn, type Answer, type Captured, type Received } from './stand-in.js';

/** What logs asks for in one read (256 KiB, cli/logs.ts). */
const CHUNK = 256 * 1024;

interface TaskEntry {
  id: string;
  state: string;
  agentId: string;
  executorId: string;
  sandbox?: string | null;
}

interface World {
  frameworks: Array<{ id: string; tasks: TaskEntry[] }>;
  agents: Array<{ id: string; address?: string | null }>;
  /** The agent's files by path. */
  files: Map<string, string>;
  /** Answers given to /files/read (other than offset=-1) before the files are served, one each. */
  readErrors: Answer[];
}

interface Ctx {
  world: World;
  server: StandIn;
  procs: Proc[];
}

const Logs = suite<Ctx>('cli/logs');

Logs.before.each(async (ctx) => {
  ctx.procs = [];
  ctx.world = { frameworks: [], agents: [], files: new Map(), readErrors: [] };
  ctx.server = await StandIn.start((request) => route(ctx.world, request));
});
Logs.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.server.close();
});

function route(world: World, request: Received): Answer {
  if (request.url.pathname === '/state') {
    return {
      json: {
        agents: world.agents.map((agent) => ({ hostname: 'h', status: 'ACTIVE', ...agent })),
        frameworks: world.frameworks.map((framework) => ({ name: framework.id, status: 'ACTIVE', checkpoint: true, ...framework })),
        completedFrameworks: [],
      },
    };
  }
  if (request.url.pathname === '/files/read') {
    const file = world.files.get(request.url.searchParams.get('path') ?? '');
    const offset = Number(request.url.searchParams.get('offset'));
    if (file === undefined) return { status: 404, json: { error: 'no such file' } };
    if (offset === -1) return { json: { data: '', offset: file.length, bytes: 0 } };
    const error = world.readErrors.shift();
    if (error) return error;
    const length = Number(request.url.searchParams.get('length') ?? file.length);
    const data = file.slice(offset, offset + length); // ASCII only: characters are bytes
    return { json: { data, offset, bytes: data.length } };
  }
  return { status: 404, json: { error: `no ${request.url.pathname}` } };
}

/** Task t-1 of framework f-1, running on agent a-1 (the stand-in itself), with this stdout and stderr. */
function oneTask(ctx: Ctx, stdout: string, stderr = ''): void {
  ctx.world.agents.push({ id: 'a-1', address: ctx.server.address });
  ctx.world.frameworks.push({ id: 'f-1', tasks: [{ id: 't-1', state: 'TASK_RUNNING', agentId: 'a-1', executorId: 't-1', sandbox: '/sandboxes/t-1' }] });
  ctx.world.files.set('/sandboxes/t-1/stdout', stdout);
  ctx.world.files.set('/sandboxes/t-1/stderr', stderr);
}

function start(ctx: Ctx, args: string[]): Proc {
  const proc = lifeline(['logs', ...args], { env: cleanEnv() });
  ctx.procs.push(proc);
  return proc;
}

function logs(args: string[]): Promise<Captured> {
  return capture(() => main(args));
}

/** The offsets of the reads of one file, in order (offset=-1, the size, left out). */
function readOffsets(ctx: Ctx, file: string): number[] {
  return ctx.server.to('/files/read').filter((r) => r.url.searchParams.get('path') === file && r.url.searchParams.get('offset') !== '-1').map((r) => Number(r.url.searchParams.get('offset')));
}

Logs('prints the task\'s stdout from its sandbox on the agent the master names', async (ctx) => {
  oneTask(ctx, 'hello\nworld\n', 'oops\n');
  const out = await logs(['t-1', `--master=${ctx.server.address}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, 'hello\nworld\n');
  assert.is(out.stderr, '');
  assert.equal(readOffsets(ctx, '/sandboxes/t-1/stdout'), [0]);
});

Logs('prints stderr instead with --stderr', async (ctx) => {
  oneTask(ctx, 'hello\n', 'oops\n');
  const out = await logs([`--master=${ctx.server.address}`, '--stderr', 't-1']);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, 'oops\n');
  assert.equal(readOffsets(ctx, '/sandboxes/t-1/stdout'), []);
});

Logs('reads a file larger than one read to its end, one chunk after the other', async (ctx) => {
  const line = 'the quick brown fox jumps over the lazy dog\n';
  const big = line.repeat(Math.ceil((2 * CHUNK + 1000) / line.length));
  oneTask(ctx, big);
  const out = await logs(['t-1', `--master=${ctx.server.address}`]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout.length, big.length);
  assert.ok(out.stdout === big, 'the output is the file');
  // Full chunks are followed at once by the next read; the short third one ends it.
  assert.equal(readOffsets(ctx, '/sandboxes/t-1/stdout'), [0, CHUNK, 2 * CHUNK]);
  for (const read of ctx.server.to('/files/read')) assert.is(read.url.searchParams.get('length'), String(CHUNK));
});

Logs('asks for --framework when two frameworks have a live task of that ID, and reads the one it names', async (ctx) => {
  oneTask(ctx, 'from f-1\n');
  ctx.world.frameworks.push({ id: 'f-2', tasks: [{ id: 't-1', state: 'TASK_RUNNING', agentId: 'a-1', executorId: 't-1', sandbox: '/sandboxes/f-2/t-1' }] });
  ctx.world.files.set('/sandboxes/f-2/t-1/stdout', 'from f-2\n');
  const ambiguous = await logs(['t-1', `--master=${ctx.server.address}`]);
  assert.is(ambiguous.code, 1);
  assert.is(ambiguous.stderr, 'lifeline logs: task ID t-1 is used by frameworks f-1, f-2; say which with --framework\n');
  const named = await logs(['t-1', `--master=${ctx.server.address}`, '--framework=f-2']);
  assert.is(named.code, 0, named.stderr);
  assert.is(named.stdout, 'from f-2\n');
});

const unlocatable: Array<[string, (ctx: Ctx) => void, RegExp]> = [
  ['a task the master does not know', (ctx) => oneTask(ctx, ''), /^lifeline logs: the master knows no task t-9 \(see lifeline tasks\)\n$/],
  [
    'a task whose sandbox the master does not know yet',
    (ctx) => {
      ctx.world.agents.push({ id: 'a-1', address: ctx.server.address });
      ctx.world.frameworks.push({ id: 'f-1', tasks: [{ id: 't-9', state: 'TASK_STAGING', agentId: 'a-1', executorId: 't-9', sandbox: null }] });
    },
    /^lifeline logs: the master does not know the sandbox of task t-9 yet \(it is TASK_STAGING; /,
  ],
  [
    'a task on an agent the master no longer knows',
    (ctx) => ctx.world.frameworks.push({ id: 'f-1', tasks: [{ id: 't-9', state: 'TASK_LOST', agentId: 'a-gone', executorId: 't-9', sandbox: '/s/t-9' }] }),
    /^lifeline logs: task t-9 ran on agent a-gone, which the master no longer knows\n$/,
  ],
  [
    'an agent without an address',
    (ctx) => {
      ctx.world.agents.push({ id: 'a-old', address: null });
      ctx.world.frameworks.push({ id: 'f-1', tasks: [{ id: 't-9', state: 'TASK_RUNNING', agentId: 'a-old', executorId: 't-9', sandbox: '/s/t-9' }] });
    },
    /^lifeline logs: agent a-old did not tell the master its HTTP address/,
  ],
  [
    'an agent address that is not HOST:PORT',
    (ctx) => {
      ctx.world.agents.push({ id: 'a-odd', address: 'nowhere' });
      ctx.world.frameworks.push({ id: 'f-1', tasks: [{ id: 't-9', state: 'TASK_RUNNING', agentId: 'a-odd', executorId: 't-9', sandbox: '/s/t-9' }] });
    },
    /^lifeline logs: the master at \S+ gives agent a-odd the address "nowhere", which is not HOST:PORT\n$/,
  ],
  [
    'a file the agent does not have',
    (ctx) => {
      ctx.world.agents.push({ id: 'a-1', address: ctx.server.address });
      ctx.world.frameworks.push({ id: 'f-1', tasks: [{ id: 't-9', state: 'TASK_RUNNING', agentId: 'a-1', executorId: 't-9', sandbox: '/s/t-9' }] });
    },
    /^lifeline logs: the agent at 127\.0\.0\.1:\d+ answered HTTP 404: no such file\n$/,
  ],
];
for (const [what, setUp, pattern] of unlocatable) {
  Logs(`returns 1 with one line for ${what}`, async (ctx) => {
    setUp(ctx);
    const out = await logs(['t-9', `--master=${ctx.server.address}`]);
    assert.is(out.code, 1);
    assert.is(out.stdout, '');
    assert.match(out.stderr, pattern);
  });
}

Logs('--follow retries a failing agent, starts over a rotated file, and exits 0 once the task has ended', async (ctx) => {
  oneTask(ctx, 'one\ntwo\n');
  // The agent is restarting when the first read comes.
  ctx.world.readErrors.push({ status: 503, json: { error: 'agent recovering' } });
  const proc = start(ctx, ['t-1', `--master=${ctx.server.address}`, '--follow']);
  await proc.waitForOutput(/one\ntwo\n/, { stream: 'stdout' });
  assert.match(proc.stderr, /^lifeline logs: the agent at 127\.0\.0\.1:\d+ answered HTTP 503: agent recovering; retrying\n$/);
  // Rotated (copied aside, then cut) and the task ends after writing one more line.
  ctx.world.files.set('/sandboxes/t-1/stdout', '3\n');
  ctx.world.frameworks[0]!.tasks[0]!.state = 'TASK_FINISHED';
  const exit = await proc.waitForExit(10_000);
  assert.equal(exit, { code: 0, signal: null }, proc.stderr);
  assert.is(proc.stdout, 'one\ntwo\n3\n');
  assert.match(proc.stderr, /\nlifeline logs: stdout was rotated \(cut to 2 bytes\); reading it from the start\n$/);
  // It asked the master again, which is how it learnt that the task had ended.
  assert.ok(ctx.server.to('/state').length >= 2, 'asked the master again');
});

Logs('without --follow stops at the end of what is there, even while the task runs', async (ctx) => {
  oneTask(ctx, 'so far\n');
  const out = await logs(['t-1', `--master=${ctx.server.address}`]);
  assert.is(out.code, 0, String(out.error));
  assert.is(out.stdout, 'so far\n');
  assert.is(ctx.server.to('/state').length, 1);
});

for (const [what, args, message] of [
  ['no TASK_ID', ['--master=127.0.0.1:1'], /^lifeline logs needs a TASK_ID \(see lifeline tasks\)$/],
  ['two TASK_IDs', ['t-1', '--follow', 't-2', '--master=127.0.0.1:1'], /^lifeline logs takes one TASK_ID, got 2: "t-1" "t-2"$/],
  ['a TASK_ID with a slash', ['a/b', '--master=127.0.0.1:1'], /^invalid TASK_ID "a\/b" \(task IDs match /],
  ['a single-dash word', ['t-1', '-x', '--master=127.0.0.1:1'], /^unexpected argument "-x" for lifeline logs /],
  ['no --master', ['t-1'], /^flag --master is required for lifeline logs$/],
] as Array<[string, string[], RegExp]>) {
  Logs(`refuses ${what} with a FlagError, printing nothing`, async () => {
    const out = await logs(args);
    assert.instance(out.error, FlagError);
    assert.match((out.error as Error).message, message);
    assert.is(out.stdout + out.stderr, '');
  });
}

Logs.run();
