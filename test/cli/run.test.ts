// `lifeline run`: flag errors and helpers as units, and the built CLI against a fake master (what it
// accepts, declines, prints, acknowledges and kills, and its exit codes).
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envPrefix, exitCodeOf, fits, formatUpdate, jsonUpdate, parseResources, takeEnv, taskIdFor } from '../../src/cli/run.js';
import { isValidId, type NewTaskInfo, type Offer, type RoutedTaskStatus } from '../../src/protocol/index.js';
import { lifeline, Proc, waitFor } from '../helpers.js';
import { FakeMaster } from '../scheduler/fake-master.js';

function offer(id: string, cpus: number, mem: number, disk?: number): Offer {
  return { id, agentId: `agent-of-${id}`, hostname: 'localhost', resources: disk === undefined ? { cpus, mem } : { cpus, mem, disk } };
}

// --- flags -------------------------------------------------------------------------------------

const Flags = suite<{ procs: Proc[] }>('lifeline run flags');
Flags.before.each((ctx) => {
  ctx.procs = [];
});
Flags.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
});

const flagCases: Array<[string, string[], RegExp]> = [
  ['a missing --master', ['--command=true'], /--master/],
  ['a missing --command', ['--master=127.0.0.1:5050'], /--command/],
  ['a bad --master', ['--master=nohost', '--command=true'], /--master.*"nohost"/],
  ['a bad --resources', ['--master=127.0.0.1:5050', '--command=true', '--resources=cpus:x;mem:32'], /--resources.*cpus/],
  ['an unknown flag', ['--master=127.0.0.1:5050', '--command=true', '--cpus=2'], /--cpus/],
  ['--ssl_cert_file without --ssl_key_file', ['--master=https://127.0.0.1:5050', '--command=true', '--ssl_cert_file=/etc/cert.pem'], /--ssl_cert_file and --ssl_key_file go together/],
  ['a --name that is too long', ['--master=127.0.0.1:5050', '--command=true', `--name=${'n'.repeat(1025)}`], /--name/],
];
for (const [what, args, pattern] of flagCases) {
  Flags(`exits 2 with one line naming the flag on ${what}`, async (ctx) => {
    const proc = lifeline(['run', ...args]);
    ctx.procs.push(proc);
    const exit = await proc.waitForExit();
    assert.is(exit.code, 2, proc.stderr);
    const lines = proc.stderr.trim().split('\n');
    assert.is(lines.length, 1, proc.stderr);
    assert.match(lines[0]!, pattern);
  });
}

Flags('lists every flag with --help', async (ctx) => {
  const proc = lifeline(['run', '--help']);
  ctx.procs.push(proc);
  const exit = await proc.waitForExit();
  assert.is(exit.code, 0);
  for (const flag of ['--master', '--command', '--name', '--checkpoint', '--resources', '--executor', '--json']) assert.ok(proc.stdout.includes(flag), flag);
  assert.match(proc.stdout, /cpus:0\.1;mem:32/);
});

Flags.run();

// --- helpers -----------------------------------------------------------------------------------

const Resources = suite('parseResources');

Resources('parses cpus and mem, and disk when given', () => {
  assert.equal(parseResources('cpus:0.1;mem:32'), { cpus: 0.1, mem: 32 });
  assert.equal(parseResources('cpus:2; mem:1024; disk:500'), { cpus: 2, mem: 1024, disk: 500 });
  assert.equal(parseResources('mem:64;cpus:1;'), { cpus: 1, mem: 64 });
});

const badResources: Array<[string, RegExp]> = [
  ['cpus:x;mem:32', /cpus must be a non-negative number, got "x"/],
  ['cpus:-1;mem:32', /cpus must be a non-negative number/],
  ['cpus:1', /mem is missing/],
  ['mem:32', /cpus is missing/],
  ['cpus:1;mem:32;gpus:1', /unknown resource "gpus"/],
  ['cpus:1;cpus:2;mem:3', /cpus is given twice/],
  ['cpus=1;mem=2', /has no ':'/],
  ['', /cpus is missing/],
  ['cpus:;mem:1', /cpus must be a non-negative number, got ""/],
];
for (const [text, pattern] of badResources) {
  Resources(`rejects ${JSON.stringify(text)} with a FlagError naming --resources`, () => {
    try {
      parseResources(text);
      assert.unreachable('should throw');
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_INVALID_FLAG');
      assert.match((error as Error).message, /^invalid value for --resources: /);
      assert.match((error as Error).message, pattern);
    }
  });
}

