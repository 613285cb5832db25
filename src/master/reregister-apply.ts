// What a whole REREGISTER does to the registry: the frameworks and tasks an agent reports are
// taken in (a master that restarted learns them here), tasks the master placed there that the
// agent no longer knows become TASK_LOST, and what must not run on is named. Kept apart from the
// agent endpoint so that the registry side reads in one place; the endpoint sends what it returns.
import { isTerminal, type ReregisterCall as Reregister } from '../protocol/index.js';
import type { MasterContext } from './context.js';
import type { GeneratedUpdate } from './registry.js';

export interface TaskRef {
  frameworkId: string;
  taskId: string;
}

/** What the agent is told after REREGISTERED, in this order, and what its frameworks are told. */
export interface Reregistration {
  /** KILL_TASKs held for the agent while it was away, of tasks still live. */
  pendingKills: TaskRef[];
  /** Reported tasks that must not run on: given up on already, or another agent's. */
  kills: TaskRef[];
  /** Frameworks that completed: SHUTDOWN_FRAMEWORK. */
  shutdown: Set<string>;
  /** TASK_LOST for tasks the master launched there that the agent does not know any more. */
  lost: GeneratedUpdate[];
}

/** Applies a re-registered agent's report; the agent is in the registry (reactivated or added) already. */
export function applyReregistration(
  ctx: Pick<MasterContext, 'registry' | 'logger' | 'recovery'>,
  call: Reregister,
  principal: string | undefined,
): Reregistration {
  const { registry, logger } = ctx;
  const agentId = call.agentInfo.id;
  const shutdown = new Set<string>();
  for (const framework of call.frameworks) {
    if (registry.isCompleted(framework.id)) shutdown.add(framework.id);
    // A framework known only from an agent's report waits, DISCONNECTED, for its scheduler.
    else if (!registry.framework(framework.id)) {
      registry.addFramework(framework, 'DISCONNECTED');
      // Its principal, as the master that registered it told the agent (the registry's record wins).
      if (framework.principal !== undefined && registry.owner('framework', framework.id) === undefined) registry.setOwner('framework', framework.id, framework.principal);
      ctx.recovery?.markRecovered(framework.id);
    }
  }
  const reported = new Set<string>();
  // Tasks still running there that the master has already given up on (lost when the agent
  // disconnected, as a non-checkpointing framework's task is): they must not run on (Mesos kills them too).
  const kills: TaskRef[] = [];
  for (const entry of call.tasks) {
    if (registry.isCompleted(entry.frameworkId)) {
      shutdown.add(entry.frameworkId);
      continue;
    }
    // A task whose framework the agent did not list: it survived a restart, so it checkpoints.
    if (!registry.framework(entry.frameworkId)) {
      registry.addFramework({ id: entry.frameworkId, name: '', checkpoint: true }, 'DISCONNECTED');
      ctx.recovery?.markRecovered(entry.frameworkId);
    }
    const task = registry.task(entry.frameworkId, entry.task.taskId);
    if (task && task.agentId !== agentId && !isTerminal(task.state)) {
      // Another agent's live task (issue 14): not taken over. The copy reported here is not the
      // master's, so it does not run on.
      logger.warn({ agentId, principal, frameworkId: entry.frameworkId, taskId: task.id, runsOn: task.agentId }, `agent ${agentId} reported task ${task.id}, which runs on agent ${task.agentId}: not taken over, killed there`);
      kills.push({ frameworkId: entry.frameworkId, taskId: task.id });
      continue;
    }
    reported.add(`${entry.frameworkId}/${entry.task.taskId}`);
    if (task && task.agentId === agentId) {
      if (isTerminal(task.state) && !isTerminal(entry.state)) kills.push({ frameworkId: entry.frameworkId, taskId: task.id });
      registry.setState(task, entry.state);
      if (entry.sandbox !== undefined) task.sandbox = entry.sandbox;
    } else {
      const added = registry.addTask(entry.frameworkId, { ...entry.task, agentId }, entry.state);
      if (entry.sandbox !== undefined) added.sandbox = entry.sandbox;
    }
  }
  // A task the master launched there that the agent does not know any more is lost.
  const lost: GeneratedUpdate[] = [];
  for (const task of registry.tasksOn(agentId)) {
    if (isTerminal(task.state) || reported.has(`${task.frameworkId}/${task.id}`)) continue;
    lost.push(registry.generate(task, 'TASK_LOST', 'REASON_RECONCILIATION', `task ${task.id} is not known to agent ${agentId}, which re-registered`));
  }
  const agent = registry.agent(agentId)!;
  const pendingKills: TaskRef[] = [];
  for (const [taskId, frameworkId] of agent.pendingKills) {
    const task = registry.task(frameworkId, taskId);
    if (task && !isTerminal(task.state)) pendingKills.push({ frameworkId, taskId });
  }
  agent.pendingKills.clear();
  return { pendingKills, kills, shutdown, lost };
}
