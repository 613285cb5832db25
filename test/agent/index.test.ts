// The agent's barrel: the Agent, its errors, and the building blocks the CLI and the recovery tests
// reuse, each the very binding of the module that defines it (re-exports only), and nothing else.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as agentIndex from '../../src/agent/index.js';
import type { AgentOptions, AgentState, AgentStatus, ExecutorState, MasterLinkState, RecoverMode, StatusUpdate, UpdateStore } from '../../src/agent/index.js';
import * as agent from '../../src/agent/agent.js';
import * as checkpointStore from '../../src/agent/checkpoint-store.js';
import * as errors from '../../src/agent/errors.js';
import * as executorEndpoint from '../../src/agent/executor-endpoint.js';
import * as executorRun from '../../src/agent/executor-run.js';
import * as launcher from '../../src/agent/launcher.js';
import * as masterLink from '../../src/agent/master-link.js';
import * as metrics from '../../src/agent/metrics.js';
import * as resources from '../../src/agent/resources.js';
import * as socketPath from '../../src/agent/socket-path.js';
import * as statusUpdateManager from '../../src/agent/status-update-manager.js';
import * as token from '../../src/agent/token.js';
import * as stateMachine from '../../src/lifecycle/state-machine.js';
import { LifelineError } from '../../src/protocol/errors.js';

/** Each name the barrel exports, and the module that defines it. */
const SURFACE: Record<string, Record<string, unknown>> = {
  Agent: agent,
  AgentAlreadyRunningError: errors,
  AgentInfoChangedError: errors,
  AgentOptionError: errors,
  RuntimeDirError: errors,
  CheckpointUpdateStore: checkpointStore,
  ExecutorEndpoint: executorEndpoint,
  ExecutorConnection: executorEndpoint,
  EXECUTOR_API_PATH: executorEndpoint,
  ExecutorRun: executorRun,
  commandExecutorInfo: launcher,
  executorEnvironment: launcher,
  launchExecutor: launcher,
  sandboxPath: launcher,
  shellCommand: launcher,
  shimCommand: launcher,
  CLI_MAIN: launcher,
  MasterLink: masterLink,
  AgentMetrics: metrics,
  detectResources: resources,
  parseResources: resources,
  resolveResources: resources,
  MAX_SOCKET_PATH_BYTES: socketPath,
  checkSocketPath: socketPath,
  defaultRuntimeDir: socketPath,
  executorSocketPath: socketPath,
  prepareSocketDir: socketPath,
  removeStaleSocket: socketPath,
  StateMachine: stateMachine,
  MemoryUpdateStore: statusUpdateManager,
  StatusUpdateManager: statusUpdateManager,
  hashToken: token,
  newToken: token,
  verifyToken: token,
};

// The types the CLI and the tests take from the barrel (a missing one fails the build).
export type Surface = [AgentOptions, AgentState, AgentStatus, ExecutorState, MasterLinkState, RecoverMode, StatusUpdate, UpdateStore];

const test = suite('agent/index');

test('exports the agent\'s public surface and nothing else', () => {
  assert.equal(Object.keys(agentIndex).sort(), Object.keys(SURFACE).sort());
});

test('each export is the defining module\'s own binding (re-exports only, no wrappers)', () => {
  const exported = agentIndex as unknown as Record<string, unknown>;
  for (const [name, module] of Object.entries(SURFACE)) {
    assert.ok(module[name] !== undefined, `${name} is defined by its module`);
    assert.is(exported[name], module[name], name);
  }
});

test('its error classes are LifelineErrors, which users match on by code', () => {
  for (const name of ['AgentAlreadyRunningError', 'AgentInfoChangedError', 'AgentOptionError', 'RuntimeDirError'] as const) {
    assert.ok((agentIndex[name] as { prototype: object }).prototype instanceof LifelineError, name);
  }
});

test.run();
