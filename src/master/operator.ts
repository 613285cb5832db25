// Operator calls on the master (issue 15): `POST /api/v1/tasks/<taskId>/kill` kills a task on
// behalf of an operator, as its framework's KILL would, without being its scheduler.
import { isTerminal, isValidId } from '../protocol/index.js';
import type { MasterContext } from './context.js';
import type { TaskRecord } from './registry.js';

/** What the HTTP layer answers: a status code and a JSON body. */
export interface OperatorAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Sends KILL_TASK for the task to its agent (or keeps it for when the agent re-registers, as a
 * framework's kill is kept). The task ID is looked up in every live framework; when two have it,
 * `frameworkId` must say which.
 */
export function operatorKill(ctx: MasterContext, taskId: string, frameworkId: string | undefined): OperatorAnswer {
  if (!isValidId(taskId)) return { status: 400, body: { error: `invalid task ID ${JSON.stringify(taskId)}` } };
  if (frameworkId !== undefined && !isValidId(frameworkId)) return { status: 400, body: { error: `invalid framework ID ${JSON.stringify(frameworkId)}` } };
  const found: TaskRecord[] = [];
  for (const framework of ctx.registry.frameworks()) {
    if (frameworkId !== undefined && framework.id !== frameworkId) continue;
    const task = framework.tasks.get(taskId);
    if (task) found.push(task);
  }
  if (found.length === 0) {
    const where = frameworkId === undefined ? 'any live framework' : `framework ${frameworkId}`;
    return { status: 404, body: { error: `no task ${taskId} in ${where}` } };
  }
  if (found.length > 1) {
    const ids = found.map((task) => task.frameworkId).join(', ');
    return { status: 409, body: { error: `task ID ${taskId} is used by frameworks ${ids}; say which with ?framework_id=` } };
  }
  const task = found[0]!;
  const summary = { taskId: task.id, frameworkId: task.frameworkId, agentId: task.agentId };
  if (isTerminal(task.state)) return { status: 409, body: { ...summary, state: task.state, error: `task ${taskId} is already ${task.state}` } };
  const agent = ctx.registry.agent(task.agentId);
  const sent = agent?.status === 'ACTIVE' && ctx.toAgent(task.agentId, { type: 'KILL_TASK', frameworkId: task.frameworkId, taskId: task.id });
  if (!sent) agent?.pendingKills.set(task.id, task.frameworkId);
  ctx.logger.info({ ...summary, sent }, sent ? 'operator killed a task' : 'operator killed a task on an agent that is away: sent when it re-registers');
  return { status: 202, body: { ...summary, state: task.state, sent } };
}
