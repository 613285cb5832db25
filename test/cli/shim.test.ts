// cli/shim.ts: `lifeline shim` takes no flags or arguments, answers --help without loading the
// executor's code, and loads the command shim (import('../executor/command-shim.js')) only when it
// runs. Its main() is run in a child node process that imports the compiled module directly (not
// through main.js, which may load the one-file bundle instead), with NODE_DEBUG=esm listing every
// module loaded. Without the agent's LIFELINE_* environment the shim refuses to start at once: a
// safe way to see it run. (The bundle itself: shim-bundle.test.ts; a shim under an agent: e2e.)
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/shim.js';
import { FlagError } from '../../src/protocol/index.js';
import { cleanEnv } from './stand-in.js';

/** The compiled shim.ts next to this compiled test. */
const SHIM = new URL('../../src/cli/shim.js', import.meta.url).href;
const SRC = new URL('../../src/', import.meta.url).href;

/** Imports shim.js, runs main(argv), reports a rejection as one line `REJECTED <name> <code> <message>`. */
const RUNNER = `
const [url, ...argv] = process.argv.slice(1);
const { main } = await import(url);
main(argv).then(
  (code) => { process.exitCode = code; },
  (error) => { process.stderr.write('REJECTED ' + error.name + ' ' + error.code + ' ' + error.message + '\\n'); process.exitCode = 3; },
);
`;

function runShim(argv: string[]): { code: number | null; stdout: string; stderr: string; loaded: string[] } {
  const { status, signal, stdout, stderr } = spawnSync(process.execPath, ['--input-type=module', '-e', RUNNER, SHIM, ...argv], {
    encoding: 'utf8',
    timeout: 30_000,
    env: cleanEnv({ NODE_DEBUG: 'esm' }),
  });
  assert.is(signal, null, `the shim was killed by ${signal}`);
  const loaded = [...stderr.matchAll(/Translating StandardModule (\S+)/g)].map((match) => match[1]!);
  const ours = loaded.filter((url) => url.startsWith(SRC)).map((url) => url.slice(SRC.length));
  return { code: status, stdout, stderr: stderr.split('\n').filter((line) => !/^ESM \d+:|^\s|^[}\]]/.test(line) && line !== '').join('\n'), loaded: ours };
}

const Shim = suite('cli/shim');

Shim('refuses an argument or a flag with a FlagError, before loading anything', async () => {
  for (const [argv, pattern] of [
    [['extra'], /^unexpected argument "extra" for lifeline shim /],
    [['--task_id=t-1'], /^unknown flag --task_id for lifeline shim /],
  ] as Array<[string[], RegExp]>) {
    try {
      await main(argv);
      assert.unreachable(`${argv.join(' ')} was taken`);
    } catch (error) {
      assert.instance(error, FlagError, argv.join(' '));
      assert.match((error as Error).message, pattern);
    }
  }
});

Shim('answers --help with its usage, exit 0, loading none of the executor\'s modules', () => {
  const run = runShim(['--help']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Usage: lifeline shim \(no arguments; configured by the LIFELINE_\* environment the agent sets\)\n/);
  assert.ok(run.loaded.includes('cli/shim.js'), run.loaded.join(' '));
  const heavy = run.loaded.filter((module) => !module.startsWith('cli/') && !module.startsWith('protocol/'));
  assert.equal(heavy, [], `--help loaded ${heavy.join(', ')}`);
  assert.not.ok(run.loaded.includes('executor/command-shim.js'));
});

Shim('loads the command shim only when it runs, which without the agent\'s environment refuses at once', () => {
  const run = runShim([]);
  assert.is(run.code, 3, run.stderr);
  assert.match(run.stderr, /^REJECTED EnvironmentError ERR_ENVIRONMENT environment variable LIFELINE_AGENT_ENDPOINT is not set: /m);
  // After shim.js and what it imports itself: the command shim, and the executor's driver under it.
  const shim = run.loaded.indexOf('cli/shim.js');
  const commandShim = run.loaded.indexOf('executor/command-shim.js');
  assert.ok(shim !== -1 && commandShim > shim, run.loaded.join(' '));
  assert.ok(run.loaded.includes('executor/driver.js'), run.loaded.join(' '));
  // The executor side never loads the agent's or the master's code (STYLE: dependencies point one way).
  for (const module of run.loaded) assert.not.match(module, /^(agent|master|scheduler)\//, module);
  assert.equal(run.loaded.filter((module) => module.startsWith('cli/')).sort(), ['cli/flags.js', 'cli/shim.js']);
});

Shim.run();
