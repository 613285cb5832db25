// Task output on a real agent: stdout rotated under --sandbox_log_max_size/--sandbox_log_max_files
// while the task writes, the task finishing untouched; and --gc_disk_headroom removing a completed
// sandbox before its --gc_delay.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifeline, waitFor, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

interface Ctx {
  cluster?: Cluster;
  procs: Proc[];
}

const output = suite<Ctx>('task output end to end: rotation and disk headroom');

output.before.each((ctx) => {
  ctx.procs = [];
  ctx.cluster = undefined;
});
output.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((p) => p.stop()));
  await ctx.cluster?.stop();
});

/** Every file named `name` under `dir` (the sandboxes are a few levels down the work dir). */
function findAll(dir: string, name: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.name === name && entry.isFile()) found.push(path.join(entry.parentPath, entry.name));
  }
  return found;
}

function run(ctx: Ctx, command: string): Proc {
  const proc = lifeline(['run', `--master=${ctx.cluster!.masterAddress}`, `--command=${command}`, '--name=output']);
  ctx.procs.push(proc);
  return proc;
}

output('rotates a chatty task\'s stdout while it runs: files bounded, lines in order, the task finished', async (ctx) => {
  ctx.cluster = await startCluster({ agentFlags: ['--sandbox_log_max_size=16KB', '--sandbox_log_max_files=3'] });
  // ~400 KB of numbered 100-byte lines over ~5 s: the agent checks sizes every 2 s.
  const proc = run(ctx, 'i=0; while [ $i -lt 4000 ]; do printf "%099d\\n" $i; i=$((i+1)); [ $((i % 400)) -eq 0 ] && sleep 0.5; done; exit 0');
  const exit = await proc.waitForExit(60_000);
  assert.is(exit.code, 0, `${proc.stdout}\n${proc.stderr}`);
  assert.match(proc.stdout, /TASK_FINISHED/);
  const [live] = findAll(ctx.cluster.workDir, 'stdout').filter((file) => fs.readFileSync(file, 'utf8').includes('0'.repeat(90)) || fs.existsSync(`${file}.1`));
  assert.ok(live, 'the task\'s stdout in its sandbox');
  assert.ok(fs.existsSync(`${live}.1`) && fs.existsSync(`${live}.2`), `rotated files next to ${live}: ${fs.readdirSync(path.dirname(live)).join(' ')}`);
  assert.not.ok(fs.existsSync(`${live}.3`), 'max_files 3: the live file, .1 and .2');
  const numbers: number[] = [];
  for (const file of [`${live}.2`, `${live}.1`, live]) {
    const text = fs.readFileSync(file, 'utf8');
    if (file !== live) assert.ok(text.length <= 2 * 16 * 1024, `${file} is ${text.length} bytes`);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    // A rotated file starts at a byte offset, and its last line can be cut by the truncate.
    for (const [i, line] of lines.entries()) {
      if (file !== live && (i === 0 || i === lines.length - 1) && !/^\d{99}$/.test(line)) continue;
      assert.match(line, /^\d{99}$/, `a torn line in ${file}`);
      numbers.push(Number(line));
    }
  }
  for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!, `line ${numbers[i]} after ${numbers[i - 1]}`);
  assert.ok(numbers.at(-1)! >= 3_900, `the newest kept line is ${numbers.at(-1)}`);
});

output('removes a completed sandbox before its gc_delay when the disk is short of the headroom', async (ctx) => {
  // A headroom of 1: whatever the disk's usage, a completed sandbox may stay for no time at all.
  ctx.cluster = await startCluster({ agentFlags: ['--gc_delay=1weeks', '--gc_disk_headroom=1', '--disk_watch_interval=200ms'] });
  const proc = run(ctx, 'echo marker-for-headroom; exit 0');
  const exit = await proc.waitForExit(30_000);
  assert.is(exit.code, 0, `${proc.stdout}\n${proc.stderr}`);
  const removed = () => findAll(ctx.cluster!.workDir, 'stdout').every((file) => !fs.readFileSync(file, 'utf8').includes('marker-for-headroom'));
  // The agent logs the removal once it is done: the files can be gone a moment before the line.
  await waitFor(() => removed() && /completed sandboxes removed before their gc_delay/.test(ctx.cluster!.agent.stderr), {
    timeoutMs: 15_000,
    message: () => `the completed sandbox removed, and the removal logged\n${ctx.cluster!.agent.stderr.slice(-3000)}`,
  });
});

output.run();
