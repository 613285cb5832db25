// --gc_disk_headroom: Mesos's age rule, the real disk usage of a real file system, and the watch
// that prunes with it (prune is a callback here: the RunCollector's part is tested in its own file).
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { diskUsage, DiskWatch, maxSandboxAgeMs } from '../../src/agent/disk-headroom.js';
import { removeDir, tempDir } from '../helpers.js';

const headroom = suite('agent/disk-headroom');
const WEEK = 7 * 86_400_000;

headroom('applies gc_delay × max(0, 1 − headroom − usage)', () => {
  assert.is(maxSandboxAgeMs(WEEK, 0.1, 0.4), WEEK * 0.5);
  assert.is(maxSandboxAgeMs(WEEK, 0.1, 0.9), 0, 'a disk at 90 % with 10 % headroom: every completed sandbox may go');
  assert.is(maxSandboxAgeMs(WEEK, 0.1, 0.97), 0, 'never negative');
  assert.is(maxSandboxAgeMs(WEEK, 0, 0), WEEK);
});

headroom('reads the usage of the file system holding a directory as df does', async () => {
  const dir = tempDir('ll-df-');
  try {
    const usage = await diskUsage(dir);
    assert.ok(usage >= 0 && usage <= 1, String(usage));
    // df's Use% is used / (used + available), rounded up.
    const df = spawnSync('df', ['--output=pcent', dir], { encoding: 'utf8' });
    const percent = Number(/(\d+)%/.exec(df.stdout)?.[1]);
    assert.ok(Math.abs(usage * 100 - percent) <= 1.5, `statfs ${usage * 100} % against df ${percent} %`);
  } finally {
    removeDir(dir);
  }
});

headroom('prunes only when the disk is fuller than the headroom allows, and reports a failure once', async () => {
  const dir = tempDir('ll-df-');
  try {
    const pruned: number[] = [];
    const errors: string[] = [];
    const usage = await diskUsage(dir);
    // A headroom the real disk is below: the allowed age falls under gc_delay and prune runs with it.
    const tight = new DiskWatch({ workDir: dir, gcDelayMs: WEEK, headroom: 1 - usage / 2, intervalMs: 60_000, prune: async (age) => (pruned.push(age), 2) });
    await tight.check();
    assert.is(pruned.length, 1);
    assert.ok(pruned[0]! < WEEK);
    // No headroom on an empty-enough disk: nothing is due before its gc_delay.
    const loose = new DiskWatch({ workDir: dir, gcDelayMs: WEEK, headroom: 0, intervalMs: 60_000, prune: async (age) => (pruned.push(age), 0) });
    if (usage === 0) await loose.check();
    assert.is(pruned.length, 1);
    const broken = new DiskWatch({ workDir: `${dir}/missing`, gcDelayMs: WEEK, headroom: 0.1, intervalMs: 60_000, prune: async () => 0, onError: (e) => errors.push(e.message) });
    await broken.check();
    await broken.check();
    assert.is(errors.length, 1, 'one report per episode');
    assert.match(errors[0]!, /ENOENT/);
    await Promise.all([tight.stop(), loose.stop(), broken.stop()]);
  } finally {
    removeDir(dir);
  }
});

headroom.run();
