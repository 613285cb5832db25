#!/usr/bin/env node
// `npm run demo`: what lifeline is for, for real — a master and an agent on loopback ports and a
// temp dir, a checkpointing task through `lifeline run`, the agent `kill -9`ed while the task runs
// and started again, then the task's timeline from the master (it never stopped, and ended
// TASK_FINISHED) and its output through `lifeline logs`. Plain JavaScript running the built CLI
// (dist/), as users run it. Never hangs (60 s deadline) and cleans up its processes and temp dir on
// every path; exits with `lifeline run`'s exit code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const COMMAND = 'for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 0.5; done; echo done';
/** How long the agent stays dead. */
const AGENT_DOWN_MS = 1_000;
/** The steps must be done by then; stopping everything has the rest of HARD_DEADLINE_MS. */
const DEADLINE_MS = 30_000;
const STOP_GRACE_MS = 4_000;
/** Whatever happens, the demo exits by then (the exit handler SIGKILLs what is left). */
const HARD_DEADLINE_MS = 60_000;

const tty = process.stdout.isTTY;
const bold = (text) => (tty ? `\x1b[1m${text}\x1b[22m` : text);
const dim = (text) => (tty ? `\x1b[2m${text}\x1b[22m` : text);

/** Every child still running, newest last: stopped in reverse order. */
const children = [];
let tmp;
let deadlineHit = false;
let interrupted = false;
let rejectDeadline;
const deadline = new Promise((_, reject) => (rejectDeadline = reject));
deadline.catch(() => {});

function say(text) {
  process.stdout.write(`\n${bold(`==> ${text}`)}\n`);
}

class DemoError extends Error {}

/** Resolves with the promise's value, or rejects when the overall deadline passes first. */
function inTime(promise) {
  return Promise.race([promise, deadline]);
}

async function sleep(ms) {
  await inTime(new Promise((resolve) => setTimeout(resolve, ms)));
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `lifeline <args>` with its output in a log file; master and agent get their own process group. */
function startLifeline(name, args, { logFile, detached = true, stdio } = {}) {
  const fd = logFile ? fs.openSync(logFile, 'a') : undefined;
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: stdio ?? ['ignore', fd, fd],
    detached,
    env: { ...process.env, LIFELINE_LOG_LEVEL: process.env.LIFELINE_LOG_LEVEL ?? 'info' },
  });
  if (fd !== undefined) fs.closeSync(fd);
  const record = { name, child, logFile, exit: undefined };
  record.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      record.exit = { code, signal };
      resolve(record.exit);
    });
    child.on('error', (error) => {
      record.exit = { code: null, signal: null, error };
      resolve(record.exit);
    });
  });
  children.push(record);
  return record;
}

function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function exitedEarly(record) {
  return new DemoError(`${record.name} exited early (${JSON.stringify(record.exit)}); last lines of its log:\n${tail(record.logFile)}`);
}

async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) return undefined;
  return response.json();
}

/** Polls until `check` returns something truthy; fails after `ms` or when `record` exits. */
async function waitUntil(what, check, { ms = 15_000, record } = {}) {
  const until = Date.now() + ms;
  for (;;) {
    if (record?.exit) throw exitedEarly(record);
    try {
      const value = await check();
      if (value) return value;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new DemoError(`timed out after ${ms / 1000} s waiting for ${what}${record ? `; last lines of the ${record.name} log:\n${tail(record.logFile)}` : ''}`);
    await sleep(100);
  }
}

/** SIGTERM (or `signal`), then SIGKILL after a grace period. */
async function stopChild(record, signal = 'SIGTERM') {
  if (record.exit) return;
  try {
    record.child.kill(signal);
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      record.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }, STOP_GRACE_MS);
  await record.exited;
  clearTimeout(timer);
}

