#!/usr/bin/env node
// `npm run demo`: the whole path once, for real — a master and an agent on loopback ports and a temp
// dir, one task through `lifeline run`, then the task's own output from its sandbox. Plain
// JavaScript running the built CLI (dist/), as users run it. Never hangs (60 s deadline) and cleans
// up its processes and temp dir on every path; exits with `lifeline run`'s exit code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const COMMAND = 'echo hello from lifeline; sleep 1; echo done';
/** The steps must be done by then; stopping everything has the rest of HARD_DEADLINE_MS. */
const DEADLINE_MS = 45_000;
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

function findFiles(dir, name, found = []) {
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) findFiles(full, name, found);
    else if (entry.name === name) found.push(full);
  }
  return found;
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
  const agentProc = startLifeline(
    'agent',
    [
      'agent',
      `--master=${master}`,
      `--work_dir=${workDir}`,
      `--runtime_dir=${path.join(tmp, 'rt')}`,
      '--ip=127.0.0.1',
      `--port=${agentPort}`,
      '--resources=cpus:2;mem:1024;disk:1024',
      '--registration_backoff_factor=100ms',
    ],
    { logFile: path.join(tmp, 'agent.log') },
  );
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

  say(`lifeline run --master=${master} --command='${COMMAND}'`);
  const run = startLifeline('lifeline run', ['run', `--master=${master}`, `--command=${COMMAND}`, '--name=demo'], {
    detached: false,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const { code, signal, error } = await inTime(run.exited);
  if (error) throw new DemoError(`could not start lifeline run: ${error.message}`);
  const runCode = code ?? 1;
  process.stdout.write(dim(`lifeline run exited with ${code !== null ? `code ${code}` : `signal ${signal}`}\n`));

  say('The task\'s stdout, from its sandbox');
  const outputs = findFiles(path.join(workDir, 'sandboxes'), 'stdout');
  if (outputs.length === 0) process.stdout.write('(no sandbox stdout found)\n');
  for (const file of outputs) {
    process.stdout.write(dim(`${path.relative(workDir, file)}:\n`));
    process.stdout.write(fs.readFileSync(file, 'utf8'));
  }
  return runCode;
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
