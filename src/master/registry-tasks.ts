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