async function demo() {
  if (!fs.existsSync(CLI)) throw new DemoError(`${path.relative(ROOT, CLI)} is missing: build first (npm run build)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-demo-'));
  const workDir = path.join(tmp, 'work');
  const [masterPort, agentPort] = [await freePort(), await freePort()];
  const master = `127.0.0.1:${masterPort}`;
  const agentAddress = `127.0.0.1:${agentPort}`;
  process.stdout.write(`${bold('lifeline demo')} ${dim(`(temp dir ${tmp}; logs in master.log and agent.log there)`)}\n`);

  say(`Starting a master on ${master}`);
  const masterProc = startLifeline('master', ['master', '--ip=127.0.0.1', `--port=${masterPort}`], { logFile: path.join(tmp, 'master.log') });
  await waitUntil(`the master's /health on ${master}`, async () => (await fetch(`http://${master}/health`, { signal: AbortSignal.timeout(2_000) })).ok, { record: masterProc });

  say(`Starting an agent on ${agentAddress} (work dir ${workDir})`);
  const agentArgs = [
      'agent',
      `--master=${master}`,
      `--work_dir=${workDir}`,
      `--runtime_dir=${path.join(tmp, 'rt')}`,
      '--ip=127.0.0.1',
      `--port=${agentPort}`,
      '--resources=cpus:2;mem:1024;disk:1024',
      '--registration_backoff_factor=100ms',
  ];
  const agentProc = startLifeline('agent', agentArgs, { logFile: path.join(tmp, 'agent.log') });
  const agentId = await waitUntil(
    'the agent to register with the master',
    async () => {
      if (masterProc.exit) throw exitedEarly(masterProc);
      const state = await getJson(`http://${master}/state`);
      return state?.agents?.find((agent) => agent.status === 'ACTIVE')?.id;
    },
    { record: agentProc },
  );
  process.stdout.write(`agent registered as ${agentId}\n`);

  say(`lifeline run --master=${master} --checkpoint --name=demo --command='${COMMAND}'`);
  const run = startLifeline('lifeline run', ['run', `--master=${master}`, '--checkpoint', '--name=demo', `--command=${COMMAND}`], {
    detached: false,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const task = await waitUntil(
    'the task to be TASK_RUNNING',
    async () => {
      if (run.exit) throw exitedEarly(run);
      const state = await getJson(`http://${master}/state`);
      return state?.frameworks?.flatMap((framework) => framework.tasks).find((entry) => entry.state === 'TASK_RUNNING');
    },
    { record: agentProc },
  );
  const executorPid = (await getJson(`http://${agentAddress}/state`))?.frameworks?.flatMap((f) => f.executors).find((e) => e.id === task.executorId)?.pid;
  await sleep(700);

  say(`kill -9 ${agentProc.child.pid} (the agent), while the task runs`);
  process.kill(agentProc.child.pid, 'SIGKILL');
  await inTime(agentProc.exited);
  if (executorPid) process.stdout.write(`the agent is gone; its executor (pid ${executorPid}) is ${alive(executorPid) ? 'still running' : 'GONE'}\n`);
  await sleep(AGENT_DOWN_MS);

  say('Starting the agent again on the same work dir');
  const again = startLifeline('agent', agentArgs, { logFile: path.join(tmp, 'agent.log') });
  const { code, signal, error } = await inTime(run.exited);
  if (error) throw new DemoError(`could not start lifeline run: ${error.message}`);
  const runCode = code ?? 1;
  process.stdout.write(dim(`lifeline run exited with ${code !== null ? `code ${code}` : `signal ${signal}`}\n`));
  if (again.exit) throw exitedEarly(again);

  say(`The task's timeline, from the master's /state (also drawn at http://${master}/)`);
  const state = await getJson(`http://${master}/state`);
  const ended = [...(state?.frameworks ?? []), ...(state?.completedFrameworks ?? [])].flatMap((f) => f.tasks).find((entry) => entry.id === task.id);
  const agent = state?.agents?.find((entry) => entry.id === task.agentId);
  const statuses = ended?.statuses ?? [];
  const start = statuses[0]?.timestamp ?? Date.now();
  const end = statuses.at(-1)?.timestamp ?? Date.now();
  const rows = [
    ...statuses.map((status) => ({ at: status.timestamp, text: `${status.state}${status.source ? ` (${status.source.replace('SOURCE_', '').toLowerCase()})` : ''}${status.message ? `: ${status.message}` : ''}` })),
    ...(agent?.events ?? [])
      .filter((event) => event.timestamp >= start && event.timestamp <= end + 1_000 && event.type !== 'REGISTERED')
      .map((event) => ({
        at: event.timestamp,
        text: event.type === 'DISCONNECTED' ? `agent ${agent.id} disconnected (killed); the task keeps running` : `agent ${agent.id} ${event.type === 'REREGISTERED' ? 're-registered' : event.type.toLowerCase()}${event.awayMs !== undefined ? ` after ${(event.awayMs / 1000).toFixed(1)} s` : ''}${event.recovery ? ` (it recovered in ${event.recovery.durationMs} ms: ${event.recovery.resubscribed} of ${event.recovery.executors} live executors re-subscribed)` : ''}`,
        agent: true,
      })),
  ].sort((a, b) => a.at - b.at);
  for (const row of rows) process.stdout.write(`  +${((row.at - start) / 1000).toFixed(1).padStart(5)} s  ${row.agent ? dim(row.text) : row.text}\n`);
  const states = statuses.map((status) => status.state);
  const firstRunning = states.indexOf('TASK_RUNNING');
  const stopped = states.slice(firstRunning + 1, -1).some((state) => state !== 'TASK_RUNNING');
  const killedAgent = rows.some((row) => row.agent && row.text.includes('disconnected'));
  if (states.at(-1) === 'TASK_FINISHED' && firstRunning !== -1 && !stopped && killedAgent) {
    process.stdout.write(bold('The task never stopped while its agent was killed and restarted, and ended TASK_FINISHED.\n'));
  } else {
    process.stdout.write(`unexpected timeline: ${states.join(' → ')}\n`);
  }

  say(`lifeline logs ${task.id} --master=${master}`);
  const logs = startLifeline('lifeline logs', ['logs', task.id, `--master=${master}`], { detached: false, stdio: ['ignore', 'inherit', 'inherit'] });
  await inTime(logs.exited);
  return states.at(-1) === 'TASK_FINISHED' && !stopped ? runCode : 1;
}

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function cleanup() {
  // Newest first: `lifeline run` (kills its task), then the agent, then the master.
  for (const record of [...children].reverse()) await stopChild(record, record.name === 'lifeline run' ? 'SIGINT' : 'SIGTERM');
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

// Last resort on any exit path: nothing started here outlives the demo.
process.on('exit', () => {
  for (const { child, exit } of children) {
    if (!exit) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// Ctrl-C reaches `lifeline run` too (same process group): it kills its task and exits; the demo
// then cleans up. Master and agent are in their own process groups and are stopped in order.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\ndemo: ${signal}, stopping\n`);
    const run = children.find((record) => record.name === 'lifeline run' && !record.exit);
    if (run && signal !== 'SIGINT') run.child.kill('SIGINT');
    if (!run) rejectDeadline(new DemoError(`interrupted by ${signal}`));
  });
}

const overall = setTimeout(() => {
  deadlineHit = true;
  rejectDeadline(new DemoError(`the demo did not finish within ${DEADLINE_MS / 1000} s`));
}, DEADLINE_MS);
setTimeout(() => {
  process.stderr.write(`demo: still not done after ${HARD_DEADLINE_MS / 1000} s; killing everything\n`);
  process.exit(1);
}, HARD_DEADLINE_MS).unref();

let exitCode = 1;
try {
  exitCode = await demo();
} catch (error) {
  process.stderr.write(`\ndemo failed: ${error instanceof DemoError ? error.message : error?.stack ?? error}\n`);
  exitCode = 1;
} finally {
  say('Stopping the agent and the master');
  // Cleanup has its own bound: a stuck child is SIGKILLed after the grace period.
  await cleanup().catch((error) => process.stderr.write(`demo: cleanup: ${error?.message ?? error}\n`));
  clearTimeout(overall);
  process.stdout.write(`done${deadlineHit ? ' (deadline)' : ''}; exit code ${exitCode}\n`);
}
process.exit(exitCode);
