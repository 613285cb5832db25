import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuSeconds, cpuSecondsByPid } from '../../../harness/lib/proc-usage.js';

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

test('cpuSecondsByPid of the system part counts the kernel time alone: less than the total of a process that spun in JS', () => {
  let spin = 0;
  for (let i = 0; i < 5e7; i++) spin += i;
  const total = cpuSecondsByPid([process.pid]).get(process.pid)!;
  const system = cpuSecondsByPid([process.pid], 'system').get(process.pid)!;
  assert.ok(system >= 0 && system < total, `system ${system} s of ${total} s (spun ${spin > 0})`);
});

test.run();
