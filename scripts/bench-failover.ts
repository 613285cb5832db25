// bench-failover (issue 12 §7): how long a leader's kill -9 costs, against the lease TTL that bounds
// it, and how long a lone master takes to restart with a registry of 10,000 agents.
//   failover: a real etcd and three `lifeline master --registry=etcd://…` processes; 20 agents (the
//     agent's own MasterLink, each its own connection, following etcd's leader as a `lifeline agent`
//     does) and a SchedulerDriver framework, in this process. After kill -9 of the leader, three
//     moments: a standby leads (/state), every agent re-registered with it (a new epoch), the
//     framework re-subscribed. Baseline: the lease TTL (the ratio says how much of it was spent).
//   registry-restart: `lifeline master --work_dir` spawned on a registry.json of N agents, until
//     /health answers and until /state lists them; baseline: the same on an empty work dir.
//
//   node dist/scripts/bench-failover.js                   TTLs 2 and 5 s, 20 agents, N = 10,000, 3 trials
//   node dist/scripts/bench-failover.js --quick           TTL 2 s, 1 trial
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { MasterLink } from '../src/agent/master-link.js';
import { FileRegistryStore } from '../src/master/registry-store-file.js';
import { SchedulerDriver } from '../src/scheduler/index.js';
import { freePort, getJson, removeDir, tempDir, waitFor, type Proc } from '../harness/helpers.js';
import { isMain, parseScriptFlags, runScript } from '../harness/lib/args.js';
import { etcdAvailable, startEtcd } from '../harness/lib/etcd.js';
import { kill9, masterState, startMasterAt } from '../harness/lib/masters.js';
import { barLine, printBar, printTable, type BarLine } from '../harness/lib/report.js';
import { median } from '../harness/lib/stats.js';

interface FailoverTrial {
  leader: number;
  agents: number;
  framework: number;
}

async function failoverTrial(ttlMs: number, agentCount: number): Promise<FailoverTrial> {
  const etcd = await startEtcd();
  const procs: Proc[] = [];
  const links: MasterLink[] = [];
  let driver: SchedulerDriver | undefined;
  try {
    const url = `etcd://${etcd.endpoint}/bench-failover`;
    const flags = [`--registry=${url}`, `--leader_lease_ttl=${ttlMs}ms`, '--agent_reregister_timeout=60secs'];
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      procs.push(await startMasterAt(port, flags));
      ports.push(port);
    }
    const leaderOf = async (candidates: number[]) => {
      for (const port of candidates) if ((await masterState(port))?.leading) return port;
      return undefined;
    };
    const first = await waitFor(() => leaderOf(ports), { timeoutMs: 20_000, message: 'a leader' });
    const firstEpoch = (await masterState(first))!.epoch!;

    const epochs = new Map<number, number>();
    const ids = new Map<number, string>();
    for (let i = 0; i < agentCount; i++) {
      const link: MasterLink = new MasterLink({
        master: url,
        backoffFactorMs: 100,
        maxBackoffMs: 1_000,
        registration: () => {
          const agentInfo = { hostname: `bench-agent-${i}`, resources: { cpus: 1, mem: 1024, disk: 1024 }, checkpoint: true };
          const id = ids.get(i);
          return id === undefined ? { type: 'REGISTER', agentInfo } : { type: 'REREGISTER', agentInfo: { ...agentInfo, id }, frameworks: [], executors: [], tasks: [] };
        },
        onRegistered: (event) => {
          ids.set(i, event.agentId);
          epochs.set(i, link.epoch);
        },
        onEvent: () => {},
        onDisconnected: () => {},
      });
      links.push(link);
      link.start();
    }
    let subscriptions = 0;
    let resubscribedAt = 0;
    driver = new SchedulerDriver({
      master: url,
      frameworkInfo: { name: 'bench-failover', checkpoint: true, failoverTimeoutMs: 60_000 },
      backoffMinMs: 50,
      backoffMaxMs: 500,
      onSubscribed: () => {
        subscriptions += 1;
        if (subscriptions === 2) resubscribedAt = performance.now();
      },
      onOffers: (offers) => driver!.decline(offers.map((offer) => offer.id), 3600),
      onError: () => {},
    });
    void driver.start().catch(() => {});
    await waitFor(() => epochs.size === agentCount && subscriptions === 1, { timeoutMs: 30_000, message: 'every agent registered and the framework subscribed' });

    const killed = performance.now();
    await kill9(procs.find((proc) => proc.child.spawnargs.includes(`--port=${first}`))!);
    const rest = ports.filter((port) => port !== first);
    await waitFor(() => leaderOf(rest), { timeoutMs: ttlMs + 30_000, intervalMs: 20, message: 'a new leader' });
    const led = performance.now();
    await waitFor(() => [...epochs.values()].every((epoch) => epoch > firstEpoch) && epochs.size === agentCount, { timeoutMs: 60_000, intervalMs: 10, message: 'every agent re-registered with the new leader' });
    const agentsBack = performance.now();
    await waitFor(() => resubscribedAt > 0, { timeoutMs: 60_000, intervalMs: 10, message: 'the framework re-subscribed' });
    return { leader: led - killed, agents: agentsBack - killed, framework: resubscribedAt - killed };
  } finally {
    await driver?.stop();
    await Promise.all(links.map((link) => link.close()));
    await Promise.all(procs.map((proc) => proc.stop()));
    await etcd.stop();
  }
}

