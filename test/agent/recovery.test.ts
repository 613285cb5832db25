import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentInfoChangedError } from '../../src/agent/errors.js';
import { killTaskGroups, readOutboxStatuses, readShimInfo, runIdentity, runIsAlive, sameAgentInfo, shimOfRun, signalExecutor, terminateExecutor } from '../../src/agent/recovery.js';
import { writeJsonAtomic } from '../../src/checkpoint/atomic-write.js';
import { RecordLog } from '../../src/checkpoint/record-log.js';
import type { ShimInfo } from '../../src/checkpoint/shim-info.js';
import type { RecoveredRun } from '../../src/checkpoint/state.js';
import { listProcesses, processIdentity } from '../../src/process/index.js';
import { isAlive, removeDir, tempDir, waitFor } from '../helpers.js';

const test = suite('agent recovery functions');
let dir = '';
const pids: number[] = [];

test.before.each(() => {
  dir = tempDir('ll-rf-');
});

test.after.each(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  removeDir(dir);
});

function shim(overrides: Partial<ShimInfo> = {}): ShimInfo {
  return { pid: process.pid, startTime: processIdentity(process.pid)!.startTime, protocol: 1, executorId: 'e1', containerId: 'c1', tasks: [], ...overrides };
}

function run(overrides: Partial<RecoveredRun> = {}): RecoveredRun {
  return { containerId: 'c1', completed: false, sandbox: dir, tasks: [], ...overrides };
}

test('names a run\'s process by forked.json, else by a shim.json about the same run', () => {
  assert.equal(runIdentity(run({ forked: { pid: 10, startTime: 5 }, shim: shim() }), 'e1'), { pid: 10, startTime: 5 });
  const own = shim();
  assert.equal(runIdentity(run({ shim: own }), 'e1'), { pid: own.pid, startTime: own.startTime });
  assert.is(runIdentity(run({ shim: shim({ containerId: 'other' }) }), 'e1'), undefined, 'a shim.json about another run');
  assert.is(runIdentity(run(), 'e1'), undefined);
  assert.is(shimOfRun(shim({ executorId: 'e2' }), 'e1', 'c1'), undefined);
});

test('is alive only with the same start time, and never after a reboot', () => {
  const me = processIdentity(process.pid)!;
  assert.ok(runIsAlive(me, false));
  assert.not.ok(runIsAlive(me, true));
  assert.not.ok(runIsAlive({ pid: me.pid, startTime: me.startTime + 1 }, false));
  assert.not.ok(runIsAlive(undefined, false));
});

test('compares the recorded hostname and resources, and names both values when they differ', () => {
  const recorded = { hostname: 'h', resources: { cpus: 4, mem: 1024, disk: 10 } };
  assert.ok(sameAgentInfo(recorded, { hostname: 'h', resources: { cpus: 4, mem: 1024, disk: 10 } }));
  assert.not.ok(sameAgentInfo(recorded, { hostname: 'h2', resources: recorded.resources }));
  assert.not.ok(sameAgentInfo(recorded, { hostname: 'h', resources: { ...recorded.resources, disk: 11 } }));
  const error = new AgentInfoChangedError('/w/meta/agents/a1/agent.json', recorded, { hostname: 'h2', resources: { ...recorded.resources, mem: 2048 } }, '/w/meta/agents/latest');
  assert.is(error.code, 'ERR_RECOVERY');
  assert.match(error.message, /hostname "h" \(recorded\) vs "h2" \(now\)/);
  assert.match(error.message, /cpus:4;mem:1024;disk:10 \(recorded\) vs cpus:4;mem:2048;disk:10 \(now\)/);
  assert.match(error.message, /\/w\/meta\/agents\/latest/);
});

test('reads a sandbox\'s shim.json and outbox statuses, ignoring damage and other runs\' files', async () => {
  assert.is(await readShimInfo(dir, 'e1', 'c1'), undefined);
  assert.equal(await readOutboxStatuses(dir), []);
  fs.mkdirSync(path.join(dir, '.lifeline'));
  await writeJsonAtomic(path.join(dir, '.lifeline', 'shim.json'), shim());
  assert.is((await readShimInfo(dir, 'e1', 'c1'))?.pid, process.pid);
  assert.is(await readShimInfo(dir, 'e1', 'c2'), undefined);
  fs.writeFileSync(path.join(dir, '.lifeline', 'shim.json'), '{"pid": -1');
  assert.is(await readShimInfo(dir, 'e1', 'c1'), undefined);
  const log = await RecordLog.open(path.join(dir, '.lifeline', 'outbox.log'));
  const acked = { taskId: 't1', state: 'TASK_RUNNING' as const, uuid: '0b6a8a4e-6f51-4d7e-9d7c-2f0a4c1e8b10', timestamp: 1 };
  const status = { taskId: 't1', state: 'TASK_FINISHED' as const, uuid: '0b6a8a4e-6f51-4d7e-9d7c-2f0a4c1e8b11', timestamp: 2 };
  // The acknowledged one is in the agent's checkpoint already: only the other is replayed.
  await log.append([{ kind: 'UPDATE', status: acked }, { kind: 'ACK', uuid: acked.uuid }, { kind: 'UPDATE', status }]);
  await log.close();
  fs.appendFileSync(path.join(dir, '.lifeline', 'outbox.log'), Buffer.from([1, 2, 3])); // a torn tail
  assert.equal(await readOutboxStatuses(dir), [status]);
});