Resources('an offer fits when it has at least the cpus, mem and disk asked for', () => {
  const need = { cpus: 0.5, mem: 64 };
  assert.ok(fits(offer('a', 0.5, 64), need));
  assert.not.ok(fits(offer('a', 0.4, 1000), need));
  assert.not.ok(fits(offer('a', 4, 63), need));
  assert.not.ok(fits(offer('a', 4, 64), { ...need, disk: 10 }));
  assert.ok(fits(offer('a', 4, 64, 10), { ...need, disk: 10 }));
});

Resources.run();

const Helpers = suite('lifeline run helpers');

Helpers('derives a valid task ID from any name, with a random suffix', () => {
  assert.is(taskIdFor('my job', 'abcd1234'), 'my-job-abcd1234');
  assert.is(taskIdFor('../../etc', 'x'), 'etc-x');
  assert.is(taskIdFor('', 'x'), 'task-x');
  for (const name of ['', '...', '../../etc/passwd', 'a/b', 'ünïcode', '\u0000ctl', '-dash', 'x'.repeat(500)]) {
    const id = taskIdFor(name);
    assert.ok(isValidId(id), `${JSON.stringify(name)} → ${JSON.stringify(id)}`);
    assert.ok(isValidId(`${id}-executor`), id);
  }
  assert.is.not(taskIdFor('same'), taskIdFor('same'));
});

Helpers('formats an update as TIME TASK_ID STATE (source, reason): message', () => {
  const status: RoutedTaskStatus = {
    taskId: 't-1',
    state: 'TASK_FAILED',
    uuid: randomUUID(),
    timestamp: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
    source: 'SOURCE_AGENT',
    reason: 'REASON_EXECUTOR_TERMINATED',
    message: 'executor exited with code 3',
  };
  assert.is(formatUpdate(status), '2024-01-02T03:04:05.006Z t-1 TASK_FAILED (SOURCE_AGENT, REASON_EXECUTOR_TERMINATED): executor exited with code 3');
  assert.is(formatUpdate({ ...status, reason: undefined, message: undefined }), '2024-01-02T03:04:05.006Z t-1 TASK_FAILED (SOURCE_AGENT)');
  const json = JSON.parse(jsonUpdate({ ...status, message: undefined }));
  assert.equal(json, {
    type: 'UPDATE',
    status: { taskId: 't-1', state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', source: 'SOURCE_AGENT', message: null, uuid: status.uuid, agentId: null, executorId: null, timestamp: status.timestamp },
  });
});

Helpers('maps a terminal update to the exit code: the command\'s status, 128+signal, else 1', () => {
  assert.is(exitCodeOf({ state: 'TASK_FINISHED', message: 'Command exited with status 0' }), 0);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command exited with status 42' }), 42);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Command terminated with signal SIGKILL' }), 137);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: 'Failed to launch command: ENOENT' }), 1);
  assert.is(exitCodeOf({ state: 'TASK_FAILED', message: undefined }), 1);
  assert.is(exitCodeOf({ state: 'TASK_KILLED', message: 'Command terminated with signal SIGTERM' }), 1);
  assert.is(exitCodeOf({ state: 'TASK_LOST', message: 'agent removed' }), 1);
});

Helpers('takes every --env out of argv and quotes the values for the shell', () => {
  const { env, rest } = takeEnv(['--master=m', '--env=A=1', '--env', 'B=x=y', '--command=true', '--env=C=']);
  assert.equal(env, [['A', '1'], ['B', 'x=y'], ['C', '']]);
  assert.equal(rest, ['--master=m', '--command=true']);
  assert.is(envPrefix([['A', "it's"]]), "export A='it'\\''s'; ");
  for (const bad of [['--env=NOEQUALS'], ['--env=1X=2'], ['--env=A-B=1'], ['--env']]) {
    assert.throws(() => takeEnv(bad), /--env/, bad.join(' '));
  }
});

Helpers.run();

// --- against a fake master ---------------------------------------------------------------------

interface Ctx {
  master: FakeMaster;
  procs: Proc[];
}

const Run = suite<Ctx>('lifeline run against a fake master');

Run.before.each(async (ctx) => {
  ctx.master = await FakeMaster.start();
  ctx.procs = [];
});
Run.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.master.close();
});

