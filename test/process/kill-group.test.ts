import type { SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  groupIsEmpty,
  groupMembers,
  isSameProcess,
  killGroup,
  processIdentity,
  readProcStat,
  terminateGroup,
  type GroupIdentity,
  type ProcessIdentity,
} from '../../src/process/index.js';
import { FIXTURES, Proc, waitFor, withTimeout } from '../helpers.js';

const procs: Proc[] = [];
const groups: number[] = [];

/** Starts `sh -c script` detached, as the leader of its own process group. */
function startGroup(script: string, options: SpawnOptions = {}): Proc {
  const proc = new Proc('/bin/sh', ['-c', script], { detached: true, ...options });
  procs.push(proc);
  groups.push(proc.pid);
  return proc;
}

function identityOf(proc: Proc): GroupIdentity {
  return { pgid: proc.pid, leaderStartTime: readProcStat(proc.pid)!.startTime };
}

function memberIdentities(pgid: number): ProcessIdentity[] {
  return groupMembers(pgid).map((stat) => ({ pid: stat.pid, startTime: stat.startTime }));
}

const killing = suite('process group kill');
killing.after.each(async () => {
  // Only the groups these tests started.
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
});

killing('terminateGroup kills a detached group, grandchildren included, with SIGTERM', async () => {
  const leader = startGroup('sleep 30 & echo started; sleep 30');
  await leader.waitForOutput(/started/);
  const group = identityOf(leader);
  const members = await waitFor(() => {
    const found = memberIdentities(group.pgid);
    return found.length >= 2 && found.some((member) => member.pid !== leader.pid) && found;
  }, { message: 'the group leader and its background child' });
  const result = await withTimeout(terminateGroup(group, 5_000), 10_000, 'terminateGroup');
  assert.equal(result, { signal: 'SIGTERM', timedOut: false, leader: 'alive' });
  assert.ok(groupIsEmpty(group.pgid));
  for (const member of members) assert.not.ok(isSameProcess(member), `member ${member.pid} is gone`);
  assert.equal(await leader.waitForExit(), { code: null, signal: 'SIGTERM' });
});

killing('a group that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const leader = startGroup('trap "" TERM; sleep 30 & echo ready; wait');
  await leader.waitForOutput(/ready/);
  const group = identityOf(leader);
  const members = await waitFor(() => {
    const found = memberIdentities(group.pgid);
    return found.length >= 2 && found;
  }, { message: 'the group leader and its background child' });
  const result = await withTimeout(terminateGroup(group, 200), 10_000, 'terminateGroup');
  assert.equal(result, { signal: 'SIGKILL', timedOut: true, leader: 'alive' });
  assert.ok(groupIsEmpty(group.pgid));
  for (const member of members) assert.not.ok(isSameProcess(member), `member ${member.pid} is gone`);
  assert.equal(await leader.waitForExit(), { code: null, signal: 'SIGKILL' });
});

killing('refuses pgid 1, 0, negative and non-integer pgids', async () => {
  for (const pgid of [1, 0, -1, -1234, 1.5, Number.NaN]) {
    assert.throws(() => killGroup({ pgid, leaderStartTime: 1 }, 'SIGTERM'), /option pgid must be an integer greater than 1/, `pgid ${pgid}`);
    try {
      await terminateGroup({ pgid, leaderStartTime: 1 }, 10);
      assert.unreachable(`expected pgid ${pgid} to be refused`);
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_INVALID_OPTION');
    }
  }
});

killing('does not signal a group whose leader has another start time (pid reused)', async () => {
  const leader = startGroup('echo ready; exec sleep 30');
  await leader.waitForOutput(/ready/);
  const group = identityOf(leader);
  const impostor = { pgid: group.pgid, leaderStartTime: group.leaderStartTime - 1 };
  assert.equal(killGroup(impostor, 'SIGKILL'), { signalled: false, leader: 'replaced' });
  assert.equal(await terminateGroup(impostor, 10), { signal: null, timedOut: false, leader: 'replaced' });
  assert.ok(isSameProcess({ pid: group.pgid, startTime: group.leaderStartTime }), 'the real process lives on');
});

killing('leaves the members of a group whose leader exited alone, unless told they are orphans', async () => {
  const leader = startGroup('echo ready; read line; sleep 30 & echo "$!"', { stdio: ['pipe', 'pipe', 'pipe'] });
  await leader.waitForOutput(/ready/);
  const group = identityOf(leader);
  leader.child.stdin!.end('go\n');
  const memberPid = Number((await leader.waitForOutput(/^(\d+)$/m))[1]);
  await leader.waitForExit();
  const member = processIdentity(memberPid)!;
  assert.equal(killGroup(group, 'SIGTERM'), { signalled: false, leader: 'exited' });
  assert.equal(await terminateGroup(group, 10), { signal: null, timedOut: false, leader: 'exited' });
  assert.ok(isSameProcess(member));
  const result = await withTimeout(terminateGroup(group, 5_000, { orphans: true }), 10_000, 'terminateGroup');
  assert.equal(result, { signal: 'SIGTERM', timedOut: false, leader: 'exited' });
  assert.not.ok(isSameProcess(member));
});

killing('signals a group whose leader is a zombie with the recorded start time', async () => {
  const parent = new Proc('/bin/sh', [path.join(FIXTURES, 'process-zombie-leader.sh')]);
  procs.push(parent);
  const pgid = Number((await parent.waitForOutput(/^(\d+)$/m))[1]);
  groups.push(pgid);
  await waitFor(() => readProcStat(parent.pid)?.comm === 'sleep' && readProcStat(pgid)?.comm === 'sleep' && groupMembers(pgid).length === 2, {
    message: 'the fixture and the group leader to exec sleep, and the member to start',
  });
  process.kill(pgid, 'SIGKILL');
  const zombie = await waitFor(() => readProcStat(pgid)?.state === 'Z' && readProcStat(pgid), { message: `zombie leader ${pgid}` });
  const members = memberIdentities(pgid);
  assert.is(members.length, 1);
  const result = await withTimeout(terminateGroup({ pgid, leaderStartTime: zombie.startTime }, 5_000), 10_000, 'terminateGroup');
  assert.equal(result, { signal: 'SIGTERM', timedOut: false, leader: 'zombie' });
  assert.not.ok(isSameProcess(members[0]!));
});

killing('an empty or missing group counts as empty', () => {
  assert.ok(groupIsEmpty(4_194_304));
});

killing.run();
