// Local trust with real processes (issue 14, point 6): another user plants the parent of the
// runtime dir (the /tmp fallback's predictable name) and a socket in it; the real `lifeline agent`
// refuses to start with a message naming the directory, and an executor refuses to send its token
// to the planted socket. Runs as root only (the files of "another user" are chowned to nobody).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifeline, type Proc, removeDir, tempDir, withTimeout } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const NOBODY = 65_534;
const asRoot = process.getuid?.() === 0 && process.env.CI !== 'true';

const Local = suite<{ dir: string; procs: Proc[]; servers: net.Server[]; accepted: number }>('a socket planted by another local user');

Local.before.each((context) => {
  context.dir = tempDir('ll-plant-');
  context.procs = [];
  context.servers = [];
  context.accepted = 0;
});
Local.after.each(async (context) => {
  await Promise.all(context.procs.map((proc) => proc.stop(500)));
  for (const server of context.servers) await new Promise((resolve) => server.close(resolve));
  removeDir(context.dir);
});

/** What the other user does: a world-writable runtime dir of theirs with a listening agent.sock in executors/. */
async function plant(context: { dir: string; servers: net.Server[]; accepted: number }): Promise<{ runtimeDir: string; socketPath: string; received: Buffer[] }> {
  const runtimeDir = path.join(context.dir, 'lifeline-0-0123456789abcdef');
  const executors = path.join(runtimeDir, 'executors');
  fs.mkdirSync(executors, { recursive: true, mode: 0o700 });
  const socketPath = path.join(executors, 'agent.sock');
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    context.accepted += 1;
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => {});
  });
  context.servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, () => resolve()));
  fs.lchownSync(socketPath, NOBODY, NOBODY);
  fs.chownSync(executors, NOBODY, NOBODY);
  fs.chownSync(runtimeDir, NOBODY, NOBODY);
  fs.chmodSync(runtimeDir, 0o777);
  return { runtimeDir, socketPath, received };
}

if (!asRoot) {
  console.log('local-trust e2e: not root (or CI=true): skipped (it needs files owned by another user)');
} else {
  Local('lifeline agent refuses a runtime dir another user owns, naming it, and leaves their socket alone', async (context) => {
    const { runtimeDir, socketPath } = await plant(context);
    const agent = lifeline(['agent', '--master=127.0.0.1:1', `--work_dir=${path.join(context.dir, 'work')}`, `--runtime_dir=${runtimeDir}`, '--port=0'], {
      env: { ...process.env, LIFELINE_LOG_LEVEL: 'warn' },
    });
    context.procs.push(agent);
    const exit = await agent.waitForExit(15_000);
    assert.is(exit.code, 1, agent.stderr);
    assert.match(agent.stderr, /ERR_ENVIRONMENT/);
    assert.match(agent.stderr, new RegExp(`belongs to uid ${NOBODY}`));
    assert.match(agent.stderr, /--runtime_dir/);
    assert.ok(fs.lstatSync(socketPath).isSocket(), 'the planted socket is not the agent’s to remove');
  });

  Local('an executor refuses to connect to a socket another user planted: the token never leaves it', async (context) => {
    const { socketPath, received } = await plant(context);
    const sandbox = path.join(context.dir, 'sandbox');
    fs.mkdirSync(sandbox, { mode: 0o700 });
    const token = 'the-executor-token-0123456789';
    // The real executor: the command shim, as the agent launches it.
    const executor = lifeline(['shim'], {
      cwd: sandbox,
      env: {
        ...process.env,
        LIFELINE_AGENT_ENDPOINT: socketPath,
        LIFELINE_AGENT_ID: 'agent-1',
        LIFELINE_FRAMEWORK_ID: 'framework-1',
        LIFELINE_EXECUTOR_ID: 'executor-1',
        LIFELINE_CONTAINER_ID: 'container-1',
        LIFELINE_DIRECTORY: sandbox,
        LIFELINE_CHECKPOINT: '0',
        LIFELINE_SHUTDOWN_GRACE_PERIOD: '1secs',
        LIFELINE_EXECUTOR_TOKEN: token,
      },
    });
    context.procs.push(executor);
    await withTimeout(executor.exited, 20_000, () => `the executor giving up\n${executor.stderr}`);
    assert.is(context.accepted, 0, 'the executor connected to the planted socket');
    assert.not.ok(Buffer.concat(received).includes(token));
    assert.match(executor.stdout + executor.stderr, /refusing to connect/);
    assert.match(executor.stdout + executor.stderr, new RegExp(`belongs to uid ${NOBODY}`));
  });
}

const Private = suite<{ cluster: Cluster; procs: Proc[] }>('the work dir of a real agent after a task ran');

Private.before.each(async (context) => {
  context.procs = [];
  context.cluster = await startCluster();
});
Private.after.each(async (context) => {
  await Promise.all(context.procs.map((proc) => proc.stop()));
  await context.cluster.stop();
});

/** Every path under `root` (not following symlinks) with its mode. */
function walk(root: string): Array<{ file: string; mode: number; directory: boolean }> {
  const out: Array<{ file: string; mode: number; directory: boolean }> = [];
  for (const name of fs.readdirSync(root)) {
    const file = path.join(root, name);
    const stat = fs.lstatSync(file);
    if (stat.isSymbolicLink() || stat.isSocket()) continue;
    out.push({ file, mode: stat.mode & 0o777, directory: stat.isDirectory() });
    if (stat.isDirectory()) out.push(...walk(file));
  }
  return out;
}

Private('is 0700, and nothing in meta/ or a sandbox is readable by others', async (context) => {
  const run = lifeline(['run', `--master=${context.cluster.masterAddress}`, '--command=echo secret > own-file; echo out', '--checkpoint', '--json']);
  context.procs.push(run);
  assert.is((await run.waitForExit(30_000)).code, 0, `${run.stdout}\n${run.stderr}`);
  const { workDir } = context.cluster;
  assert.is(fs.statSync(workDir).mode & 0o777, 0o700);
  const entries = walk(workDir);
  const meta = entries.filter((entry) => entry.file.includes(`${path.sep}meta${path.sep}`));
  const sandboxes = entries.filter((entry) => entry.file.includes(`${path.sep}sandboxes${path.sep}`));
  assert.ok(meta.some((entry) => entry.file.endsWith('task.json')), 'a task.json was checkpointed');
  assert.ok(sandboxes.some((entry) => entry.file.endsWith('stdout')), 'the sandbox has its stdout');
  // What the agent and the executor write: private. (The task's own files follow its umask; the
  // 0700 work dir and sandbox keep them from other users.)
  const open = [...meta, ...sandboxes].filter((entry) => !entry.file.endsWith('own-file') && (entry.mode & 0o077) !== 0);
  assert.equal(open.map((entry) => `${entry.file} ${entry.mode.toString(8)}`), []);
  const runDirs = sandboxes.filter((entry) => entry.directory && /runs\/[^/]+$/.test(entry.file));
  assert.ok(runDirs.length > 0 && runDirs.every((entry) => entry.mode === 0o700), JSON.stringify(runDirs));
});

Local.run();
Private.run();
