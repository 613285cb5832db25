// The protocol's plain constants (DESIGN §2): task states, status sources, reasons and the
// executor protocol version. The schemas of common.ts are built from them, and the executor side
// uses them without loading the schemas (DESIGN §10).

/** The `protocol` an executor sends in SUBSCRIBE. */
export const EXECUTOR_PROTOCOL_VERSION = 1;

export const TASK_STATES = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING',
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const TERMINAL: ReadonlySet<string> = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR',
]);
export function isTerminal(state: TaskState): boolean {
  return TERMINAL.has(state);
}

export const SOURCES = ['SOURCE_EXECUTOR', 'SOURCE_AGENT', 'SOURCE_MASTER'] as const;
export type Source = (typeof SOURCES)[number];

export const REASONS = [
  'REASON_AGENT_DISCONNECTED', 'REASON_AGENT_REMOVED', 'REASON_AGENT_RESTARTED',
  'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', 'REASON_EXECUTOR_TERMINATED',
  'REASON_EXECUTOR_RECOVERY_TIMEOUT', 'REASON_COMMAND_EXECUTOR_FAILED', 'REASON_RECONCILIATION',
  'REASON_TASK_KILLED_DURING_LAUNCH', 'REASON_FRAMEWORK_REMOVED', 'REASON_TASK_INVALID',
  'REASON_EXECUTOR_UNREGISTERED', 'REASON_INVALID_OFFERS',
] as const;
export type Reason = (typeof REASONS)[number];
