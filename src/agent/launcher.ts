// Starting an executor process (DESIGN §2, §4): its sandbox, its environment with a fresh token,
// and a spawn that survives the agent — detached into its own session and process group, stdio
// to files in the sandbox (never a pipe to the agent, which would break when the agent dies),
// then unref()'d. A command task runs under `lifeline shim`; a custom executor under /bin/sh -c.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunRef } from '../checkpoint/layout.js';
import { processIdentity } from '../process/index.js';
import { formatDuration, type ExecutorInfo, type LifelineError, type TaskInfo } from '../protocol/index.js';
import { ExecutorRun, type Ending, type Framework } from './executor-run.js';
import type { NodeModel } from './node-model.js';
import type { RunEnding } from './run-ending.js';
import { shareSocket } from './socket-path.js';
import { openPathTo, runUser, userEnvironment, type TaskUser } from './task-user.js';
import { hashToken, newToken } from './token.js';

/** The built CLI the shim runs from: dist/src/cli/main.js next to this module's dist/src/agent/. */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface ExecutorCommand {
  readonly file: string;
  readonly args: readonly string[];
}

/** `lifeline shim`, with the same Node.js that runs the agent. */
export function shimCommand(): ExecutorCommand {
  return { file: process.execPath, args: [CLI_MAIN, 'shim'] };
}

/** A custom executor's command line, run by the shell as in Mesos. */
export function shellCommand(value: string): ExecutorCommand {
  return { file: '/bin/sh', args: ['-c', value] };
}

/** The ExecutorInfo the agent makes for a command task: executor ID = task ID. */
export function commandExecutorInfo(frameworkId: string, taskId: string): ExecutorInfo {
  return {
    executorId: taskId,
    frameworkId,
    name: `Command Executor (Task: ${taskId})`,
    command: { value: `lifeline shim (command executor of task ${taskId})` },
  };
}

/** `<work_dir>/sandboxes/<agentId>/frameworks/<fid>/executors/<eid>/runs/<containerId>` */
export function sandboxPath(workDir: string, agentId: string, frameworkId: string, executorId: string, containerId: string): string {
  return path.join(path.resolve(workDir), 'sandboxes', agentId, 'frameworks', frameworkId, 'executors', executorId, 'runs', containerId);
}

export interface ExecutorEnvironmentInput {
  socketPath: string;
  agentId: string;
  frameworkId: string;
  executorId: string;
  containerId: string;
  sandbox: string;
  /** The framework checkpoints and so does the agent. */
  checkpoint: boolean;
  recoveryTimeoutMs: number;
  executorReregistrationTimeoutMs: number;
  shutdownGracePeriodMs: number;
  /** The executor's backlog bound (--executor_backlog_max_updates, --executor_backlog_max_bytes). */
  backlogMaxUpdates: number;
  backlogMaxBytes: number;
  token: string;
}

/** The DESIGN §2 variables (added to the agent's own environment). */
export function executorEnvironment(input: ExecutorEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {
    LIFELINE_AGENT_ENDPOINT: input.socketPath,
    LIFELINE_AGENT_ID: input.agentId,
    LIFELINE_FRAMEWORK_ID: input.frameworkId,
    LIFELINE_EXECUTOR_ID: input.executorId,
    LIFELINE_CONTAINER_ID: input.containerId,
    LIFELINE_DIRECTORY: input.sandbox,
    LIFELINE_CHECKPOINT: input.checkpoint ? '1' : '0',
    LIFELINE_SHUTDOWN_GRACE_PERIOD: formatDuration(input.shutdownGracePeriodMs),
    LIFELINE_BACKLOG_MAX_UPDATES: String(input.backlogMaxUpdates),
    LIFELINE_BACKLOG_MAX_BYTES: String(input.backlogMaxBytes),
    LIFELINE_EXECUTOR_TOKEN: input.token,
  };
  if (input.checkpoint) {
    env.LIFELINE_RECOVERY_TIMEOUT = formatDuration(input.recoveryTimeoutMs);
    // A quarter of the re-registration window, so that a retrying executor always fits in it.
    env.LIFELINE_SUBSCRIPTION_BACKOFF_MAX = formatDuration(Math.max(1, Math.floor(input.executorReregistrationTimeoutMs / 4)));
  }
  return env;
}

