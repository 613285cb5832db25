// The executor environment (DESIGN §2): every variable checked, errors naming the variable.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EnvironmentError, readExecutorEnvironment } from '../../src/executor/environment.js';

const Environment = suite('readExecutorEnvironment');

const GOOD = {
  LIFELINE_AGENT_ENDPOINT: '/tmp/run/executors/agent.sock',
  LIFELINE_AGENT_ID: 'agent-1',
  LIFELINE_FRAMEWORK_ID: 'framework-1',
  LIFELINE_EXECUTOR_ID: 'executor-1',
  LIFELINE_CONTAINER_ID: 'container-1',
  LIFELINE_DIRECTORY: '/tmp/sandbox',
  LIFELINE_CHECKPOINT: '1',
  LIFELINE_RECOVERY_TIMEOUT: '15mins',
  LIFELINE_SUBSCRIPTION_BACKOFF_MAX: '500ms',
  LIFELINE_SHUTDOWN_GRACE_PERIOD: '3secs',
  LIFELINE_EXECUTOR_TOKEN: 'secret',
};

function failure(env: Record<string, string | undefined>): EnvironmentError {
  try {
    readExecutorEnvironment(env);
  } catch (error) {
    assert.instance(error, EnvironmentError);
    return error as EnvironmentError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

Environment('reads every variable, durations in milliseconds', () => {
  assert.equal(readExecutorEnvironment(GOOD), {
    agentEndpoint: '/tmp/run/executors/agent.sock',
    agentId: 'agent-1',
    frameworkId: 'framework-1',
    executorId: 'executor-1',
    containerId: 'container-1',
    directory: '/tmp/sandbox',
    checkpoint: true,
    recoveryTimeoutMs: 900_000,
    subscriptionBackoffMaxMs: 500,
    shutdownGracePeriodMs: 3_000,
    backlogMaxUpdates: 10_000,
    backlogMaxBytes: 16 * 1024 * 1024,
    token: 'secret',
  });
});

Environment('the backlog bound comes from LIFELINE_BACKLOG_MAX_* (the agent\'s --executor_backlog_max_*), checked', () => {
  const env = readExecutorEnvironment({ ...GOOD, LIFELINE_BACKLOG_MAX_UPDATES: '500', LIFELINE_BACKLOG_MAX_BYTES: '65536' });
  assert.equal([env.backlogMaxUpdates, env.backlogMaxBytes], [500, 65_536]);
  assert.match(failure({ ...GOOD, LIFELINE_BACKLOG_MAX_UPDATES: '0' }).message, 'LIFELINE_BACKLOG_MAX_UPDATES is "0": expected a whole number of at least 1');
  assert.match(failure({ ...GOOD, LIFELINE_BACKLOG_MAX_UPDATES: '1e3' }).message, 'LIFELINE_BACKLOG_MAX_UPDATES is "1e3"');
  assert.match(failure({ ...GOOD, LIFELINE_BACKLOG_MAX_BYTES: '100' }).message, 'LIFELINE_BACKLOG_MAX_BYTES is "100": expected a whole number of at least 1024');
});

Environment('the checkpoint-only and grace variables have Mesos defaults when absent', () => {
  const env = readExecutorEnvironment({
    ...GOOD,
    LIFELINE_CHECKPOINT: '0',
    LIFELINE_RECOVERY_TIMEOUT: undefined,
    LIFELINE_SUBSCRIPTION_BACKOFF_MAX: undefined,
    LIFELINE_SHUTDOWN_GRACE_PERIOD: undefined,
  });
  assert.is(env.checkpoint, false);
  assert.is(env.recoveryTimeoutMs, 900_000);
  assert.is(env.subscriptionBackoffMaxMs, 500);
  assert.is(env.shutdownGracePeriodMs, 5_000);
});

Environment('a missing variable is named, with the code ERR_ENVIRONMENT', () => {
  for (const variable of ['LIFELINE_AGENT_ENDPOINT', 'LIFELINE_AGENT_ID', 'LIFELINE_FRAMEWORK_ID', 'LIFELINE_EXECUTOR_ID', 'LIFELINE_CONTAINER_ID', 'LIFELINE_DIRECTORY', 'LIFELINE_CHECKPOINT', 'LIFELINE_EXECUTOR_TOKEN']) {
    const error = failure({ ...GOOD, [variable]: undefined });
    assert.is(error.code, 'ERR_ENVIRONMENT');
    assert.is(error.variable, variable);
    assert.match(error.message, `${variable} is not set`);
  }
});

Environment('a bad value is named and shown', () => {
  assert.match(failure({ ...GOOD, LIFELINE_CONTAINER_ID: '.hidden' }).message, 'LIFELINE_CONTAINER_ID is ".hidden"');
  assert.match(failure({ ...GOOD, LIFELINE_CHECKPOINT: 'yes' }).message, 'LIFELINE_CHECKPOINT is "yes": expected 1 or 0');
  assert.match(failure({ ...GOOD, LIFELINE_RECOVERY_TIMEOUT: 'soon' }).message, 'LIFELINE_RECOVERY_TIMEOUT is "soon"');
  assert.match(failure({ ...GOOD, LIFELINE_AGENT_ENDPOINT: 'agent.sock' }).message, 'an absolute path');
  assert.match(failure({ ...GOOD, LIFELINE_AGENT_ENDPOINT: `/${'x'.repeat(120)}` }).message, 'at most 107 bytes');
  assert.match(failure({ ...GOOD, LIFELINE_DIRECTORY: 'sandbox' }).message, 'LIFELINE_DIRECTORY is "sandbox"');
});

Environment('the token is never shown in an error', () => {
  const error = failure({ ...GOOD, LIFELINE_EXECUTOR_TOKEN: 'x'.repeat(300) });
  assert.is(error.variable, 'LIFELINE_EXECUTOR_TOKEN');
  assert.not.match(error.message, 'xxxx');
});

Environment.run();
