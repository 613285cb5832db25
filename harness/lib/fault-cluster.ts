// What the corrupt, hostile and security fault runs share on top of harness/scenario.ts: a custom
// executor (ExecutorDriver) that sends a numbered run of progress updates and forks a task process
// of its own, and readers of /proc for a process's memory and environment.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Random } from './random.js';
import { decode, toBuffer } from '../../src/protocol/index.js';
import type { NewTaskInfo } from '../../src/scheduler/index.js';
import { withTimeout } from '../helpers.js';

const EXECUTOR_MODULE = fileURLToPath(new URL('../../src/executor/index.js', import.meta.url));

// For each task: fork `sleep 600` as the task's process (detached, inheriting process.env, from
// which the driver has deleted the token), write its pid to `child-<taskId>.pid`, send TASK_RUNNING
// and then `progress i/N` updates one after another (each awaited: acknowledged), or, with N = 0,
// one every `tickMs` until released, recording the last acknowledged one in `acked-<taskId>`.
// TASK_FINISHED when `release-<taskId>` appears in the sandbox; TASK_KILLED on KILL or SHUTDOWN.
const PROGRESS_EXECUTOR = `
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { ExecutorDriver } from ${JSON.stringify(EXECUTOR_MODULE)};
const UPDATES = Number(process.argv[2] ?? 5);
const TICK_MS = Number(process.argv[3] ?? 50);
const tasks = new Map();
const driver = new ExecutorDriver({
  onLaunch(task) { void run(task).catch((error) => console.error('progress executor:', error.message)); },
  onKill(taskId) { void finish(taskId, 'TASK_KILLED'); },
  onShutdown() { for (const taskId of [...tasks.keys()]) void finish(taskId, 'TASK_KILLED'); },
  onError(error) { console.error('progress executor:', error.code, error.message); },
});
async function run(task) {
  const child = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
  const entry = { child, timer: undefined, released: false };
  tasks.set(task.taskId, entry);
  fs.writeFileSync('child-' + task.taskId + '.pid', String(child.pid));
  await driver.update({ taskId: task.taskId, state: 'TASK_RUNNING' });
  entry.timer = setInterval(() => {
    if (fs.existsSync('release-' + task.taskId)) { entry.released = true; void finish(task.taskId, 'TASK_FINISHED'); }
  }, 50);
  if (UPDATES > 0) {
    for (let i = 1; i <= UPDATES && tasks.has(task.taskId); i++) {
      await driver.update({ taskId: task.taskId, state: 'TASK_RUNNING', message: 'progress ' + i + '/' + UPDATES, data: Buffer.from('step ' + i) });
    }
    return;
  }
  for (let i = 1; tasks.has(task.taskId) && !entry.released; i++) {
    await driver.update({ taskId: task.taskId, state: 'TASK_RUNNING', message: 'tick ' + i });
    fs.writeFileSync('acked-' + task.taskId, String(i));
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
}
async function finish(taskId, state) {
  const entry = tasks.get(taskId);
  if (entry === undefined) return;
  tasks.delete(taskId);
  clearInterval(entry.timer);
  try { process.kill(-entry.child.pid, 'SIGKILL'); } catch {}
  await driver.update({ taskId, state }).catch((error) => console.error('progress executor: update', error.message));
  if (tasks.size === 0) await driver.stop();
}
await driver.start();
`;

/** Writes the progress executor into `dir` (outside the work dir) and returns its path. */
export function writeProgressExecutor(dir: string): string {
  const file = path.join(dir, 'progress-executor.mjs');
  if (!fs.existsSync(file)) fs.writeFileSync(file, PROGRESS_EXECUTOR);
  return file;
}

/**
 * A task under the progress executor: `updates` numbered progress updates after TASK_RUNNING (0:
 * a tick every `tickMs` until released, see PROGRESS_EXECUTOR).
 */
export function progressTask(taskId: string, executorId: string, script: string, frameworkId: string, updates: number, tickMs = 50): NewTaskInfo {
  return {
    taskId,
    name: taskId,
    resources: { cpus: 0.1, mem: 32 },
    executor: { executorId, frameworkId, command: { value: `${process.execPath} ${script} ${updates} ${tickMs}` } },
  };
}

/** The environment a process was started with (`/proc/<pid>/environ`); undefined when unreadable. */
export function environOf(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** Every regular file under `dir` (not following symlinks). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(full);
    }
  };
  walk(dir);
  return out;
}

// ---- raw WebSocket peers (a hostile client speaks the protocol by hand) ----

export interface Peer {
  ws: WebSocket;
  events: Array<Record<string, unknown>>;
  /** Resolves with the close code (1006 when the connection dropped without a close frame). */
  closed: Promise<number>;
}

/** Opens a WebSocket (ws:// or ws+unix://) and records every event it receives. */
export async function connectPeer(url: string, timeoutMs = 10_000): Promise<Peer> {
  const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
  const events: Peer['events'] = [];
  ws.on('error', () => {});
  ws.on('message', (data: Buffer) => {
    try {
      events.push(decode(toBuffer(data)) as Record<string, unknown>);
    } catch {
      events.push({ type: 'UNDECODABLE' });
    }
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode} instead of a WebSocket upgrade on ${url}`)));
  });
  return { ws, events, closed };
}

/** Sends `frames` on a fresh connection; returns the close code and the ERROR that came before it (if any). */
export async function sendAndWaitClose(url: string, frames: Array<Uint8Array | string>, timeoutMs = 10_000): Promise<{ code: number; error?: Record<string, unknown>; events: Peer['events'] }> {
  const peer = await connectPeer(url, timeoutMs);
  for (const frame of frames) peer.ws.send(frame, { binary: typeof frame !== 'string' });
  try {
    const code = await withTimeout(peer.closed, timeoutMs, `the server closing ${url} after a bad frame`);
    return { code, error: peer.events.find((event) => event.type === 'ERROR'), events: peer.events };
  } finally {
    peer.ws.terminate();
  }
}

/** IDs that must never become a path: traversal, separators, hidden names, NUL, control characters, too long. */
export function trickyIds(escapeTo: string, random: Random): string[] {
  return [
    '../x',
    `../../../../../../../../../..${escapeTo}`,
    escapeTo,
    'a/b',
    '.',
    '..',
    '.hidden',
    'nul\u0000x',
    'tab\tx',
    'new\nline',
    'x'.repeat(201),
    '',
    'ü-id',
    `..%2f..%2f${random.int(0, 1e6)}`,
    'back\\slash',
  ];
}

