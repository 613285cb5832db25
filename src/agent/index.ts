// The agent's public surface: the Agent class, its option and state types, and the building
// blocks the CLI (and the recovery issue) reuse. Re-exports only.
export { Agent, type AgentOptions, type AgentState, type AgentStatus, type RecoverMode } from './agent.js';
export { AgentAlreadyRunningError, AgentInfoChangedError, AgentOptionError, RuntimeDirError } from './errors.js';
export { CheckpointUpdateStore, type RecordAppender, type TaskRefResolver } from './checkpoint-store.js';
export { ExecutorEndpoint, ExecutorConnection, EXECUTOR_API_PATH, type ExecutorHandler, type ExecutorEndpointOptions } from './executor-endpoint.js';
export { ExecutorRun, type ExecutorState, type Framework, type TaskEntry } from './executor-run.js';
export { commandExecutorInfo, executorEnvironment, launchExecutor, sandboxPath, shellCommand, shimCommand, CLI_MAIN, type ExecutorExit } from './launcher.js';
export { MasterLink, type MasterLinkOptions, type MasterLinkState } from './master-link.js';
export { AgentMetrics } from './metrics.js';
export { detectResources, parseResources, resolveResources, type AgentResources } from './resources.js';
export { MAX_SOCKET_PATH_BYTES, checkSocketPath, defaultRuntimeDir, executorSocketPath, prepareSocketDir, removeStaleSocket } from './socket-path.js';
export { StateMachine } from '../lifecycle/state-machine.js';
export {
  MemoryUpdateStore,
  StatusUpdateManager,
  type ForwardedStatus,
  type StatusUpdate,
  type StatusUpdateManagerOptions,
  type Timers,
  type UpdateOutcome,
  type UpdateReceipt,
  type UpdateRecord,
  type UpdateStore,
} from './status-update-manager.js';
export { hashToken, newToken, verifyToken } from './token.js';