async function restartTrial(agents: number): Promise<{ health: number; state: number }> {
  const dir = tempDir('ll-bench-registry-');
  try {
    if (agents > 0) {
      const store = new FileRegistryStore(dir);
      await store.load();
      await store.apply(Array.from({ length: agents }, (_, i) => ({ op: 'admit' as const, agent: { id: `bench-agent-${i}`, hostname: `host-${i}`, checkpoint: true, resources: { cpus: 8, mem: 16384, disk: 100000 }, address: `10.0.${i >> 8}.${i & 255}:5051` } })));
    }
    const port = await freePort();
    const started = performance.now();
    const master = await startMasterAt(port, [`--work_dir=${dir}`, '--agent_reregister_timeout=10mins']);
    const health = performance.now() - started;
    try {
      await waitFor(async () => ((await getJson(`http://127.0.0.1:${port}/state`)).body as { agents?: unknown[] }).agents?.length === agents, { timeoutMs: 60_000, intervalMs: 10, message: `${agents} agents in /state` });
      return { health, state: performance.now() - started };
    } finally {
      await master.stop();
    }
  } finally {
    removeDir(path.resolve(dir));
  }
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench-failover', { quick: false, ttls: '2000,5000', agents: 20, registry: 10_000, trials: 3 });
  const ttls = (flags.quick ? '2000' : flags.ttls).split(',').map(Number);
  const trials = flags.quick ? 1 : flags.trials;
  const lines: BarLine[] = [];
  const rows: Array<Array<string | number>> = [];
  if (!etcdAvailable()) {
    process.stdout.write('bench-failover: no etcd on the PATH (apt-get install etcd-server): failover not measured\n');
  } else {
    for (const ttl of ttls) {
      const results: FailoverTrial[] = [];
      for (let t = 0; t < trials; t++) results.push(await failoverTrial(ttl, flags.agents));
      const of = (key: keyof FailoverTrial) => median(results.map((r) => r[key]));
      rows.push([`TTL ${ttl} ms`, of('leader'), of('agents'), of('framework')]);
      lines.push(barLine('failover', flags.agents, `leader-ttl-${ttl}`, of('leader'), 'ms', ttl));
      lines.push(barLine('failover', flags.agents, `agents-reregistered-ttl-${ttl}`, of('agents'), 'ms', ttl));
      lines.push(barLine('failover', flags.agents, `framework-resubscribed-ttl-${ttl}`, of('framework'), 'ms', ttl));
    }
    printTable(`bench-failover: ms from kill -9 of the leader (medians of ${trials} trial(s), ${flags.agents} agents, 1 framework, 3 masters)`, ['lease', 'a standby leads', 'every agent re-registered', 'framework re-subscribed'], rows);
  }
  const empty: Array<{ health: number; state: number }> = [];
  const full: Array<{ health: number; state: number }> = [];
  for (let t = 0; t < trials; t++) {
    empty.push(await restartTrial(0));
    full.push(await restartTrial(flags.registry));
  }
  const m = (list: Array<{ health: number; state: number }>, key: 'health' | 'state') => median(list.map((r) => r[key]));
  printTable(`bench-failover: ms from spawning a master with --work_dir until it answers (medians of ${trials} trial(s))`, ['registry', '/health', `/state lists them`], [
    ['empty', m(empty, 'health'), m(empty, 'state')],
    [`${flags.registry} agents`, m(full, 'health'), m(full, 'state')],
  ]);
  lines.push(barLine('registry-restart', flags.registry, 'health', m(full, 'health'), 'ms', m(empty, 'health')));
  process.stdout.write('\n');
  for (const line of lines) printBar(line);
  return 0;
}

if (isMain(import.meta.url)) runScript(main);
