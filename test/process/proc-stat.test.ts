import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bootId, isSameProcess, parseProcStat, processIdentity, readProcStat } from '../../src/process/index.js';
import { FIXTURES, Proc, removeDir, tempDir, waitFor } from '../helpers.js';

const procs: Proc[] = [];
const dirs: string[] = [];
function start(command: string, args: string[], options = {}): Proc {
  const proc = new Proc(command, args, options);
  procs.push(proc);
  return proc;
}

const procStat = suite('proc stat');
procStat.after.each(async () => {
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  for (const dir of dirs.splice(0)) removeDir(dir);
});

procStat('parses fields after the last parenthesis, whatever the command name holds', () => {
  const fields = Array.from({ length: 49 }, (_, index) => String(index + 3));
  fields[0] = 'S'; // state (field 3)
  fields[1] = '41'; // ppid
  fields[2] = '42'; // pgrp
  fields[3] = '43'; // session
  fields[19] = '987654321'; // starttime (field 22)
  const stat = parseProcStat(`1234 (a) S 1 2 (b) ) ${fields.join(' ')}\n`);
  assert.equal(stat, { pid: 1234, comm: 'a) S 1 2 (b) ', state: 'S', ppid: 41, pgid: 42, sid: 43, startTime: 987654321, utime: 14, stime: 15 });
  assert.is(parseProcStat('garbage'), undefined);
  assert.is(parseProcStat('12 (x) S 1 2'), undefined);
});

procStat('reads a real child: parent, own group, and a start time that is stable across exec and JSON', async () => {
  const child = start('/bin/sh', ['-c', 'echo ready; read line; exec sleep 30'], { stdio: ['pipe', 'pipe', 'pipe'] });
  await child.waitForOutput(/ready/);
  const before = readProcStat(child.pid)!;
  assert.is(before.pid, child.pid);
  assert.is(before.ppid, process.pid);
  assert.is(before.comm, 'sh');
  assert.ok(Number.isSafeInteger(before.startTime) && before.startTime > 0);
  child.child.stdin!.end('go\n');
  const after = await waitFor(() => readProcStat(child.pid)?.comm === 'sleep' && readProcStat(child.pid), { message: 'exec of sleep' });
  assert.is(after.startTime, before.startTime);
  const identity = processIdentity(child.pid)!;
  assert.equal(JSON.parse(JSON.stringify(identity)), identity);
  assert.ok(isSameProcess(JSON.parse(JSON.stringify(identity))));
  child.signal('SIGKILL');
  await child.waitForExit();
  assert.not.ok(isSameProcess(identity), 'an exited process is not the same process');
});

procStat('parses a process whose name has spaces and parentheses', async () => {
  const dir = tempDir('ll-comm-');
  dirs.push(dir);
  const name = 'a) b (c';
  fs.symlinkSync('/bin/sleep', path.join(dir, name));
  const child = start(path.join(dir, name), ['30']);
  const stat = await waitFor(() => readProcStat(child.pid)?.comm === name && readProcStat(child.pid), { message: `comm ${JSON.stringify(name)}` });
  assert.is(stat.ppid, process.pid);
  assert.ok('RSD'.includes(stat.state), `state ${stat.state}`);
  assert.ok(isSameProcess({ pid: child.pid, startTime: stat.startTime }));
});

procStat('a zombie keeps its start time but is not the same process', async () => {
  const parent = start('/bin/sh', [path.join(FIXTURES, 'process-zombie.sh')]);
  const pid = Number((await parent.waitForOutput(/^(\d+)$/m))[1]);
  await waitFor(() => readProcStat(parent.pid)?.comm === 'sleep', { message: 'the fixture to exec sleep' });
  const alive = processIdentity(pid)!;
  assert.ok(isSameProcess(alive));
  process.kill(pid, 'SIGKILL');
  const zombie = await waitFor(() => readProcStat(pid)?.state === 'Z' && readProcStat(pid), { message: `zombie ${pid}` });
  assert.is(zombie.startTime, alive.startTime);
  assert.is(zombie.ppid, parent.pid);
  assert.equal(processIdentity(pid), { pid, startTime: zombie.startTime });
  assert.not.ok(isSameProcess({ pid, startTime: zombie.startTime }));
});

procStat('a recorded identity with another start time is not the same process', () => {
  const self = processIdentity(process.pid)!;
  assert.ok(isSameProcess(self));
  assert.not.ok(isSameProcess({ pid: process.pid, startTime: self.startTime + 1 }));
  assert.not.ok(isSameProcess({ pid: 4_194_304, startTime: self.startTime }), 'a pid above pid_max is nobody');
  assert.not.ok(isSameProcess({ pid: 0, startTime: 0 }), 'an invalid identity is nobody');
  assert.not.ok(isSameProcess({ pid: '1', startTime: 1 } as unknown as { pid: number; startTime: number }));
});

procStat('there is no process to read at an unused pid, and an invalid pid is refused', () => {
  assert.is(readProcStat(4_194_304), undefined);
  assert.is(processIdentity(4_194_304), undefined);
  assert.throws(() => readProcStat(0), /option pid must be a positive integer/);
  assert.throws(() => readProcStat(-1), /option pid/);
});

procStat('reads the host boot id', () => {
  assert.match(bootId(), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.is(bootId(), bootId());
});

procStat.run();
