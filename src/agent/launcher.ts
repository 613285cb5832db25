// Starting an executor process (DESIGN §2, §4): its sandbox, its environment with a fresh token,
// and a spawn that survives the agent — detached into its own session and process group, stdio
// to files in the sandbox (never a pipe to the agent, which would break when the agent dies),
// then unref()'d. A command task runs under `lifeline shim`; a custom executor under /bin/sh -c.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration, type ExecutorInfo } from '../protocol/index.js';

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
  readonly child: ChildProcess;
  /** Settles once when the process has exited (its pid is then no longer ours to signal). */
  readonly exited: Promise<ExecutorExit>;
}

export interface LaunchRequest {
  command: ExecutorCommand;
  sandbox: string;
  /** Added to the agent's environment. */
  env: Record<string, string>;
}

/**
 * Makes the sandbox (mkdir -p), opens its `stdout` and `stderr` files, spawns the executor
 * detached with those as its stdio, then closes the agent's copies and unref()s the child.
 * Rejects (with the spawn error) when the process could not be started.
 */
export async function launchExecutor(request: LaunchRequest): Promise<LaunchedExecutor> {
  await fs.promises.mkdir(request.sandbox, { recursive: true });
  // No await between spawn and attaching the exit listener: a fast exit must not be missed.
  const stdout = fs.openSync(path.join(request.sandbox, 'stdout'), 'a', 0o644);
  let stderr: number | undefined;
  let child: ChildProcess;
  try {
    stderr = fs.openSync(path.join(request.sandbox, 'stderr'), 'a', 0o644);
    child = spawn(request.command.file, [...request.command.args], {
      cwd: request.sandbox,
      env: { ...process.env, ...request.env },
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
  return { pid: child.pid, child, exited };
}
