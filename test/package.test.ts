// The package as a user gets it (issue 10 point 6): `npm pack` of the built package, installed from
// the tarball into a fresh consumer project, imported as `lifeline`, `lifeline/executor` and
// `lifeline/scheduler` from ESM (run with node) and from TypeScript (`tsc --noEmit`, this repo's
// typescript and @types/node by path, so that only the package's own dependencies are installed).
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Proc, ROOT, removeDir, tempDir } from './helpers.js';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPE_ROOTS = path.join(ROOT, 'node_modules', '@types');
/** npm install fetches the dependencies (from the cache when it can): generous, it can take ~30 s. */
const INSTALL_DEADLINE_MS = 240_000;

const ESM_CONSUMER = `
import { ExecutorDriver, SchedulerDriver, LifelineError, isTerminal } from 'lifeline';
import * as executor from 'lifeline/executor';
import * as scheduler from 'lifeline/scheduler';
console.log(JSON.stringify({
  executor: typeof executor.ExecutorDriver,
  scheduler: typeof scheduler.SchedulerDriver,
  same: executor.ExecutorDriver === ExecutorDriver && scheduler.SchedulerDriver === SchedulerDriver,
  terminal: [scheduler.isTerminal('TASK_FINISHED'), isTerminal('TASK_RUNNING')],
  code: new LifelineError('ERR_TIMEOUT', 'a timeout').code,
}));
`;

const TS_CONSUMER = `
import { ExecutorDriver, SchedulerDriver, LifelineError, type ErrorCode, type TaskState } from 'lifeline';
import { ExecutorDriver as Driver, type ExecutorDriverOptions, type ExecutorUpdate } from 'lifeline/executor';
import { SchedulerDriver as Scheduler, isTerminal, type SchedulerDriverOptions, type Offer } from 'lifeline/scheduler';
const state: TaskState = 'TASK_RUNNING';
const code: ErrorCode = 'ERR_TIMEOUT';
const update: ExecutorUpdate = { taskId: 't1', state };
const terminal: boolean = isTerminal(state);
const offers: Offer[] = [];
const same: boolean = (Driver as unknown) === ExecutorDriver && (Scheduler as unknown) === SchedulerDriver;
export const checked = [update, terminal, code, offers, same, LifelineError] as const;
export type Checked = [ExecutorDriverOptions, SchedulerDriverOptions];
`;

/**
 * The environment without what `npm test` passes down to its scripts (npm_config_local_prefix and
 * the like): the consumer's npm must work on the consumer's directory, never on this repo.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { npm_config_update_notifier: 'false' };
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name)) env[name] = value;
  return env;
}

/** Runs a command to its end within `timeoutMs`; rejects with its output when it fails. */
async function exec(command: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  const proc = new Proc(command, args, { cwd, env: cleanEnv() });
  try {
    const { code, signal } = await proc.waitForExit(timeoutMs);
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code ?? signal}\n--- stdout\n${proc.stdout}\n--- stderr\n${proc.stderr}`);
    return proc.stdout;
  } finally {
    await proc.stop();
  }
}

const Package = suite('The packed package');
let dir = '';
let consumer = '';

Package.before(async () => {
  dir = tempDir('ll-pack-');
  consumer = path.join(dir, 'consumer');
  const packed = JSON.parse(await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT, 120_000)) as Array<{ filename: string }>;
  const tarball = path.join(dir, packed[0]!.filename);
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], consumer, INSTALL_DEADLINE_MS);
});

Package.after(() => {
  if (dir) removeDir(dir);
});

Package('imports lifeline, lifeline/executor and lifeline/scheduler from an ESM consumer and uses a named export of each', async () => {
  fs.writeFileSync(path.join(consumer, 'check.mjs'), ESM_CONSUMER);
  const out = JSON.parse(await exec(process.execPath, ['check.mjs'], consumer, 30_000));
  assert.equal(out, { executor: 'function', scheduler: 'function', same: true, terminal: [true, false], code: 'ERR_TIMEOUT' });
});

Package('type-checks a TypeScript consumer importing the three entries (tsc --noEmit)', async () => {
  fs.writeFileSync(path.join(consumer, 'check.ts'), TS_CONSUMER);
  const tsconfig = {
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'], typeRoots: [TYPE_ROOTS] },
    files: ['check.ts'],
  };
  fs.writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig));
  await exec(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer, 120_000);
});

Package('ships the entry of every exports condition it names (import and default alike)', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'lifeline', 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
  for (const [entry, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue;
    assert.ok(target.default, `${entry} has a default condition`);
    for (const file of Object.values(target)) assert.ok(fs.existsSync(path.join(consumer, 'node_modules', 'lifeline', file)), `${entry} → ${file} is in the package`);
  }
});

Package.run();
