import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, getJson, lifeline, removeDir, waitFor, type Proc } from '../helpers.js';
import { parsePercent } from '../../src/cli/master.js';
import { requireEtcd, startEtcd } from '../../harness/lib/etcd.js';
import { startMasterAt } from '../../harness/lib/masters.js';

// The high-availability flags of `lifeline master` (issue 12) and `lifeline state` finding the leader.
const Cli = suite<{ procs: Proc[]; dirs: string[] }>('lifeline master: registry and leader flags');
Cli.before.each((ctx) => {
  ctx.procs = [];
  ctx.dirs = [];
});
Cli.after.each(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  for (const dir of ctx.dirs) removeDir(dir);
});

Cli('--help names the registry flags and says what a master without one loses', async ({ procs }) => {
  const proc = lifeline(['master', '--help']);
  procs.push(proc);
  assert.is((await proc.waitForExit()).code, 0);
  for (const flag of ['--work_dir', '--registry', '--leader_lease_ttl', '--recovery_agent_removal_limit', '--advertise_ip']) assert.ok(proc.stdout.includes(flag), flag);
  assert.match(proc.stdout, /Without --work_dir or --registry the master keeps nothing/);
  assert.match(proc.stdout, /default: 10secs/);
  assert.match(proc.stdout, /default: 100%/);
});

Cli('bad registry flags exit 2 with one line naming the flag and the value', async ({ procs }) => {
  const cases: Array<[string[], RegExp]> = [
    [['--registry=etcd://127.0.0.1:2379'], /--registry: "etcd:\/\/127\.0\.0\.1:2379" \(no \/PREFIX/],
    [['--registry=http://h:1/p'], /--registry/],
    [['--recovery_agent_removal_limit=150%'], /--recovery_agent_removal_limit: "150%"/],
    [['--registry=etcd://h:1/p', '--work_dir=/tmp/x'], /--registry and --work_dir cannot be given together/],
  ];
  for (const [args, pattern] of cases) {
    const proc = lifeline(['master', `--port=${await freePort()}`, ...args]);
    procs.push(proc);
    assert.is((await proc.waitForExit()).code, 2, `${args.join(' ')}: ${proc.stderr}`);
    const lines = proc.stderr.trim().split('\n');
    assert.is(lines.length, 1, proc.stderr);
    assert.match(lines[0]!, pattern);
  }
});

Cli('percentages: 0% to 100% and fractions', () => {
  assert.is(parsePercent('100%', 'x'), 1);
  assert.is(parsePercent('12.5%', 'x'), 0.125);
  assert.is(parsePercent('0.3', 'x'), 0.3);
  for (const bad of ['101%', '-1%', 'half', '2', '']) assert.throws(() => parsePercent(bad, 'recovery_agent_removal_limit'), /--recovery_agent_removal_limit/);
});

Cli('agent, run and state refuse a bad --master naming it (a..b is no host)', async ({ procs }) => {
  for (const args of [['agent', '--master=a..b:5050', '--work_dir=/tmp/none'], ['run', '--master=a..b:5050', '--command=true'], ['state', '--master=a..b:5050']]) {
    const proc = lifeline(args);
    procs.push(proc);
    assert.is((await proc.waitForExit()).code, 2, `${args[0]}: ${proc.stderr}`);
    assert.match(proc.stderr, /invalid value for --master: "a\.\.b:5050"/);
  }
});

Cli('lifeline state --master finds the leader through a standby and through etcd', async (ctx) => {
  if (!requireEtcd('test/master/cli-ha.test.ts')) return;
  const etcd = await startEtcd();
  try {
    const url = `etcd://${etcd.endpoint}/cli-ha`;
    const first = await freePort();
    const second = await freePort();
    ctx.procs.push(await startMasterAt(first, [`--registry=${url}`, '--leader_lease_ttl=2secs']));
    // The first leads before the second campaigns.
    await waitFor(async () => ((await getJson(`http://127.0.0.1:${first}/state`)).body as { leading?: boolean }).leading === true, { message: 'first leads' });
    ctx.procs.push(await startMasterAt(second, [`--registry=${url}`, '--leader_lease_ttl=2secs']));
    await waitFor(async () => ((await getJson(`http://127.0.0.1:${second}/state`)).body as { leader?: string }).leader === `127.0.0.1:${first}`, { message: 'second names the leader' });
    for (const master of [`127.0.0.1:${second}`, `127.0.0.1:${second},127.0.0.1:${first}`, url]) {
      const proc = lifeline(['state', `--master=${master}`]);
      ctx.procs.push(proc);
      assert.is((await proc.waitForExit()).code, 0, proc.stderr);
      const state = JSON.parse(proc.stdout) as { leading: boolean; leader: string };
      assert.equal([state.leading, state.leader], [true, `127.0.0.1:${first}`], master);
    }
  } finally {
    await Promise.all(ctx.procs.map((proc) => proc.stop()));
    await etcd.stop();
  }
});

Cli.run();
