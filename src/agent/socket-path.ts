// Where the executor socket lives and how it is made safe to listen on (DESIGN §2): a path that
// fits a sockaddr_un (Node 20 silently truncates longer ones), a 0700 directory, and a stale
// socket file removed only after a probe shows that no live agent answers on it.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SocketPathTooLongError } from '../protocol/index.js';
import { untrustedDirProblem } from '../session/socket-trust.js';
import { AgentAlreadyRunningError, RuntimeDirError } from './errors.js';

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The executor socket of a runtime dir: `<runtime_dir>/executors/agent.sock`, absolute. */
export function executorSocketPath(runtimeDir: string): string {
  return path.join(path.resolve(runtimeDir), 'executors', 'agent.sock');
}

/** Throws SocketPathTooLongError naming `flag` when `socketPath` does not fit a Unix socket address. */
export function checkSocketPath(socketPath: string, flag = '--runtime_dir'): string {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) throw new SocketPathTooLongError(socketPath, flag);
  return socketPath;
}

/**
 * The default runtime dir: `<work_dir>/run`, or, when that would make the socket path too long,
 * `<tmpdir>/lifeline-<uid>-<hash of work_dir>` (stable for a given work dir, so a restarted agent
 * and its executors still meet at the same path).
 */
export function defaultRuntimeDir(workDir: string): string {
  const absolute = path.resolve(workDir);
  const inWorkDir = path.join(absolute, 'run');
  if (Buffer.byteLength(executorSocketPath(inWorkDir)) <= MAX_SOCKET_PATH_BYTES) return inWorkDir;
  const hash = createHash('sha256').update(absolute).digest('hex').slice(0, 16);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(os.tmpdir(), `lifeline-${uid}-${hash}`);
}

/**
 * Creates the socket's directory with mode 0700 (and fixes the mode of an existing one). Refuses a
 * directory that is a symlink or belongs to another user: it could let others reach the socket.
 */
export async function prepareSocketDir(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory()) throw new RuntimeDirError(`${dir} is not a directory (it holds the executor socket); remove it or choose another --runtime_dir`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : stat.uid;
  if (stat.uid !== uid) {
    throw new RuntimeDirError(`${dir} belongs to uid ${stat.uid}, not to this agent's uid ${uid}; choose another --runtime_dir`);
  }
  if ((stat.mode & 0o777) !== 0o700) await fs.chmod(dir, 0o700);
  assertTrustedSocketDir(dir, uid);
}

/**
 * Every directory above the socket's too: a parent another user can write (the /tmp fallback's
 * predictable name, created first by someone else) would let them swap in a socket of their own
 * and receive every executor's token. Throws RuntimeDirError naming the directory and why.
 */
export function assertTrustedSocketDir(dir: string, uid = typeof process.getuid === 'function' ? process.getuid() : 0, flag = '--runtime_dir'): void {
  const problem = untrustedDirProblem(dir, uid);
  if (problem !== undefined) {
    throw new RuntimeDirError(`the executor socket's directory ${dir} is not safe: ${problem}; choose another ${flag} (or fix the owner and mode)`);
  }
}

/**
 * For executors of other users (a root agent with --switch_user, once it starts one): the socket
 * becomes 0666 and its directory and the runtime dir above it 0711 (pass through, not list). The
 * token, not the mode, says who an executor is; a missing socket (not listening yet) is left alone.
 */
export async function shareSocket(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  await fs.chmod(socketPath, 0o666).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  for (const each of [dir, path.dirname(dir)]) {
    const stat = await fs.stat(each);
    const uid = typeof process.getuid === 'function' ? process.getuid() : stat.uid;
    if (stat.uid === uid && (stat.mode & 0o011) !== 0o011) await fs.chmod(each, (stat.mode & 0o7777) | 0o011);
  }
}

/**
 * Removes a socket file left by an agent that died, after checking that nothing answers on it.
 * Throws AgentAlreadyRunningError when something does (a live or stopped agent: a SIGSTOPped
 * process still accepts into its backlog, which is what we want here).
 */
export async function removeStaleSocket(socketPath: string, { flag = '--runtime_dir', probeTimeoutMs = 1_000 } = {}): Promise<boolean> {
  // Before probing what is there: a socket in a directory another user controls is theirs, not a stale one of ours.
  const dirExists = await fs.stat(path.dirname(socketPath)).then(() => true, () => false);
  if (dirExists) assertTrustedSocketDir(path.dirname(socketPath), undefined, flag);
  let stat;
  try {
    stat = await fs.lstat(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (!stat.isSocket()) {
    throw new RuntimeDirError(`${socketPath} exists and is not a socket; remove it or choose another ${flag}`);
  }
  if (await answers(socketPath, probeTimeoutMs)) throw new AgentAlreadyRunningError(socketPath, flag);
  await fs.rm(socketPath, { force: true });
  return true;
}

/** Does anything accept a connection on the Unix socket? A timeout counts as yes (a hung agent). */
function answers(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const done = (alive: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
