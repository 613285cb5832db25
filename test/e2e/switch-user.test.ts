// Tasks as another user with real processes (issue 14, point 6): a root agent with --switch_user
// (the default) starts the executor and task of `lifeline run --user=nobody` as nobody, in a
// sandbox owned by nobody, and that task cannot read the token in another executor's
// /proc/<pid>/environ; an unknown user fails the task with TASK_FAILED and a clear message.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifeline, waitFor, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const NOBODY = 65_534;
const asRoot = process.getuid?.() === 0 && process.env.CI !== 'true';

const Switch = suite<{ cluster: Cluster; procs: Proc[] }>('a root agent runs tasks as their FrameworkInfo.user');

Switch.before.each(async (context) => {
  context.procs = [];
  context.cluster = await startCluster();
});
Switch.after.each(async (context) => {
  await Promise.all(context.procs.map((proc) => proc.stop()));
  await context.cluster.stop();
});

function run(context: { cluster: Cluster; procs: Proc[] }, args: string[]): Proc {
  const proc = lifeline(['run', `--master=${context.cluster.masterAddress}`, '--json', ...args]);
  context.procs.push(proc);
  return proc;
}

/** Pids whose environment names this executor ID (read as root, as the test runs). */
function executorPids(executorId: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`LIFELINE_EXECUTOR_ID=${executorId}`)) pids.push(Number(name));
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

/** The files named `name` under the work dir's sandboxes. */
function sandboxFiles(workDir: string, name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name === name) out.push(file);
    }
  };
  walk(path.join(workDir, 'sandboxes'));
  return out;
}

if (!asRoot) {
  console.log('switch-user e2e: not root (or CI=true): skipped (it starts tasks as nobody)');
} else {
  Switch('runs the task as nobody in a sandbox of nobody, and it cannot read another executor\'s token', async (context) => {
    const other = run(context, ['--name=root-task', '--command=sleep 30']);
    const running = await other.waitForOutput(/"taskId":"(root-task-[0-9a-f]{8})","state":"TASK_RUNNING"/, { timeoutMs: 30_000, stream: 'stdout' });
    const otherPids = await waitFor(() => executorPids(running[1]!).length > 0 && executorPids(running[1]!), { message: 'the root executor in /proc' });

    const probe = [
      'id -u > uid',
      // Every environ this task can read that holds a token: its own executor's, at most.
      'for f in /proc/[0-9]*/environ; do if grep -q LIFELINE_EXECUTOR_TOKEN "$f" 2>/dev/null; then echo "${f#/proc/}"; fi; done > readable',
    ].join('; ');
    const mine = run(context, ['--name=nobody-task', '--user=nobody', `--command=${probe}`]);
    const exit = await mine.waitForExit(30_000);
    assert.is(exit.code, 0, `${mine.stdout}\n${mine.stderr}`);

    const [uidFile] = sandboxFiles(context.cluster.workDir, 'uid');
    assert.ok(uidFile, 'the task wrote its uid in its sandbox');
    assert.is(fs.readFileSync(uidFile!, 'utf8').trim(), String(NOBODY));
    const sandbox = path.dirname(uidFile!);
    assert.is(fs.statSync(sandbox).uid, NOBODY, 'the sandbox belongs to nobody');
    assert.is(fs.statSync(sandbox).mode & 0o777, 0o700);
    assert.is(fs.statSync(path.join(sandbox, 'stdout')).uid, NOBODY);

    const readable = fs.readFileSync(path.join(sandbox, 'readable'), 'utf8').split('\n').filter(Boolean).map((entry) => Number(entry.split('/')[0]));
    for (const pid of otherPids) assert.not.ok(readable.includes(pid), `the task as nobody read the environ of root's executor ${pid}`);
    // The meta dir stays closed to it, although it may pass through the work dir.
    assert.is(fs.statSync(path.join(context.cluster.workDir, 'meta')).mode & 0o077, 0);
  });

  Switch('fails the task with TASK_FAILED naming an unknown user', async (context) => {
    const proc = run(context, ['--name=ghost', '--user=no-such-user-x1', '--command=true']);
    const exit = await proc.waitForExit(30_000);
    assert.is(exit.code, 1, `${proc.stdout}\n${proc.stderr}`);
    const last = proc.stdout.trim().split('\n').map((line) => JSON.parse(line)).filter((line) => line.type === 'UPDATE').at(-1);
    assert.is(last.status.state, 'TASK_FAILED');
    assert.match(last.status.message, /user "no-such-user-x1" \(FrameworkInfo\.user\) does not exist on this agent/);
  });
}

Switch.run();
