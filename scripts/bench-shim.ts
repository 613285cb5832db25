// bench-shim (issue 5 §4, DESIGN §10): what one more executor costs a node. A real master, a real
// agent and a framework launch command tasks (`exec sleep 3600`), so every shim measured is a
// `lifeline shim` spawned by the agent exactly as in production. Three bars:
//   shim-rss      peak RSS (VmHWM of /proc/<pid>/status, polled until the shim exits) of one shim
//                 that runs a task, is killed and reports it; baseline: a bare idle `node` of the
//                 same binary, same measure. Median of --trials.
//   shim-start    spawn → TASK_RUNNING, as the agent measures it (performance.now() before spawn(),
//                 then on receipt of the first TASK_RUNNING; its log line "executor reported
//                 TASK_RUNNING"); baseline: spawn of a bare `node -e` that connects to a Unix socket
//                 and writes one byte, until this script receives the byte. Median of --trials,
//                 shim and baseline trials interleaved so that both see the same machine load.
//   shim-private  --shims shims at once: each one's Private_Clean + Private_Dirty (and Pss) from
//                 /proc/<pid>/smaps_rollup, median, in the steady state (STEADY_MS after the last
//                 TASK_RUNNING; the table also shows it at SETTLE_MS); baseline: as many bare idle
//                 `node` processes, read STEADY_MS after their spawn.
//
//   node dist/scripts/bench-shim.js [--quick] [--trials=N] [--shims=N]
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseScriptFlags, runScript } from '../harness/lib/args.js';
import { barLine, printBar, printTable } from '../harness/lib/report.js';
import { memoryOf, smapsRollup } from '../harness/lib/proc-usage.js';
import { median } from '../harness/lib/stats.js';
import { Scenario, type Framework } from '../harness/scenario.js';
import { removeDir, tempDir, waitFor } from '../harness/helpers.js';
import type { NewTaskInfo } from '../src/scheduler/index.js';

/** A bare Node.js that stays up doing nothing, to be measured like a shim. */
const IDLE_NODE = ['-e', 'setTimeout(() => {}, 3_600_000)'];
/** How long processes are left to settle before their memory is read. */
const SETTLE_MS = 1_500;
/**
 * When the steady state is read: V8's memory reducer gives back the start-up garbage about 8 s
 * after a process goes quiet, and a shim lives as long as its task (minutes to months).
 */
const STEADY_MS = 20_000;

/** Peak RSS (VmHWM) of one process in MiB; undefined once it is gone. */
const peakMiB = (pid: number): number | undefined => memoryOf(pid)?.peakMiB;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A command task that runs until it is killed; `exec` so the task is the `sleep` itself. */
function sleepingTask(taskId: string): NewTaskInfo {
  return { taskId, name: taskId, resources: { cpus: 0.01, mem: 1 }, command: { value: 'exec sleep 3600' } };
}

/** The agent's own measure of an executor's start-up, from its log line (see src/agent/executor-sessions.ts). */
async function agentStartup(s: Scenario, executorId: string): Promise<{ startupMs: number; pid: number }> {
  return waitFor(
    () => {
      for (const line of s.agent!.stderr.split('\n')) {
        if (!line.includes('executor reported TASK_RUNNING') || !line.includes(executorId)) continue;
        const entry = JSON.parse(line) as { executorId?: string; startupMs?: number; executorPid?: number };
        if (entry.executorId === executorId && entry.startupMs !== undefined && entry.executorPid !== undefined) return { startupMs: entry.startupMs, pid: entry.executorPid };
      }
      return undefined;
    },
    { timeoutMs: 60_000, message: `the agent's "executor reported TASK_RUNNING" line for ${executorId}` },
  );
}

/** Polls a process's VmHWM until it is gone; returns the last value read (its peak, read just before it exited). */
async function followPeak(pid: number, timeoutMs = 30_000): Promise<number> {
  let last = peakMiB(pid) ?? Number.NaN;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const now = peakMiB(pid);
    if (now === undefined) return last;
    last = now;
    if (performance.now() > deadline) throw new Error(`shim ${pid} did not exit within ${timeoutMs} ms of its task's kill`);
    await sleep(5);
  }
}