function run(ctx: Ctx, args: string[]): Proc {
  const proc = lifeline(['run', `--master=${ctx.master.address}`, ...args]);
  ctx.procs.push(proc);
  return proc;
}

function update(task: NewTaskInfo, state: RoutedTaskStatus['state'], fields: Partial<RoutedTaskStatus> = {}): object {
  const status: RoutedTaskStatus = {
    taskId: task.taskId,
    state,
    uuid: randomUUID(),
    timestamp: Date.now(),
    source: 'SOURCE_EXECUTOR',
    agentId: task.agentId!,
    executorId: task.taskId,
    ...fields,
  };
  return { type: 'UPDATE', status };
}

async function launched(ctx: Ctx): Promise<NewTaskInfo> {
  await ctx.master.waitForCalls('SUBSCRIBE');
  await waitFor(() => ctx.master.connections.length > 0, { message: 'connection' });
  ctx.master.send({ type: 'OFFERS', offers: [offer('o-1', 1, 128)] });
  const [accept] = await ctx.master.waitForCalls('ACCEPT');
  return accept!.tasks[0]!;
}

Run('accepts the first offer that fits, declines the rest, and exits 0 on TASK_FINISHED', async (ctx) => {
  const proc = run(ctx, ['--command=echo hi', '--name=fit test', '--resources=cpus:0.5;mem:64', '--json']);
  await ctx.master.waitForCalls('SUBSCRIBE');
  ctx.master.send({ type: 'OFFERS', offers: [offer('small', 0.1, 1024), offer('big', 2, 2048), offer('also-big', 4, 4096)] });
  const [accept] = await ctx.master.waitForCalls('ACCEPT');
  const [decline] = await ctx.master.waitForCalls('DECLINE');
  assert.equal(accept!.offerIds, ['big']);
  assert.equal(decline!.offerIds, ['small', 'also-big']);
  const task = accept!.tasks[0]!;
  assert.is(accept!.tasks.length, 1);
  assert.match(task.taskId, /^fit-test-[0-9a-f]{8}$/);
  assert.equal(task.command, { value: 'echo hi' });
  assert.is(task.executor, undefined);
  assert.equal(task.resources, { cpus: 0.5, mem: 64 });
  assert.is(task.agentId, 'agent-of-big');
  // Offers that come after the launch are declined too.
  ctx.master.send({ type: 'OFFERS', offers: [offer('later', 8, 8192)] });
  await ctx.master.waitForCalls('DECLINE', 2);
  assert.equal(ctx.master.callsOf('DECLINE')[1]!.offerIds, ['later']);

  const running = update(task, 'TASK_RUNNING');
  const finished = update(task, 'TASK_FINISHED', { message: 'Command exited with status 0' });
  ctx.master.send(running);
  ctx.master.send(finished);
  const exit = await proc.waitForExit();
  assert.is(exit.code, 0, proc.stderr);
  const lines = proc.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines[0], { type: 'SUBSCRIBED', frameworkId: 'fw-1' });
  assert.equal(lines.slice(1).map((l) => l.status.state), ['TASK_RUNNING', 'TASK_FINISHED']);
  assert.is(lines[2].status.message, 'Command exited with status 0');
  assert.is(lines[2].status.agentId, 'agent-of-big');
  // Both updates acknowledged before the driver closed.
  const acks = ctx.master.callsOf('ACKNOWLEDGE');
  assert.equal(acks.map((a) => a.uuid), [(running as { status: RoutedTaskStatus }).status.uuid, (finished as { status: RoutedTaskStatus }).status.uuid]);
  const [subscribe] = ctx.master.callsOf('SUBSCRIBE');
  assert.equal(subscribe!.frameworkInfo, { name: 'fit test', checkpoint: false });
});

Run("prints readable lines and exits with the command's own status on TASK_FAILED", async (ctx) => {
  const proc = run(ctx, ['--command=exit 3', '--checkpoint']);
  const task = await launched(ctx);
  assert.is(ctx.master.callsOf('SUBSCRIBE')[0]!.frameworkInfo.checkpoint, true);
  ctx.master.send(update(task, 'TASK_FAILED', { message: 'Command exited with status 3' }));
  const exit = await proc.waitForExit();
  assert.is(exit.code, 3, proc.stderr);
  assert.match(proc.stdout, new RegExp(`^\\S+Z ${task.taskId} TASK_FAILED \\(SOURCE_EXECUTOR\\): Command exited with status 3$`, 'm'));
  assert.match(proc.stdout, /subscribed to .* as framework fw-1/);
});

