// The executor's sandbox files and exit hook on their own (src/executor/driver-files.ts): `.lifeline/`
// with shim.json (who this process is) and the outbox, ready together or failing together with
// ERR_ENVIRONMENT; and the synchronous exit hook that SIGKILLs recorded task groups, run in a fixture
// process that leaves by process.exit(), by a signal and by a crash.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SANDBOX_FORMAT } from '../../src/checkpoint/format.js';
import { outboxPath, shimInfoPath, shimStateDir } from '../../src/checkpoint/layout.js';
import { installExitHook, prepareFiles } from '../../src/executor/driver-files.js';
import type { ExecutorEnvironment } from '../../src/executor/environment.js';
import type { Outbox } from '../../src/executor/outbox.js';
import type { ShimFile } from '../../src/executor/shim-file.js';
import { processIdentity } from '../../src/process/proc-stat.js';
import { EXECUTOR_PROTOCOL_VERSION } from '../../src/protocol/constants.js';
import { LifelineError } from '../../src/protocol/index.js';
import { Proc, removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';
import { IDS } from './fake-agent.js';
import { killLeftovers, liveGroupMembers } from './process-group.js';

const EXIT_HOOK_FIXTURE = fileURLToPath(new URL('../fixtures/executor-exit-hook.js', import.meta.url));

interface Context {
  dir: string;
  files: Array<{ shimFile: ShimFile; outbox: Outbox }>;
  pgids: number[];
}

const Files = suite<Context>('prepareFiles', { dir: '', files: [], pgids: [] });

Files.before.each((context) => {
  context.dir = tempDir('ll-files-');
  context.files = [];
  context.pgids = [];
});

Files.after.each(async (context) => {
  for (const { shimFile, outbox } of context.files) {
    await outbox.close();
    await shimFile.idle();
  }
  for (const pgid of context.pgids) killLeftovers(pgid, context.dir);
  removeDir(context.dir);
});

function environment(directory: string): ExecutorEnvironment {
  return {
    agentEndpoint: '/tmp/agent.sock',
    agentId: IDS.agentId,
    frameworkId: IDS.frameworkId,
    executorId: IDS.executorId,
    containerId: IDS.containerId,
    directory,
    checkpoint: true,
    recoveryTimeoutMs: 60_000,
    subscriptionBackoffMaxMs: 500,
    shutdownGracePeriodMs: 2_000, backlogMaxUpdates: 10_000, backlogMaxBytes: 16 * 1024 * 1024,
    token: IDS.token,
  };
}

Files('writes shim.json with this process, its start time, the executor and the formats, and opens the outbox', async (context) => {
  const failures: Error[] = [];
  const files = prepareFiles(environment(context.dir), (error) => void failures.push(error));
  context.files.push(files);
  await withTimeout(files.ready, 5_000, 'the files to be ready');
  assert.is(files.shimFile.path, shimInfoPath(context.dir));
  const written = JSON.parse(fs.readFileSync(shimInfoPath(context.dir), 'utf8'));
  assert.equal(written, {
    pid: process.pid,
    startTime: processIdentity(process.pid)!.startTime,
    protocol: EXECUTOR_PROTOCOL_VERSION,
    format: SANDBOX_FORMAT,
    executorId: IDS.executorId,
    containerId: IDS.containerId,
    tasks: [],
  });
  assert.is(files.outbox.path, outboxPath(context.dir));
  assert.is(files.outbox.state, 'OPEN');
  assert.ok(fs.existsSync(outboxPath(context.dir)));
  assert.ok(fs.statSync(shimStateDir(context.dir)).isDirectory());
  assert.equal(failures, []);
});

Files('a sandbox that cannot be written fails ready with ERR_ENVIRONMENT, naming the directory and the variable', async (context) => {
  const blocker = path.join(context.dir, 'not-a-dir');
  fs.writeFileSync(blocker, '');
  const sandbox = path.join(blocker, 'sandbox'); // under a regular file: ENOTDIR even for root
  const files = prepareFiles(environment(sandbox), () => {});
  context.files.push(files);
  const error = await withTimeout(files.ready.then(() => undefined, (e: unknown) => e), 5_000, 'ready to reject');
  assert.instance(error, LifelineError);
  assert.is((error as LifelineError).code, 'ERR_ENVIRONMENT');
  assert.match((error as Error).message, `cannot write the executor's state under ${shimStateDir(sandbox)} (LIFELINE_DIRECTORY)`);
  assert.ok((error as Error).cause, 'with the fs error as its cause');
});

Files.run();

// ---- installExitHook ----

const Hook = suite<Context>('installExitHook', { dir: '', files: [], pgids: [] });

Hook.before.each((context) => {
  context.dir = tempDir('ll-exit-hook-');
  context.pgids = [];
});

Hook.after.each((context) => {
  for (const pgid of context.pgids) killLeftovers(pgid, context.dir);
  removeDir(context.dir);
});

/** Runs the fixture until it exits; returns its task group's pgid. */
async function runHook(context: Context, ...args: string[]): Promise<{ pgid: number; proc: Proc }> {
  const proc = new Proc(process.execPath, [EXIT_HOOK_FIXTURE, ...args], { cwd: context.dir });
  const [, pgid] = await proc.waitForOutput(/pgid (\d+)/, { stream: 'stdout' });
  context.pgids.push(Number(pgid));
  await proc.waitForExit(10_000);
  return { pgid: Number(pgid), proc };
}

for (const how of ['exit', 'SIGTERM', 'throw']) {
  Hook(`SIGKILLs the recorded task group when the process leaves by ${how === 'exit' ? 'process.exit()' : how === 'SIGTERM' ? 'a SIGTERM' : 'an uncaught exception'}`, async (context) => {
    const { pgid, proc } = await runHook(context, how);
    if (how === 'SIGTERM') assert.is(proc.exit?.signal, 'SIGTERM', 'the signal is passed on after the hook');
    if (how === 'throw') assert.match(proc.stderr, 'the executor crashed');
    await waitFor(() => liveGroupMembers(pgid).length === 0 || undefined, { message: `group ${pgid} to be gone`, timeoutMs: 5_000 });
  });
}

Hook('leaves alone a group whose leader is not the recorded process (a recycled pid)', async (context) => {
  const { pgid } = await runHook(context, 'exit', 'wrong-start-time');
  assert.equal(liveGroupMembers(pgid), [pgid], 'the sleep still runs: a group that cannot be identified is not killed');
});

Hook.run();
