// A task as the master records it, and the status updates the master makes up itself about
// tasks (SOURCE_MASTER): TASK_LOST for a lost agent, reconciliation answers.
import { newId, type Reason, type RoutedTaskStatus, type TaskInfo, type TaskState } from '../protocol/index.js';

export interface TaskRecord {
  readonly id: string;
  readonly frameworkId: string;
  readonly agentId: string;
  /** A command task's executor ID is its task ID. */
  readonly executorId: string;
  readonly info: TaskInfo;
  state: TaskState;
  /**
   * Terminal because its agent said so, and the framework has not acknowledged that terminal
   * update yet: the agent still holds it. If the agent is removed now, the framework would never
   * hear how the task ended, so the master reports it lost (as Mesos does for every task whose
   * terminal update was not acknowledged).
   */
  terminalUnacknowledged?: boolean;
  /** The uuid of the terminal update forwarded to the framework, whose acknowledgement clears the above. */
  terminalUuid?: string;
  /** The run's sandbox directory on the agent, as the agent reported it (issue 15). */
  sandbox?: string;
  /** The task's status history, oldest first, bounded (see recordStatus). */
  statuses?: StatusEntry[];
}

/** One status of a task's history as /state shows it. */
export interface StatusEntry {
  state: TaskState;
  timestamp: number;
  source: string | null;
  reason: string | null;
  message: string | null;
  uuid: string | null;
}

/** How many statuses a task's history keeps: its first, and the latest ones. */
export const MAX_TASK_STATUSES = 50;

/**
 * Adds a status to the task's history: one entry per uuid (an agent resends an update until it
 * is acknowledged), the first entry kept when the history is full and the oldest after it dropped.
 */
export function recordStatus(
  task: TaskRecord,
  status: { state: TaskState; timestamp: number; source?: string | undefined; reason?: string | undefined; message?: string | undefined; uuid?: string | undefined },
): void {
  const list = (task.statuses ??= []);
  if (status.uuid !== undefined && list.some((entry) => entry.uuid === status.uuid)) return;
  list.push({
    state: status.state,
    timestamp: status.timestamp,
    source: status.source ?? null,
    reason: status.reason ?? null,
    message: status.message === undefined ? null : status.message.slice(0, 1024),
    uuid: status.uuid ?? null,
  });
  if (list.length > MAX_TASK_STATUSES) list.splice(1, list.length - MAX_TASK_STATUSES);
}

/** The first entry of a task the master records: launched by it (STAGING), or reported by a re-registering agent. */
export function firstStatus(state: TaskState): { state: TaskState; timestamp: number; source?: string; message: string } {
  return state === 'TASK_STAGING'
    ? { state, timestamp: Date.now(), source: 'SOURCE_MASTER', message: 'launched by the master' }
    : { state, timestamp: Date.now(), message: 'reported by its agent when it re-registered' };
}

/** A status update the master made up itself, and the framework it goes to. */
export interface GeneratedUpdate {
  frameworkId: string;
  status: RoutedTaskStatus;
}

export function executorIdOf(task: TaskInfo): string {
  return task.executor?.executorId ?? task.taskId;
}

/** A status from the master about a task (SOURCE_MASTER); reconciliation answers carry no uuid. */
export function masterStatus(
  task: { taskId: string; agentId?: string; executorId?: string },
  state: TaskState,
  reason: Reason,
  message: string,
  { withUuid = true }: { withUuid?: boolean } = {},
): RoutedTaskStatus {
  return {
    taskId: task.taskId,
    state,
    ...(withUuid ? { uuid: newId() } : {}),
    timestamp: Date.now(),
    source: 'SOURCE_MASTER',
    reason,
    message,
    ...(task.agentId !== undefined ? { agentId: task.agentId } : {}),
    ...(task.executorId !== undefined ? { executorId: task.executorId } : {}),
  };
}
