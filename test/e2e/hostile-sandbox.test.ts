// A task owns its sandbox and can put anything where its executor's files belong (issue 13 point
// 5): a FIFO or a link to /dev/zero in place of .lifeline/outbox.log must not block the agent's
// file reads or make it read gigabytes when the run ends. The run ends, the agent names the file,
// and it goes on serving.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { NewTaskInfo } from '../../src/scheduler/index.js';
import { waitFor } from '../helpers.js';
import { scenario, waitingTask, type ScenarioContext } from './scenario.js';

const Hostile = suite<ScenarioContext>('A task that replaces its executor\'s outbox.log');

Hostile.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

/** A command task that swaps .lifeline/outbox.log for what `replace` makes, then exits 0. */
function swapping(taskId: string, replace: string): NewTaskInfo {
  return { ...waitingTask(taskId), command: { value: `rm -f .lifeline/outbox.log && ${replace} && echo swapped` } };
}

for (const [what, replace] of [
  ['a FIFO', 'mkfifo .lifeline/outbox.log'],
  ['a link to /dev/zero', 'ln -s /dev/zero .lifeline/outbox.log'],
] as const) {
  Hostile(
    `${what}: the run ends with a warning naming the file, and the agent goes on serving`,
    scenario({}, async (s) => {
      await s.startAgent();
      const fw = await s.framework();
      await fw.launch([swapping('t1', replace)]);
      await fw.waitFor('t1', 'TASK_FINISHED');
      const run = s.run(fw, 't1');
      const outbox = path.join(run.sandbox, '.lifeline', 'outbox.log');
      // The run ended: its sentinel is written only after the outbox was read.
      await waitFor(() => fs.existsSync(path.join(run.meta, 'executor.sentinel')), { message: `executor.sentinel of ${run.containerId}` });
      const warning = s.agent!.stderr.split('\n').find((line) => line.includes('executor-written file refused') && line.includes(outbox));
      assert.ok(warning, `a warning naming ${outbox}`);
      assert.match(warning!, what === 'a FIFO' ? /regular file, found a special file/ : /symlink/);
      // The agent still serves: /state answers and a new task runs to its end.
      assert.is((await s.agentState()).status, 'RUNNING');
      const { run: next } = await s.launchRunning(fw, 't2');
      s.release(next);
      await fw.waitFor('t2', 'TASK_FINISHED');
      await s.expectNoProcesses();
    }),
  );
}

Hostile.run();
