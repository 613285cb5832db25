// The operator verbs end to end (issue 15), on a real master and agent: `lifeline tasks`,
// `agents`, `kill`, `logs` (with --follow), `run --env` and the task's exit code passed through,
// the sandbox in /state and run's output, and the master's and the agent's refusals.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getJson, lifeline, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';
import { RELEASE } from '../../src/protocol/version.js';

interface Ctx {
  cluster: Cluster;
  procs: Proc[];
}

interface TaskRow {
  id: string;
  state: string;
  sandbox: string | null;
  agentId: string;
  frameworkId: string;
}

const Verbs = suite<Ctx>('the operator verbs against a real master and agent');

Verbs.before(async (ctx) => {
  ctx.procs = [];
  ctx.cluster = await startCluster();
});
Verbs.after(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  await ctx.cluster.stop();
});

function cli(ctx: Ctx, args: string[]): Proc {
  const proc = lifeline(args);
  ctx.procs.push(proc);
  return proc;
}

async function finished(ctx: Ctx, args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = cli(ctx, args);
  const { code } = await proc.waitForExit(timeoutMs);
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

Verbs('run passes --env to the task and exits with its exit code; logs prints its output', async (ctx) => {
  const master = `--master=${ctx.cluster.masterAddress}`;
  const run = cli(ctx, ['run', master, '--name=env', `--env=GREETING=it's "quoted"`, '--env', 'OTHER=x y', '--command=echo "$GREETING / $OTHER"; echo oops >&2; exit 3']);
  const exit = await run.waitForExit(30_000);
  assert.is(exit.code, 3, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /TASK_FAILED \(SOURCE_EXECUTOR\): Command exited with status 3/);
  const taskId = /launching task (\S+)/.exec(run.stdout)![1]!;
  const out = await finished(ctx, ['logs', taskId, master]);
  assert.is(out.code, 0, out.stderr);
  assert.is(out.stdout, `it's "quoted" / x y\n`);
  const err = await finished(ctx, ['logs', master, '--stderr', taskId]);
  assert.is(err.code, 0, err.stderr);
  assert.match(err.stdout, /oops/);
});

Verbs('tasks and agents list what the master knows; kill ends a running task; logs --follow ends with it', async (ctx) => {
  const { masterAddress, agentAddress } = ctx.cluster;
  const master = `--master=${masterAddress}`;
  const run = cli(ctx, ['run', master, '--checkpoint', '--name=long', '--command=for i in $(seq 300); do echo line $i; sleep 0.1; done']);
  await run.waitForOutput(/ sandbox (\S+) on agent/, { timeoutMs: 30_000, stream: 'stdout' });
  const taskId = /launching task (\S+)/.exec(run.stdout)![1]!;
  const printedSandbox = / sandbox (\S+) on agent/.exec(run.stdout)![1]!;

  const table = await finished(ctx, ['tasks', master]);
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+STATE\s+NAME\s+FRAMEWORK\s+AGENT\s+UPDATED$/m);
  assert.match(table.stdout, new RegExp(`^${taskId}\\s+TASK_RUNNING\\s+long\\s`, 'm'));
  const json = await finished(ctx, ['tasks', master, '--json']);
  const rows = JSON.parse(json.stdout) as TaskRow[];
  const row = rows.find((entry) => entry.id === taskId)!;
  assert.is(row.state, 'TASK_RUNNING');
  assert.is(row.sandbox, printedSandbox);

  const agents = await finished(ctx, ['agents', master]);
  assert.is(agents.code, 0, agents.stderr);
  assert.match(agents.stdout, new RegExp(`^${row.agentId}\\s+\\S+\\s+${agentAddress.replace(/\./g, '\\.')}\\s+ACTIVE\\s+1\\s`, 'm'));
  const agentRows = JSON.parse((await finished(ctx, ['agents', master, '--json'])).stdout) as Array<{ id: string; address: string; tasks: number; version: string | null }>;
  assert.equal(agentRows.map(({ id, address, tasks, version }) => ({ id, address, tasks, version })), [{ id: row.agentId, address: agentAddress, tasks: 1, version: RELEASE }]);
  assert.match(agents.stdout, new RegExp(`\\s${RELEASE.replace(/\./g, '\\.')}\\s*$`, 'm'), 'the VERSION column shows the agent\'s release');

  // The agent's own /state names the same sandbox as its executor's directory.
  const agentState = (await getJson(`http://${agentAddress}/state`)).body as { frameworks: Array<{ executors: Array<{ id: string; directory: string }> }> };
  assert.is(agentState.frameworks.flatMap((f) => f.executors).find((e) => e.id === taskId)?.directory, printedSandbox);

  const follow = cli(ctx, ['logs', taskId, master, '--follow']);
  await follow.waitForOutput(/line 3\n/, { timeoutMs: 15_000, stream: 'stdout' });

  const kill = await finished(ctx, ['kill', taskId, master]);
  assert.is(kill.code, 0, kill.stderr);
  assert.match(kill.stdout, new RegExp(`kill of task ${taskId} \\(framework ${row.frameworkId}\\) sent to agent ${row.agentId}; it was TASK_RUNNING`));
  const runExit = await run.waitForExit(20_000);
  assert.is(runExit.code, 1, run.stdout);
  assert.match(run.stdout, /TASK_KILLED/);
  const followExit = await follow.waitForExit(20_000);
  assert.is(followExit.code, 0, follow.stderr);
  assert.match(follow.stdout, /^line 1\nline 2\nline 3\n/);

  const again = await finished(ctx, ['kill', taskId, master]);
  assert.is(again.code, 1);
  assert.match(again.stderr, /^lifeline kill: the master at \S+ answered HTTP 404: no task \S+ in any live framework\n$/);
});

