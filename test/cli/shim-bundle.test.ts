// `lifeline shim` runs from one bundled file (scripts/bundle-shim.mjs, part of `npm run build`):
// the bundle must hold the shim's whole graph, be what `lifeline shim` loads, and throw the CLI's
// own error classes so that main.js still maps them to exit codes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI } from '../helpers.js';

const BUNDLE = fileURLToPath(new URL('../../src/cli/shim.bundle.js', import.meta.url));

/** Runs the built CLI to its end (these commands exit at once; the timeout only guards a hang). */
function lifelineSync(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const { status, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: status, stdout, stderr };
}

const bundle = suite('shim bundle');

bundle('imports nothing but Node built-ins and the shared error classes', () => {
  const text = fs.readFileSync(BUNDLE, 'utf8');
  const sources = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm), ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((match) => match[1]!);
  assert.ok(sources.length > 0, 'the bundle has no import at all: the pattern no longer matches its output');
  for (const source of sources) {
    assert.ok(source.startsWith('node:') || source === '../protocol/errors.js', `the bundle imports ${source}: it should be bundled or be a node: built-in`);
  }
  assert.match(text, /^export \{ main \};$/m);
});

bundle('is what `lifeline shim` loads, instead of the shim modules', () => {
  const proc = lifelineSync(['shim', '--help'], { ...process.env, NODE_DEBUG: 'esm' });
  assert.is(proc.code, 0);
  const loaded = [...proc.stderr.matchAll(/Translating StandardModule (\S+)/g)].map((match) => match[1]!.replace(/^.*\/dist\//, ''));
  assert.equal(loaded, ['src/cli/main.js', 'src/protocol/errors.js', 'src/cli/shim.bundle.js']);
  assert.match(proc.stdout, /^Usage: lifeline shim/);
});

bundle('throws the CLI error classes: a flag error still exits 2, an environment error 1 with its code', () => {
  const flagged = lifelineSync(['shim', 'extra']);
  assert.is(flagged.code, 2);
  assert.match(flagged.stderr, /^lifeline: unexpected argument "extra" for lifeline shim .*\n$/);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('LIFELINE_')) env[name] = value;
  const unconfigured = lifelineSync(['shim'], env);
  assert.is(unconfigured.code, 1);
  assert.match(unconfigured.stderr, /^lifeline: environment variable LIFELINE_AGENT_ENDPOINT is not set: .*\[ERR_ENVIRONMENT\]\n$/);
});

bundle.run();
