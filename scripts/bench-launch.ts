// bench-launch (issue 5.5): how fast one agent starts command tasks, from the framework's ACCEPT to
// each task's TASK_RUNNING as the framework sees it, for a framework that checkpoints (the agent
// writes framework.json, executor.json, the run, forked.json and task.json durably before it
// launches) against one that does not, on the same agent build and flags, in one run.
//
// Everything is real: a master and an agent (the built CLI) per round, a SchedulerDriver in this
// process, one `lifeline shim` per task running `sleep 30`; every process is killed after the round.
//
//   node dist/scripts/bench-launch.js [--tasks=100] [--rounds=3] [--quick]
import os from 'node:os';
import { parseScriptFlags, runScript } from '../harness/lib/args.js';
import { cpuSeconds, totalCpuSeconds } from '../harness/lib/proc-usage.js';
import { barLine, printBar, printTable } from '../harness/lib/report.js';
import { median, percentile } from '../harness/lib/stats.js';
import { waitFor } from '../harness/helpers.js';
import { processesUnder, Scenario } from '../harness/scenario.js';
import { isTerminal, SchedulerDriver, type NewTaskInfo, type Offer } from '../src/scheduler/index.js';

type Mode = 'checkpoint' | 'no-checkpoint';
const MODES: readonly Mode[] = ['checkpoint', 'no-checkpoint'];

/** Room for the tasks, and the agent's default recovery timeout (a shim slow to subscribe on a loaded node keeps trying). */
const AGENT_FLAGS = ['--resources=cpus:64;mem:65536;disk:100000', '--recovery_timeout=15mins', '--executor_shutdown_grace_period=5secs'];

interface Round {
  /** ms from ACCEPT to each task's TASK_RUNNING at the framework. */
  latencies: number[];
  /** ms from ACCEPT to the last TASK_RUNNING (or failure). */
  wallMs: number;
  /** Tasks that failed instead of running (a shim that gave up on its first subscription). */
  failed: number;
  /** CPU seconds of the agent, and of the shims and their tasks, from ACCEPT to the last TASK_RUNNING. */
  agentCpu: number;
  shimCpu: number;
}

