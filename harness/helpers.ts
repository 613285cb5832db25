// Shared by the tests and the scripts (test/helpers.ts re-exports it): waiting with a deadline (uvu has no per-test timeout), temp dirs, free
// ports, and real `lifeline` processes running the built CLI, cleaned up after each test.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI that users run (dist/src/cli/main.js). */
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** The project root (for examples/ and test fixtures). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

export async function waitFor<T>(
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  { timeoutMs = 10_000, intervalMs = 25, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string | (() => string) } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const what = typeof message === 'function' ? message() : message; // a function shows output as it is at the deadline
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Fails with `message` (a function: evaluated when the time is up, to show output as it is then). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof message === 'function' ? message() : message}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh temp dir under /tmp with a short name (Unix socket paths must stay short). */
export function tempDir(prefix = 'll-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * tmpfs when there is a writable one (/dev/shm), else the OS temp dir: for checkpoints copied or
 * written hundreds of times, where each metadata operation on a busy disk costs a millisecond.
 */
export const FAST_TMP = (() => {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
})();

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Ports freePort() has handed out in this process: never handed out twice. */
const handedOut = new Set<number>();

/**
 * A loopback port nothing listens on now, and one this process has not been given before: the
 * kernel may give the same free port to two binds in a row while nothing holds the first (two
 * masters of one test got the same port in a CI run), so a port handed out is not handed out again.
 */
export function freePort(): Promise<number> {
  return unseenPort(kernelFreePort, handedOut);
}

/** @internal The first port `ask` gives that is not in `seen`, added to it (exported for its test). */
export async function unseenPort(ask: () => Promise<number>, seen: Set<number>): Promise<number> {
  for (;;) {
    const port = await ask();
    if (seen.has(port)) continue;
    seen.add(port);
    return port;
  }
}

function kernelFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A child process with its output collected, for assertions and for waiting on lines. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  get exit() {
    return this.#exit;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async waitForOutput(pattern: RegExp, { timeoutMs = 10_000, stream = 'both' as 'stdout' | 'stderr' | 'both' } = {}): Promise<RegExpMatchArray> {
    return waitFor(
      () => {
        const text = stream === 'stdout' ? this.stdout : stream === 'stderr' ? this.stderr : this.stdout + this.stderr;
        const match = text.match(pattern);
        if (!match && this.#exit) throw new Error(`process exited (${JSON.stringify(this.#exit)}) before printing ${pattern}\n${this.stdout}\n${this.stderr}`);
        return match;
      },
      { timeoutMs, message: `output ${pattern}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}` },
    );
  }

  async waitForExit(timeoutMs = 15_000) {
    return withTimeout(this.exited, timeoutMs, () => `exit of ${this.child.spawnargs.join(' ')}\n--- stdout\n${this.stdout.slice(-4000)}\n--- stderr\n${this.stderr.slice(-4000)}`);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.#exit) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.#exit) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs the built `lifeline` CLI as a real child process. */
export function lifeline(args: readonly string[], options: SpawnOptions = {}): Proc {
  return new Proc(process.execPath, [CLI, ...args], options);
}

/** Fetches JSON from a local HTTP endpoint (/state, /health). */
export async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

/** Is the process alive (and not a zombie)? */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}