Verbs('refuses bad use with one line: a missing or extra TASK_ID, an unknown task, a bad address', async (ctx) => {
  const master = `--master=${ctx.cluster.masterAddress}`;
  const cases: Array<[string[], number, RegExp]> = [
    [['kill', master], 2, /^lifeline: lifeline kill needs a TASK_ID/],
    [['kill', 'a', 'b', master], 2, /^lifeline: lifeline kill takes one TASK_ID, got 2: "a" "b"/],
    [['kill', '../x', master], 2, /^lifeline: invalid TASK_ID "..\/x"/],
    [['logs', 'nosuch', master], 1, /^lifeline logs: the master knows no task nosuch/],
    [['tasks', '--master=nohost'], 2, /^lifeline: invalid value for --master: "nohost" \("nohost" is not HOST:PORT; expected HOST:PORT or https:\/\/HOST:PORT\)/],
    [['agents', '--master=127.0.0.1:1'], 1, /^lifeline agents: cannot reach the master at 127\.0\.0\.1:1: connection refused/],
    [['run', master, '--env=1BAD=x', '--command=true'], 2, /^lifeline: invalid value for --env: "1BAD=x"/],
  ];
  for (const [args, code, message] of cases) {
    const result = await finished(ctx, args);
    assert.is(result.code, code, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
    assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

Verbs('the master takes kills by POST with a JSON body only; the agent serves no file outside its sandboxes', async (ctx) => {
  const { masterAddress, agentAddress } = ctx.cluster;
  const get = await fetch(`http://${masterAddress}/api/v1/tasks/t1/kill`);
  assert.is(get.status, 405);
  assert.is(get.headers.get('allow'), 'POST');
  const form = await fetch(`http://${masterAddress}/api/v1/tasks/t1/kill`, { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.is(form.status, 415);
  const bad = await fetch(`http://${masterAddress}/api/v1/tasks/bad%20id/kill`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.is(bad.status, 400);
  const outside = await getJson(`http://${agentAddress}/files/read?path=/etc/passwd&offset=0`);
  assert.is(outside.status, 403);
  const dots = await getJson(`http://${agentAddress}/files/browse?path=${encodeURIComponent(`${ctx.cluster.workDir}/sandboxes/../meta`)}`);
  assert.is(dots.status, 400);
  const page = await fetch(`http://${masterAddress}/`);
  assert.is(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.match(await page.text(), /<script src="\/web\/app\.js"/);
});

Verbs.run();
