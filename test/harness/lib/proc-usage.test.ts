import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuSeconds, cpuSecondsByPid, TICKS_PER_SECOND } from '../../../harness/lib/proc-usage.js';
import { readProcStat } from '../../../src/process/proc-stat.js';

const test = suite('proc-usage');

test('cpuSecondsByPid reads the processes still running and leaves a gone one out, where cpuSeconds reads 0', () => {
  const gone = spawnSync('true').pid!; // exited and reaped: no /proc entry
  let spin = 0;
  for (let i = 0; i < 2e7; i++) spin += i; // some CPU of our own
  const seconds = cpuSecondsByPid([process.pid, gone]);
  assert.equal([...seconds.keys()], [process.pid], `spun ${spin > 0}`);
  assert.ok(seconds.get(process.pid)! > 0);
  assert.is(cpuSeconds(gone), 0);
});

test('cpuSecondsByPid of the system part is the kernel time of /proc/<pid>/stat alone', () => {
  let spin = 0;
  for (let i = 0; i < 5e7; i++) spin += i;
  const statBefore = readProcStat(process.pid)!;
  const system = cpuSecondsByPid([process.pid], 'system').get(process.pid)!;
  const total = cpuSecondsByPid([process.pid]).get(process.pid)!;
  const statAfter = readProcStat(process.pid)!;
  assert.ok(system >= statBefore.stime / TICKS_PER_SECOND && system <= statAfter.stime / TICKS_PER_SECOND, `system ${system} s, stime ${statBefore.stime}–${statAfter.stime} ticks`);
  assert.ok(system < total, `system ${system} s of ${total} s (spun ${spin > 0})`);
});

test.run();
