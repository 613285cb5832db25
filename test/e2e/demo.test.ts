// `npm run demo` (scripts/demo.mjs) for real: it kills its agent with kill -9 while a task runs,
// restarts it, and prints the timeline of a task that never stopped and ended TASK_FINISHED.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Proc, ROOT } from '../helpers.js';

const Demo = suite<{ proc?: Proc }>('npm run demo');

Demo.after.each(async (ctx) => {
  await ctx.proc?.stop();
});

Demo('shows a task surviving kill -9 of its agent, with its timeline and output, and exits 0', async (ctx) => {
  ctx.proc = new Proc(process.execPath, [path.join(ROOT, 'scripts', 'demo.mjs')], { cwd: ROOT });
  const proc = ctx.proc;
  const exit = await proc.waitForExit(60_000);
  const out = proc.stdout;
  assert.is(exit.code, 0, `${out}\n${proc.stderr}`);
  assert.match(out, /==> kill -9 \d+ \(the agent\), while the task runs/);
  assert.match(out, /its executor \(pid \d+\) is still running/);
  assert.match(out, /disconnected; the task keeps running there, waiting up to 75s/);
  assert.match(out, /re-registered after \d+\.\d s/);
  assert.match(out, /\+ *\d+\.\d s {2}TASK_RUNNING[\s\S]*disconnected \(killed\)[\s\S]*re-registered after[\s\S]*TASK_FINISHED/);
  assert.match(out, /The task never stopped while its agent was killed and restarted, and ended TASK_FINISHED\./);
  assert.match(out, /tick 1\ntick 2\n[\s\S]*tick 8\ndone\n/);
});

Demo.run();