Run("says when the task's agent goes away and comes back, and ignores other agents", async (ctx) => {
  const proc = run(ctx, ['--command=sleep 9', '--checkpoint', '--env=A=1', '--env', "B=it's"]);
  const task = await launched(ctx);
  assert.is(task.command!.value, "export A='1'; export B='it'\\''s'; sleep 9");
  ctx.master.send(update(task, 'TASK_RUNNING'));
  ctx.master.send({ type: 'AGENT_STATUS', agentId: 'someone-else', status: 'DISCONNECTED', timestamp: Date.now(), reregisterTimeoutMs: 1000 });
  ctx.master.send({ type: 'AGENT_STATUS', agentId: task.agentId, hostname: 'localhost', status: 'DISCONNECTED', timestamp: Date.now(), reregisterTimeoutMs: 75_000 });
  ctx.master.send({ type: 'AGENT_STATUS', agentId: task.agentId, status: 'REREGISTERED', timestamp: Date.now(), awayMs: 4_210 });
  ctx.master.send(update(task, 'TASK_FINISHED'));
  const exit = await proc.waitForExit();
  assert.is(exit.code, 0, proc.stderr);
  assert.match(proc.stdout, new RegExp(`Z agent ${task.agentId} \\(localhost\\) disconnected; the task keeps running there, waiting up to 75s for it to re-register\n`));
  assert.match(proc.stdout, new RegExp(`Z agent ${task.agentId} re-registered after 4\\.2 s\n`));
  assert.not.match(proc.stdout, /someone-else/);
});

Run('runs the task under --executor with the command as its data', async (ctx) => {
  const proc = run(ctx, ['--executor=node my-executor.js', '--command=payload ✓']);
  const task = await launched(ctx);
  assert.is(task.command, undefined);
  assert.equal(task.executor, { executorId: `${task.taskId}-executor`, frameworkId: 'fw-1', command: { value: 'node my-executor.js' } });
  assert.is(Buffer.from(task.data!).toString('utf8'), 'payload ✓');
  ctx.master.send(update(task, 'TASK_FINISHED', { executorId: `${task.taskId}-executor` }));
  assert.is((await proc.waitForExit()).code, 0, proc.stderr);
});

Run('exits 1 at once on SIGINT when no task was launched', async (ctx) => {
  const proc = run(ctx, ['--command=true']);
  await proc.waitForOutput(/subscribed/);
  proc.signal('SIGINT');
  const exit = await proc.waitForExit();
  assert.is(exit.code, 1);
  assert.is(ctx.master.callsOf('KILL').length, 0);
  assert.match(proc.stderr, /no task was launched/);
});

Run('on SIGINT sends KILL, again every few seconds, until a terminal update arrives', async (ctx) => {
  const proc = run(ctx, ['--command=sleep 30', '--json']);
  const task = await launched(ctx);
  ctx.master.send(update(task, 'TASK_RUNNING'));
  await proc.waitForOutput(/TASK_RUNNING/);
  proc.signal('SIGINT');
  const kills = await ctx.master.waitForCalls('KILL', 2);
  assert.equal(kills[0], { type: 'KILL', taskId: task.taskId });
  assert.is(proc.exit, undefined);
  ctx.master.send(update(task, 'TASK_KILLED'));
  const exit = await proc.waitForExit();
  assert.is(exit.code, 1);
  const last = JSON.parse(proc.stdout.trim().split('\n').at(-1)!);
  assert.is(last.status.state, 'TASK_KILLED');
});

Run('asks the master for the task state after reconnecting', async (ctx) => {
  const proc = run(ctx, ['--command=true']);
  const task = await launched(ctx);
  ctx.master.dropAll();
  const [reconcile] = await ctx.master.waitForCalls('RECONCILE');
  assert.equal(reconcile!.taskIds, [task.taskId]);
  assert.is(ctx.master.callsOf('SUBSCRIBE')[1]!.frameworkInfo.id, 'fw-1');
  ctx.master.send(update(task, 'TASK_FINISHED'));
  assert.is((await proc.waitForExit()).code, 0, proc.stderr);
});

Run.run();