/** How an executor process ended: exactly one of `exitCode` and `signal` is set, or `error` when it never started. */
export interface ExecutorExit {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

export interface LaunchedExecutor {
  readonly pid: number;
  /** performance.now() just before spawn(). */
  readonly spawnedAt: number;
  readonly child: ChildProcess;
  /** Settles once when the process has exited (its pid is then no longer ours to signal). */
  readonly exited: Promise<ExecutorExit>;
}

export interface LaunchRequest {
  command: ExecutorCommand;
  sandbox: string;
  /** Start it as this user (its sandbox and output files owned by them); default: the agent's. */
  user?: TaskUser;
  /** Added to the agent's environment. */
  env: Record<string, string>;
}

/**
 * Makes the sandbox (mkdir -p), opens its `stdout` and `stderr` files, spawns the executor
 * detached with those as its stdio, then closes the agent's copies and unref()s the child.
 * Rejects (with the spawn error) when the process could not be started.
 */
export async function launchExecutor(request: LaunchRequest): Promise<LaunchedExecutor> {
  // Private to the agent's user (issue 14): a task's output and files are its framework's business.
  await fs.promises.mkdir(request.sandbox, { recursive: true, mode: 0o700 });
  // No await between spawn and attaching the exit listener: a fast exit must not be missed.
  const stdout = fs.openSync(path.join(request.sandbox, 'stdout'), 'a', 0o600);
  let stderr: number | undefined;
  let child: ChildProcess;
  let spawnedAt: number;
  const { user } = request;
  try {
    stderr = fs.openSync(path.join(request.sandbox, 'stderr'), 'a', 0o600);
    if (user) {
      fs.fchownSync(stdout, user.uid, user.gid);
      fs.fchownSync(stderr, user.uid, user.gid);
    }
    spawnedAt = performance.now();
    child = spawn(request.command.file, [...request.command.args], {
      cwd: request.sandbox,
      env: { ...process.env, ...(user && userEnvironment(user)), ...request.env },
      ...(user && { uid: user.uid, gid: user.gid }),
      detached: true,
      stdio: ['ignore', stdout, stderr],
    });
  } finally {
    fs.closeSync(stdout);
    if (stderr !== undefined) fs.closeSync(stderr);
  }
  const exited = new Promise<ExecutorExit>((resolve) => {
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ exitCode: null, signal: null, error });
    });
  });
  child.unref();
  if (child.pid === undefined) {
    const { error } = await exited;
    throw error ?? new Error(`could not start ${request.command.file}`);
  }
  return { pid: child.pid, spawnedAt, child, exited };
}

/** The agent's side of starting executor runs: a run, its checkpoint, its process, and how it ends. */
export class ExecutorLauncher {
  readonly #model: NodeModel;
  readonly #ending: RunEnding;

  /** Runs go into `model`; a run whose process exits (or never starts) is ended by `ending`. */
  constructor(model: NodeModel, ending: RunEnding) {
    this.#model = model;
    this.#ending = ending;
  }

  /** A new run of an executor for its first task: made durable (checkpointing runs), then spawned. */
  start(framework: Framework, info: ExecutorInfo, commandTask: boolean, task: TaskInfo): ExecutorRun {
    const config = this.#model.config;
    const containerId = randomUUID();
    const token = newToken();
    const agentId = this.#model.id!;
    const sandbox = sandboxPath(config.workDir, agentId, framework.info.id, info.executorId, containerId);
    const checkpoint = config.checkpoint && framework.info.checkpoint;
    const ref: RunRef | undefined = checkpoint ? { agentId, frameworkId: framework.info.id, executorId: info.executorId, containerId } : undefined;
    const run = new ExecutorRun({ info, framework, containerId, tokenHash: hashToken(token), sandbox, commandTask, checkpoint, ...(ref && { ref }) });
    framework.executors.set(info.executorId, run);
    if (ref) run.checkpointed = this.#checkpointRun(run, ref);
    this.#model.addTask(run, task);
    const env = executorEnvironment({
      socketPath: config.socketPath,
      agentId,
      frameworkId: framework.info.id,
      executorId: info.executorId,
      containerId,
      sandbox,
      checkpoint,
      recoveryTimeoutMs: config.recoveryTimeoutMs,
      executorReregistrationTimeoutMs: config.executorReregistrationTimeoutMs,
      shutdownGracePeriodMs: this.#model.graceOf(run),
      backlogMaxUpdates: config.executorBacklogMaxUpdates,
      backlogMaxBytes: config.executorBacklogMaxBytes,
      token,
    });
    void this.#launch(run, env);
    return run;
  }

