// The systemd units under examples/systemd/: what an operator copies must start the right way
// (Type=exec, a user of its own), keep executors alive across agent restarts (KillMode=process),
// and hand journald each log line's priority (SyslogLevelPrefix); systemd-analyze checks the rest.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../../harness/helpers.js';

const DIR = path.join(ROOT, 'examples', 'systemd');
const UNITS = ['lifeline-agent.service', 'lifeline-master.service'];

/** Key=value settings of one unit (continuation lines joined; comments dropped). */
function settings(file: string): Map<string, string[]> {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8').replace(/\\\n/g, ' ');
  const found = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) found.set(match[1]!, [...(found.get(match[1]!) ?? []), match[2]!.trim()]);
  }
  return found;
}

const test = suite('examples/systemd units');

for (const unit of UNITS) {
  test(`${unit} starts with Type=exec as a user of its own and gives journald each line's priority`, () => {
    const s = settings(unit);
    assert.equal(s.get('Type'), ['exec']);
    assert.ok(s.get('User')?.[0] && s.get('User')![0] !== 'root', 'User= is set, and not root');
    assert.equal(s.get('SyslogLevelPrefix'), ['yes']);
    assert.equal(s.get('StandardError'), ['journal']);
    assert.match(s.get('ExecStart')![0]!, /main\.js (agent|master) /);
  });
}

test('the agent unit signals the agent alone, so its executors outlive a restart', () => {
  const s = settings('lifeline-agent.service');
  assert.equal(s.get('KillMode'), ['process']);
  assert.equal(s.get('RuntimeDirectoryPreserve'), ['yes']);
});

test('systemd-analyze verify finds nothing to complain about in either unit (skipped without systemd-analyze)', () => {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  if (which.status !== 0) {
    console.log('  (skipped: no systemd-analyze on this host)');
    return;
  }
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'll-units-'));
  try {
    for (const unit of UNITS) fs.copyFileSync(path.join(DIR, unit), path.join(copy, unit));
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...UNITS.map((unit) => path.join(copy, unit))], { encoding: 'utf8', timeout: 30_000 });
    // Only complaints about the units themselves count: the paths they name (/opt/lifeline, the
    // lifeline user) are the operator's to create.
    const complaints = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.includes(copy) && !/Command .* is not executable|No such file or directory/.test(line));
    assert.equal(complaints, []);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

test.run();
