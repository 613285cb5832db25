// The protocol's plain constants (DESIGN §2): task states, status sources, reasons and the
// executor protocol version. The schemas of common.ts are built from them, and the executor side
// uses them without loading the schemas (DESIGN §10).

/** The `protocol` an executor sends in SUBSCRIBE. */
export const EXECUTOR_PROTOCOL_VERSION = 1;

export const TASK_STATES = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING',
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR',
] as const;
/** A state this release knows. */
export type KnownTaskState = (typeof TASK_STATES)[number];
/**
 * A task state as received: one this release knows, or a well-formed one a newer release added
 * (issue 11: kept and passed on, never a validation failure; non-terminal by rule, docs/upgrades.md).
 */
export type TaskState = KnownTaskState | `TASK_${string}`;

const TERMINAL: ReadonlySet<string> = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR',
]);
export function isTerminal(state: TaskState): boolean {
  return TERMINAL.has(state);
}

export const SOURCES = ['SOURCE_EXECUTOR', 'SOURCE_AGENT', 'SOURCE_MASTER'] as const;
export type Source = (typeof SOURCES)[number] | `SOURCE_${string}`;

export const REASONS = [
  'REASON_AGENT_DISCONNECTED', 'REASON_AGENT_REMOVED', 'REASON_AGENT_RESTARTED',
  'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', 'REASON_EXECUTOR_TERMINATED',
  'REASON_EXECUTOR_RECOVERY_TIMEOUT', 'REASON_COMMAND_EXECUTOR_FAILED', 'REASON_RECONCILIATION',
  'REASON_TASK_KILLED_DURING_LAUNCH', 'REASON_FRAMEWORK_REMOVED', 'REASON_TASK_INVALID',
  'REASON_EXECUTOR_UNREGISTERED', 'REASON_INVALID_OFFERS',
] as const;
export type Reason = (typeof REASONS)[number] | `REASON_${string}`;

/** What a name added by a later release looks like, after its prefix (TASK_, SOURCE_, REASON_). */
export const FUTURE_NAME = /^[A-Z][A-Z0-9_]{0,62}$/;

/** Whether `value` is one of `known` or a well-formed `<prefix><NAME>` a newer release may send. */
export function isOpenName(value: unknown, known: readonly string[], prefix: string): boolean {
  return typeof value === 'string' && (known.includes(value) || (value.startsWith(prefix) && FUTURE_NAME.test(value.slice(prefix.length))));
}
