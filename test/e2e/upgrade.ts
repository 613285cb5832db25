// What the upgrade tests share (issue 11): where the frozen 0.1.0 build is (test/fixtures/releases,
// made by scripts/freeze-release.mjs; never fetched), and a custom executor that sends numbered
// updates, linked with either build's ExecutorDriver, so a test can check that every update of a
// task that lived through an agent upgrade or rollback reached the framework, in order.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { FIXTURES } from '../helpers.js';
import type { Framework, RunPaths, Scenario } from './scenario.js';

const RELEASE_0_1_0 = path.join(FIXTURES, 'releases', '0.1.0');
/** The 0.1.0 CLI: `node OLD_CLI master|agent|run|shim|inspect …`. */
export const OLD_CLI = path.join(RELEASE_0_1_0, 'cli', 'main.js');
/** The 0.1.0 ExecutorDriver, as a custom executor imports it. */
export const OLD_DRIVER = path.join(RELEASE_0_1_0, 'executor.js');
/** This build's ExecutorDriver. */
export const NEW_DRIVER = fileURLToPath(new URL('../../src/executor/index.js', import.meta.url));

/**
 * A custom executor script (written to the scenario's fixtures dir) linked with `driver`: each
 * task reports TASK_RUNNING "seq 1", "seq 2", … every 100 ms (at most 200), and TASK_FINISHED once the file
 * `release-<taskId>` appears in its sandbox (TASK_KILLED on KILL or SHUTDOWN); it stops when it
 * has no task left.
 */
export function numberedExecutor(s: Scenario, driver: string, name: string): string {
  const file = path.join(s.fixtures, `${name}.mjs`);
  fs.writeFileSync(
    file,
    `
import fs from 'node:fs';
import { ExecutorDriver } from ${JSON.stringify(driver)};
const tasks = new Map();
const driver = new ExecutorDriver({
  onLaunch(task) {
    let seq = 0;
    tasks.set(task.taskId, setInterval(() => {
      if (fs.existsSync('release-' + task.taskId)) return void finish(task.taskId, 'TASK_FINISHED');
      if (seq >= 200) return;
      seq += 1;
      void driver.update({ taskId: task.taskId, state: 'TASK_RUNNING', message: 'seq ' + seq }).catch(() => {});
    }, 100));
  },
  onKill(taskId) { void finish(taskId, 'TASK_KILLED'); },
  onShutdown() { for (const taskId of [...tasks.keys()]) void finish(taskId, 'TASK_KILLED'); },
  onError(error) { console.error('numbered executor:', error.code, error.message); },
});
async function finish(taskId, state) {
  const timer = tasks.get(taskId);
  if (timer === undefined) return;
  clearInterval(timer);
  tasks.delete(taskId);
  await driver.update({ taskId, state }).catch((error) => console.error('numbered executor: update', error.message));
  if (tasks.size === 0) await driver.stop();
}
await driver.start();
`,
  );
  return file;
}

/** The sequence numbers a framework saw for a task, in arrival order, resent duplicates (same uuid) once. */
export function sequence(framework: Framework, taskId: string): number[] {
  const seen = new Set<string>();
  const numbers: number[] = [];
  for (const status of framework.of(taskId)) {
    const match = /^seq (\d+)$/.exec(status.message ?? '');
    if (!match || (status.uuid !== undefined && seen.has(status.uuid))) continue;
    if (status.uuid !== undefined) seen.add(status.uuid);
    numbers.push(Number(match[1]));
  }
  return numbers;
}

/** Every numbered update, 1..n, exactly once and in order. */
export function assertInOrder(framework: Framework, taskId: string, atLeast: number): void {
  const numbers = sequence(framework, taskId);
  assert.ok(numbers.length >= atLeast, `${taskId}: only ${numbers.length} numbered updates (wanted at least ${atLeast})`);
  assert.equal(numbers, numbers.map((_, i) => i + 1), `${taskId}: numbered updates 1..${numbers.length} in order`);
}

/** Every file under `dir` with its bytes (to compare a tree before and after). */
export function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string): void => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isSymbolicLink()) files.set(full, `-> ${fs.readlinkSync(full)}`);
      else if (entry.isFile()) files.set(full, fs.readFileSync(full).toString('base64'));
    }
  };
  walk(dir);
  return files;
}

/**
 * After the agent changed under them: three more numbered updates arrive, the command task `cmd`
 * and the custom executor's task `numbered` finish once released, every number came in order, and
 * nothing is left running.
 */
export async function finishInOrder(s: Scenario, fw: Framework, cmdRun: RunPaths, numberedRun: RunPaths): Promise<void> {
  const seen = sequence(fw, 'numbered').length;
  await fw.waitFor('numbered', 'TASK_RUNNING', { where: (status) => status.message === `seq ${seen + 3}`, timeoutMs: 15_000 });
  s.release(cmdRun);
  s.release(numberedRun, 'numbered');
  for (const id of ['cmd', 'numbered']) assert.is((await fw.waitTerminal(id, 15_000)).state, 'TASK_FINISHED', `${id}: ${fw.describe(id)}`);
  assertInOrder(fw, 'numbered', seen + 3);
  await s.expectNoProcesses();
}
