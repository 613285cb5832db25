// The environment an agent gives every executor (DESIGN §2), read and checked in one place so that
// a missing or bad variable fails start() with an error naming the variable and its value.
import path from 'node:path';
import { parseDuration } from '../protocol/duration.js';
import { LifelineError, show } from '../protocol/errors.js';
import { isValidId } from '../protocol/ids.js';
import { BACKLOG_MAX_BYTES, BACKLOG_MAX_UPDATES } from './backlog.js';

/** What an executor learns from its environment. The token is a secret: keep it out of logs. */
export interface ExecutorEnvironment {
  /** Absolute path of the agent's Unix socket (`LIFELINE_AGENT_ENDPOINT`). */
  readonly agentEndpoint: string;
  readonly agentId: string;
  readonly frameworkId: string;
  readonly executorId: string;
  readonly containerId: string;
  /** The run's sandbox directory, also the executor's working directory. */
  readonly directory: string;
  /** Does the framework checkpoint (`LIFELINE_CHECKPOINT=1`)? */
  readonly checkpoint: boolean;
  /** How long to wait for a restarted agent before shutting down (checkpointing only). */
  readonly recoveryTimeoutMs: number;
  /** Upper bound of the re-subscription backoff (checkpointing only). */
  readonly subscriptionBackoffMaxMs: number;
  /** SIGTERM → SIGKILL grace for the tasks when the executor shuts down. */
  readonly shutdownGracePeriodMs: number;
  /** The backlog's bound: updates not acknowledged by the agent, and their bytes (the agent's --executor_backlog_max_*). */
  readonly backlogMaxUpdates: number;
  readonly backlogMaxBytes: number;
  readonly token: string;
}

/** The token's variable: the driver deletes it from `process.env` so that tasks never inherit it. */
export const TOKEN_VARIABLE = 'LIFELINE_EXECUTOR_TOKEN';

// Defaults for the variables an agent sets only in some cases (Mesos defaults: recovery 15mins,
// a quarter of the 2secs re-registration timeout, 5secs grace).
const DEFAULT_RECOVERY_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_SUBSCRIPTION_BACKOFF_MAX_MS = 500;
const DEFAULT_SHUTDOWN_GRACE_PERIOD_MS = 5_000;
const MAX_SOCKET_PATH_BYTES = 107;
const MAX_TOKEN_LENGTH = 256;

/** A variable of the executor environment that is missing or has a bad value. */
export class EnvironmentError extends LifelineError {
  readonly variable: string;

  constructor(variable: string, value: string | undefined, expected: string) {
    const what = value === undefined ? 'is not set' : `is ${variable === TOKEN_VARIABLE ? '(hidden)' : show(value)}`;
    super(
      'ERR_ENVIRONMENT',
      `environment variable ${variable} ${what}: expected ${expected} (the agent sets it when it launches an executor; ` +
        'an executor is not meant to be started by hand)',
    );
    this.variable = variable;
  }
}

/** Reads and checks the executor environment; throws EnvironmentError naming the first bad variable. */
export function readExecutorEnvironment(env: NodeJS.ProcessEnv = process.env): ExecutorEnvironment {
  const agentEndpoint = required(env, 'LIFELINE_AGENT_ENDPOINT');
  if (!path.isAbsolute(agentEndpoint)) {
    throw new EnvironmentError('LIFELINE_AGENT_ENDPOINT', agentEndpoint, 'an absolute path of a Unix socket');
  }
  if (Buffer.byteLength(agentEndpoint) > MAX_SOCKET_PATH_BYTES) {
    throw new EnvironmentError('LIFELINE_AGENT_ENDPOINT', agentEndpoint, `a socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  const directory = required(env, 'LIFELINE_DIRECTORY');
  if (!path.isAbsolute(directory)) throw new EnvironmentError('LIFELINE_DIRECTORY', directory, 'an absolute path');

  const checkpointText = required(env, 'LIFELINE_CHECKPOINT');
  if (checkpointText !== '1' && checkpointText !== '0') throw new EnvironmentError('LIFELINE_CHECKPOINT', checkpointText, '1 or 0');

  const token = required(env, TOKEN_VARIABLE);
  if (token.length > MAX_TOKEN_LENGTH) throw new EnvironmentError(TOKEN_VARIABLE, token, `at most ${MAX_TOKEN_LENGTH} characters`);

  return {
    agentEndpoint,
    agentId: id(env, 'LIFELINE_AGENT_ID'),
    frameworkId: id(env, 'LIFELINE_FRAMEWORK_ID'),
    executorId: id(env, 'LIFELINE_EXECUTOR_ID'),
    containerId: id(env, 'LIFELINE_CONTAINER_ID'),
    directory,
    checkpoint: checkpointText === '1',
    recoveryTimeoutMs: duration(env, 'LIFELINE_RECOVERY_TIMEOUT', DEFAULT_RECOVERY_TIMEOUT_MS),
    subscriptionBackoffMaxMs: duration(env, 'LIFELINE_SUBSCRIPTION_BACKOFF_MAX', DEFAULT_SUBSCRIPTION_BACKOFF_MAX_MS),
    shutdownGracePeriodMs: duration(env, 'LIFELINE_SHUTDOWN_GRACE_PERIOD', DEFAULT_SHUTDOWN_GRACE_PERIOD_MS),
    backlogMaxUpdates: count(env, 'LIFELINE_BACKLOG_MAX_UPDATES', BACKLOG_MAX_UPDATES, 1),
    backlogMaxBytes: count(env, 'LIFELINE_BACKLOG_MAX_BYTES', BACKLOG_MAX_BYTES, 1024),
    token,
  };
}

function required(env: NodeJS.ProcessEnv, variable: string): string {
  const value = env[variable];
  if (value === undefined || value === '') throw new EnvironmentError(variable, value, 'a non-empty value');
  return value;
}

function id(env: NodeJS.ProcessEnv, variable: string): string {
  const value = required(env, variable);
  if (!isValidId(value)) throw new EnvironmentError(variable, value, 'an ID matching ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$');
  return value;
}

function duration(env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const value = env[variable];
  if (value === undefined || value === '') return fallback;
  try {
    return parseDuration(value);
  } catch {
    throw new EnvironmentError(variable, value, 'a duration such as 500ms, 5secs or 15mins');
  }
}

function count(env: NodeJS.ProcessEnv, variable: string, fallback: number, min: number): number {
  const value = env[variable];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new EnvironmentError(variable, value, `a whole number of at least ${min}`);
  return n;
}
