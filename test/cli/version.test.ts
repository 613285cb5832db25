// `lifeline --version` and `lifeline version` (issue 11): the release, the protocols it speaks and
// serves and its on-disk formats, as one line or as the /version JSON document.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI } from '../helpers.js';

const test = suite('lifeline version');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

test('--version, -V and version print one line with the release, protocols and formats', () => {
  for (const args of [['--version'], ['-V'], ['version']]) {
    const proc = run(...args);
    assert.is(proc.status, 0, proc.stderr);
    assert.is(proc.stdout, 'lifeline 0.2.0 (protocol 2, serves 1..2; checkpoint format 1, sandbox format 1)\n');
  }
});

test('version --json prints the /version document; a stray argument is a flag error', () => {
  const proc = run('version', '--json');
  assert.is(proc.status, 0);
  assert.equal(JSON.parse(proc.stdout), { version: '0.2.0', protocol: { current: 2, oldest: 1 }, formats: { checkpoint: 1, sandbox: 1 } });
  assert.is(run('version', '--nope').status, 2);
});

test.run();