async function runRound(mode: Mode, tasks: number): Promise<Round> {
  const s = await Scenario.start();
  let driver: SchedulerDriver | undefined;
  try {
    await s.startAgent(AGENT_FLAGS);
    const offers: Offer[] = [];
    const running = new Map<string, number>();
    const failures = new Map<string, string>();
    driver = new SchedulerDriver({
      master: s.masterAddress,
      frameworkInfo: { name: `bench-launch-${mode}`, checkpoint: mode === 'checkpoint' },
      backoffMinMs: 50,
      backoffMaxMs: 500,
      onOffers: (received) => void offers.push(...received),
      onUpdate: (status) => {
        if (status.state === 'TASK_RUNNING' && !running.has(status.taskId)) running.set(status.taskId, Date.now());
        else if (isTerminal(status.state) && !running.has(status.taskId)) failures.set(status.taskId, `${status.state}: ${status.message ?? ''}`);
      },
      onError: () => {},
    });
    const frameworkId = await driver.start();
    const list: NewTaskInfo[] = [];
    for (let i = 0; i < tasks; i++) list.push({ taskId: `t-${i}`, name: `sleep ${i}`, resources: { cpus: 0.01, mem: 8 }, command: { value: 'sleep 30' } });
    const offer = await waitFor(() => offers.find((o) => o.resources.cpus >= tasks * 0.01 - 1e-9 && o.resources.mem >= tasks * 8), {
      timeoutMs: 30_000,
      message: `an offer for ${tasks} tasks (framework ${frameworkId})`,
    });
    const agentPid = s.agent!.pid;
    const agentBefore = cpuSeconds(agentPid);
    const accepted = Date.now();
    driver.accept([offer.id], list);
    await waitFor(() => running.size + failures.size >= tasks, {
      timeoutMs: 300_000,
      intervalMs: 10,
      message: `${tasks} tasks TASK_RUNNING or failed (${mode}): ${running.size} running, ${failures.size} failed\n${s.logs(2_000)}`,
    });
    const ended = Date.now();
    if (failures.size > 0) {
      const [taskId, why] = [...failures][0]!;
      process.stderr.write(`  ${failures.size} task(s) failed (${mode}), e.g. ${taskId}: ${why}\n`);
    }
    const agentCpu = cpuSeconds(agentPid) - agentBefore;
    // Every shim and its task started during the round: their whole CPU time is the launch's.
    const shimCpu = totalCpuSeconds(processesUnder(s.workDir).map((p) => p.pid));
    const latencies = [...running.values()].map((at) => at - accepted);
    return { latencies, wallMs: ended - accepted, failed: failures.size, agentCpu, shimCpu };
  } finally {
    await driver?.stop().catch(() => {});
    await s.cleanup();
  }
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench-launch', { tasks: 100, rounds: 3, quick: false });
  if (flags.quick) Object.assign(flags, { rounds: 1 });
  if (!Number.isSafeInteger(flags.tasks) || flags.tasks < 1) throw new TypeError(`bench-launch: --tasks must be a positive integer, got ${flags.tasks}`);
  if (!Number.isSafeInteger(flags.rounds) || flags.rounds < 1) throw new TypeError(`bench-launch: --rounds must be a positive integer, got ${flags.rounds}`);
  process.env.LIFELINE_LOG_LEVEL ??= 'warn';
  process.stdout.write(`bench-launch: ${flags.tasks} command tasks (sleep 30) per round, ${flags.rounds} round(s) per mode, ${os.cpus().length} cores\n`);
  const rounds = new Map<Mode, Round[]>(MODES.map((mode) => [mode, []]));
  for (let round = 1; round <= flags.rounds; round++) {
    const order = round % 2 === 1 ? MODES : [...MODES].reverse();
    for (const mode of order) {
      const r = await runRound(mode, flags.tasks);
      rounds.get(mode)!.push(r);
      process.stderr.write(`  ${mode} round ${round}: ${r.latencies.length} tasks running (${r.failed} failed) ${r.wallMs} ms after ACCEPT = ${((r.latencies.length * 1000) / r.wallMs).toFixed(1)}/s\n`);
    }
  }
  /** Tasks that reached TASK_RUNNING per second of the round (failed tasks do not count). */
  const rates = (mode: Mode) => rounds.get(mode)!.map((r) => (r.latencies.length * 1000) / r.wallMs);
  const rate = (mode: Mode) => median(rates(mode));
  const rows = MODES.map((mode) => {
    const list = rounds.get(mode)!;
    const latencies = list.flatMap((r) => r.latencies);
    const modeRates = rates(mode);
    return [
      mode === 'checkpoint' ? 'checkpoint: true' : 'checkpoint: false',
      rate(mode),
      `${Math.min(...modeRates).toFixed(1)}–${Math.max(...modeRates).toFixed(1)}`,
      list.reduce((sum, r) => sum + r.failed, 0),
      percentile(latencies, 50),
      percentile(latencies, 99),
      median(list.map((r) => r.wallMs)),
      (median(list.map((r) => r.agentCpu)) * 1000) / flags.tasks,
      (median(list.map((r) => r.shimCpu)) * 1000) / flags.tasks,
    ];
  });
  printTable(
    `Launch of ${flags.tasks} command tasks on one agent, ACCEPT → TASK_RUNNING at the framework, median of ${flags.rounds} round(s)`,
    ['framework', 'tasks/s', 'range', 'failed', 'p50 ms', 'p99 ms', 'all ms', 'agent CPU ms/task', 'shim CPU ms/task'],
    rows,
  );
  process.stdout.write('\n');
  printBar(barLine('launch', flags.tasks, 'tasks-per-second', rate('checkpoint'), 'ops/s', rate('no-checkpoint')));
  return 0;
}

runScript(main);