test('refuses, without blocking and without following, a FIFO, a link to /dev/zero and an oversized file, and says which file', async () => {
  fs.mkdirSync(path.join(dir, '.lifeline'));
  const outbox = path.join(dir, '.lifeline', 'outbox.log');
  const shimFile = path.join(dir, '.lifeline', 'shim.json');
  const notes: string[] = [];
  const note = (error: unknown, file: string) => void notes.push(`${file}: ${(error as Error).message}`);
  execFileSync('mkfifo', [outbox]);
  fs.symlinkSync('/dev/zero', shimFile);
  assert.equal(await readOutboxStatuses(dir, note), []);
  assert.is(await readShimInfo(dir, 'e1', 'c1', note), undefined);
  assert.is(notes.length, 2, notes.join('\n'));
  assert.match(notes[0]!, new RegExp(`^${outbox}: .*expected a regular file, found a special file`));
  assert.match(notes[1]!, new RegExp(`^${shimFile}: .*symlink`));
  fs.rmSync(shimFile);
  fs.writeFileSync(shimFile, Buffer.alloc(17 * 1024 * 1024, 0x20)); // over the 16 MiB cap of a JSON file
  notes.length = 0;
  assert.is(await readShimInfo(dir, 'e1', 'c1', note), undefined);
  assert.match(notes[0] ?? '', /more than the 16777216 such a file may have/);
  // A .lifeline that is a link is not followed either.
  fs.rmSync(path.join(dir, '.lifeline'), { recursive: true });
  fs.symlinkSync('/proc/self', path.join(dir, '.lifeline'));
  notes.length = 0;
  assert.equal(await readOutboxStatuses(dir, note), []);
  assert.match(notes[0] ?? '', /expected a directory, found a symlink/);
});

test('kills a recorded task group only while its leader has the recorded start time', async () => {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  pids.push(child.pid!);
  const identity = await waitFor(() => processIdentity(child.pid!), { message: 'the child' });
  assert.equal(killTaskGroups(shim({ tasks: [{ taskId: 't1', pgid: child.pid!, startTime: identity.startTime + 1 }] })), []);
  assert.ok(isAlive(child.pid!), 'another start time: not ours');
  assert.equal(killTaskGroups(shim({ tasks: [{ taskId: 't1', pgid: child.pid!, startTime: identity.startTime }] })), ['t1']);
  await waitFor(() => !isAlive(child.pid!), { message: 'the group to die' });
});

test('signals a recorded executor that is not its group\'s leader (sh -c without exec) by itself', async () => {
  const shell = spawn('/bin/sh', ['-c', 'sleep 30; true'], { detached: true, stdio: 'ignore' });
  pids.push(shell.pid!);
  const sleeper = await waitFor(() => listProcesses().find((stat) => stat.ppid === shell.pid && stat.comm === 'sleep'), { message: 'the sleep under sh' });
  const identity = { pid: sleeper.pid, startTime: sleeper.startTime };
  assert.not.ok(signalExecutor({ ...identity, startTime: identity.startTime + 1 }, 'SIGKILL'), 'another start time: not ours');
  assert.ok(isAlive(sleeper.pid));
  assert.ok(signalExecutor(identity, 'SIGKILL'));
  await waitFor(() => !isAlive(sleeper.pid), { message: 'the sleep to die' });
});

test('terminates a recorded executor group with SIGTERM, and leaves one with another start time alone', async () => {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  pids.push(child.pid!);
  const identity = await waitFor(() => processIdentity(child.pid!), { message: 'the child' });
  assert.is(await terminateExecutor({ ...identity, startTime: identity.startTime + 1 }, 100), null);
  assert.ok(isAlive(child.pid!));
  assert.is(await terminateExecutor(identity, 2_000), 'SIGTERM');
  await waitFor(() => !isAlive(child.pid!), { message: 'the child to die' });
});

test.run();