/** One shim trial: launch, TASK_RUNNING (the agent's spawn → TASK_RUNNING), kill, peak RSS until it exits. */
async function shimTrial(s: Scenario, fw: Framework, taskId: string): Promise<{ startupMs: number; peakMiB: number }> {
  await fw.launch([sleepingTask(taskId)], 60_000);
  await fw.waitFor(taskId, 'TASK_RUNNING', { timeoutMs: 60_000 });
  const { startupMs, pid } = await agentStartup(s, taskId);
  // Running a while (heartbeats, a GC), then the kill and its report: the peak covers all of it.
  await sleep(300);
  fw.driver.kill(taskId);
  const peakMiB = await followPeak(pid);
  await fw.waitFor(taskId, 'TASK_KILLED', { timeoutMs: 30_000 });
  return { startupMs, peakMiB };
}

/** Spawn of a bare `node -e` that connects to `socketPath` and writes one byte → the byte arrives here. */
async function bareStartTrial(server: net.Server, socketPath: string): Promise<number> {
  const arrived = new Promise<number>((resolve) => {
    server.once('connection', (socket) => {
      socket.once('data', () => resolve(performance.now()));
      socket.on('error', () => {});
    });
  });
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(socketPath)}).end('x')`], { stdio: 'ignore' });
  const at = await arrived;
  await new Promise((resolve) => child.once('exit', resolve));
  return at - started;
}

/** Peak RSS of a bare idle node, read after it settled. */
async function bareRssTrial(): Promise<number> {
  const child = spawn(process.execPath, IDLE_NODE, { stdio: 'ignore' });
  try {
    await sleep(SETTLE_MS / 3);
    return await waitFor(() => peakMiB(child.pid!), { message: 'a bare node in /proc' });
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench-shim', { quick: false, trials: 0, shims: 0 });
  const trials = flags.trials || (flags.quick ? 3 : 9);
  const shims = flags.shims || (flags.quick ? 10 : 50);
  // Info is enough (the start-up line is info); debug logging would slow the agent being measured.
  process.env.LIFELINE_LOG_LEVEL ??= 'info';
  const s = await Scenario.start();
  const socketDir = tempDir('ll-bench-sock-');
  const socketPath = path.join(socketDir, 'bare.sock');
  const server = net.createServer();
  const bare: ChildProcess[] = [];
  try {
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    await s.startAgent([`--resources=cpus:${Math.max(64, shims)};mem:${Math.max(65_536, shims * 64)};disk:100000`]);
    const fw = await s.framework({ name: 'bench-shim', checkpoint: true });

    // One warm-up of each (page cache, the agent's first framework checkpoint), not counted.
    await shimTrial(s, fw, 'warmup');
    await bareStartTrial(server, socketPath);

    const shimStart: number[] = [];
    const shimPeak: number[] = [];
    const bareStart: number[] = [];
    const barePeak: number[] = [];
    for (let i = 0; i < trials; i++) {
      const trial = await shimTrial(s, fw, `start-${i}`);
      shimStart.push(trial.startupMs);
      shimPeak.push(trial.peakMiB);
      bareStart.push(await bareStartTrial(server, socketPath));
      barePeak.push(await bareRssTrial());
    }

    // Many at once: every shim's private memory while they all run.
    const ids = Array.from({ length: shims }, (_, i) => `many-${i}`);
    await fw.launch(ids.map(sleepingTask), 120_000);
    await Promise.all(ids.map((id) => fw.waitFor(id, 'TASK_RUNNING', { timeoutMs: 180_000 })));
    const pids = await Promise.all(ids.map(async (id) => (await agentStartup(s, id)).pid));
    const runningAt = performance.now();
    await sleep(SETTLE_MS);
    const shimEarly = pids.map((pid) => smapsRollup(pid)).filter((m) => m !== undefined);
    await sleep(STEADY_MS - (performance.now() - runningAt));
    const shimMemory = pids.map((pid) => smapsRollup(pid)).filter((m) => m !== undefined);
    if (shimMemory.length !== shims || shimEarly.length !== shims) throw new Error(`only ${shimMemory.length} of ${shims} shims could be read in /proc`);
    for (const id of ids) fw.driver.kill(id);
    await Promise.all(ids.map((id) => fw.waitFor(id, 'TASK_KILLED', { timeoutMs: 120_000 })));
    await waitFor(() => pids.every((pid) => peakMiB(pid) === undefined), { timeoutMs: 60_000, message: 'every shim to exit' });

    for (let i = 0; i < shims; i++) bare.push(spawn(process.execPath, IDLE_NODE, { stdio: 'ignore' }));
    await sleep(STEADY_MS);
    const bareMemory = bare.map((child) => smapsRollup(child.pid!)).filter((m) => m !== undefined);
    if (bareMemory.length !== shims) throw new Error(`only ${bareMemory.length} of ${shims} bare nodes could be read in /proc`);

    const med = (xs: number[]) => median(xs);
    const rows: Array<Array<string | number>> = [
      ['peak RSS, 1 shim (MiB)', trials, med(shimPeak), Math.min(...shimPeak), Math.max(...shimPeak), med(barePeak), 'bare idle node, VmHWM'],
      ['spawn → TASK_RUNNING (ms)', trials, med(shimStart), Math.min(...shimStart), Math.max(...shimStart), med(bareStart), 'bare node -e: spawn → 1 byte on a Unix socket'],
      [`private, ${shims} at once, at ${SETTLE_MS / 1000} s (MiB)`, shims, med(shimEarly.map((m) => m.privateMiB)), Math.min(...shimEarly.map((m) => m.privateMiB)), Math.max(...shimEarly.map((m) => m.privateMiB)), '-', 'not measured'],
      [`PSS, ${shims} at once, at ${SETTLE_MS / 1000} s (MiB)`, shims, med(shimEarly.map((m) => m.pssMiB)), Math.min(...shimEarly.map((m) => m.pssMiB)), Math.max(...shimEarly.map((m) => m.pssMiB)), '-', 'not measured'],
      [`private, ${shims} at once, steady (MiB)`, shims, med(shimMemory.map((m) => m.privateMiB)), Math.min(...shimMemory.map((m) => m.privateMiB)), Math.max(...shimMemory.map((m) => m.privateMiB)), med(bareMemory.map((m) => m.privateMiB)), `${shims} bare idle nodes`],
      [`PSS, ${shims} at once, steady (MiB)`, shims, med(shimMemory.map((m) => m.pssMiB)), Math.min(...shimMemory.map((m) => m.pssMiB)), Math.max(...shimMemory.map((m) => m.pssMiB)), med(bareMemory.map((m) => m.pssMiB)), `${shims} bare idle nodes`],
      [`RSS, ${shims} at once, steady (MiB)`, shims, med(shimMemory.map((m) => m.rssMiB)), Math.min(...shimMemory.map((m) => m.rssMiB)), Math.max(...shimMemory.map((m) => m.rssMiB)), med(bareMemory.map((m) => m.rssMiB)), `${shims} bare idle nodes`],
    ];
    printTable(`lifeline shim vs bare node ${process.version} (medians)`, ['measure', 'n', 'shim', 'min', 'max', 'baseline', 'baseline is'], rows);
    printBar(barLine('shim-rss', 1, 'peak-rss', med(shimPeak), 'MiB', med(barePeak)));
    printBar(barLine('shim-start', 1, 'time-to-running', med(shimStart), 'ms', med(bareStart)));
    printBar(barLine('shim-private', shims, 'private', med(shimMemory.map((m) => m.privateMiB)), 'MiB', med(bareMemory.map((m) => m.privateMiB))));
    return 0;
  } catch (error) {
    if (error instanceof Error) error.message += `\n${s.logs(3_000)}`;
    throw error;
  } finally {
    for (const child of bare) child.kill('SIGKILL');
    await Promise.all(bare.map((child) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => child.once('exit', resolve)))));
    server.close();
    removeDir(socketDir);
    await s.cleanup();
  }
}

runScript(main);