  /** framework.json (once per framework), executor.json, then the run dir with token.sha256 and runs/latest. */
  async #checkpointRun(run: ExecutorRun, ref: RunRef): Promise<void> {
    const checkpointer = this.#model.checkpointer!;
    const framework = run.framework;
    framework.checkpointed ??= (async () => {
      await this.#model.agentCheckpointed;
      await checkpointer.checkpointFramework({ agentId: ref.agentId }, framework.info);
    })().catch((error: unknown) => {
      framework.checkpointed = undefined; // the next launch tries again
      throw error;
    });
    await framework.checkpointed;
    await checkpointer.checkpointExecutor({ agentId: ref.agentId, frameworkId: ref.frameworkId, executorId: ref.executorId }, run.info, { generated: run.commandTask });
    await checkpointer.checkpointRun(ref, { tokenHash: run.tokenHash });
  }

  /** Spawns the executor once its run and first tasks are durable; then records forked.json at once. */
  async #launch(run: ExecutorRun, env: Record<string, string>): Promise<void> {
    const log = this.#model.logger.child({ frameworkId: run.frameworkId, executorId: run.id, containerId: run.containerId });
    if (run.ref) {
      try {
        await run.checkpointed;
        await Promise.all([...run.tasks.values()].map((entry) => entry.durable));
      } catch (error) {
        log.error({ err: (error as Error).message }, 'could not checkpoint the executor run: not started');
        await this.#ending.finish(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} could not be checkpointed: ${(error as Error).message}` }, { exit: { exitCode: null, signal: null, error: error as Error } });
        return;
      }
    }
    if (run.is('TERMINATING')) {
      await this.#ending.finish(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} was shut down before it started` }, { exit: { exitCode: null, signal: null } });
      return;
    }
    let user: TaskUser | undefined;
    try {
      user = await runUser(this.#model.config, run.framework.info.user);
    } catch (error) {
      log.warn({ code: (error as LifelineError).code, err: (error as Error).message, user: run.framework.info.user }, 'executor not started: its user');
      await this.#ending.finish(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} was not started: ${(error as Error).message}` }, { exit: { exitCode: null, signal: null, error: error as Error } });
      return;
    }
    this.#model.metrics.executorsLaunched.inc();
    let launched;
    try {
      if (user) {
        await fs.promises.mkdir(run.sandbox, { recursive: true, mode: 0o700 });
        await openPathTo(this.#model.config.workDir, run.sandbox, user);
        await shareSocket(this.#model.config.socketPath);
      }
      launched = await launchExecutor({ command: run.commandTask ? shimCommand() : shellCommand(run.info.command.value), sandbox: run.sandbox, env, ...(user && { user }) });
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not start the executor');
      await this.#ending.finish(run, exitEnding(run, { exitCode: null, signal: null, error: error as Error }), { exit: { exitCode: null, signal: null, error: error as Error } });
      return;
    }
    run.pid = launched.pid;
    run.spawnedAt = launched.spawnedAt;
    void launched.exited.then((exit) => this.#ending.finish(run, exitEnding(run, exit), { exit }));
    if (run.ref) {
      const identity = processIdentity(launched.pid);
      if (identity) {
        run.identity = identity;
        this.#model.checkpointer!.checkpointForked(run.ref, identity).catch((error: unknown) => log.error({ err: (error as Error).message }, 'could not checkpoint forked.json'));
      }
    }
    log.info({ executorPid: launched.pid, sandbox: run.sandbox }, 'executor started');
    // Shut down before its pid was known: it has not subscribed, so a signal is all there is.
    if (run.is('TERMINATING')) run.signalGroup('SIGTERM');
  }

}

/** How the tasks of a run whose executor exited (or never started) are reported. */
function exitEnding(run: ExecutorRun, exit: ExecutorExit): Ending {
  const how = exit.error
    ? `could not be started (${exit.error.message})`
    : exit.exitCode !== null
      ? `exited with code ${exit.exitCode}`
      : `was killed by ${exit.signal}`;
  return { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} ${how}` };
}
