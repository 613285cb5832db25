// Nothing is loaded from disk after start on the executor side (issue 11): an upgrade replaces the
// installed package under running executors. Here the agent, its shims and a custom executor run
// from a copy of this build (an "installed package"); with them running, the copy is deleted
// outright and the agent killed (kill -9); an agent started from elsewhere on the same work dir
// sees every executor re-subscribe and finish its tasks, which needed no file of the old copy.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive, removeDir, ROOT, tempDir } from '../helpers.js';
import { customTask, scenario, waitingTask, type ScenarioContext } from './scenario.js';
import { finishInOrder, numberedExecutor } from './upgrade.js';

const Files = suite<ScenarioContext & { installed?: string }>('Upgrade: the installed package replaced under running executors');

Files.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
  if (ctx.installed) removeDir(ctx.installed);
});

/** A copy of this build's dist/src and package.json, with node_modules linked: what `npm install -g` leaves. */
function install(): string {
  const dir = fs.realpathSync(tempDir('ll-pkg-'));
  fs.cpSync(path.join(ROOT, 'dist', 'src'), path.join(dir, 'dist', 'src'), { recursive: true, preserveTimestamps: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

Files(
  'deleting the installed package under running executors (shim and ExecutorDriver) breaks none of them: they re-subscribe to the next agent and finish',
  async (ctx) =>
    scenario({}, async (s) => {
      const installed = (ctx.installed = install());
      const cli = path.join(installed, 'dist', 'src', 'cli', 'main.js');
      const agent = await s.startAgent([], { cli });
      const fw = await s.framework({ name: 'files' });
      const executor = numberedExecutor(s, path.join(installed, 'dist', 'src', 'executor', 'index.js'), 'installed-numbered');
      await fw.launch([waitingTask('cmd'), customTask('numbered', 'numbered-executor', executor, fw.frameworkId)]);
      await fw.waitFor('cmd', 'TASK_RUNNING');
      await fw.waitFor('numbered', 'TASK_RUNNING', { where: (status) => status.message === 'seq 2' });
      const cmdRun = s.run(fw, 'cmd');
      const numberedRun = s.run(fw, 'numbered');
      const shims = [await s.shimWithTask(cmdRun, 'cmd'), s.shim(numberedRun)];

      fs.rmSync(installed, { recursive: true, force: true });
      assert.not.ok(fs.existsSync(cli), 'the installed package is gone');
      await s.killAgent(agent);
      await s.startAgent();
      const executors = (await s.agentState()).frameworks.flatMap((f) => f.executors);
      assert.equal(executors.map((e) => [e.id, e.state]).sort(), [['cmd', 'RUNNING'], ['numbered-executor', 'RUNNING']], 'both re-subscribed');
      assert.ok(shims.every((shim) => isAlive(shim.pid)));
      await finishInOrder(s, fw, cmdRun, numberedRun);
    })(ctx),
);

Files.run();
