// What the master tells operators and frameworks about an agent coming and going (issue 15): the
// agent's history for /state and the web view, and AGENT_STATUS to every framework with live tasks
// there, so that `lifeline run` can say "agent … disconnected; the task keeps running there".
import { isTerminal, type AgentStatusEvent } from '../protocol/index.js';
import type { MasterContext } from './context.js';
import type { AgentEventEntry } from './registry-agents.js';

/**
 * Records the event in the agent's history and, but for REGISTERED, sends AGENT_STATUS to the
 * frameworks that have live tasks on it (or ended ones not yet acknowledged). Call it before the registry loses those tasks
 * (DISCONNECTED of a non-checkpointing framework, REMOVED), so that their frameworks hear it first.
 */
export function noticeAgent(
  ctx: MasterContext,
  agentId: string,
  type: AgentEventEntry['type'],
  extra: { reregisterTimeoutMs?: number; recovery?: AgentEventEntry['recovery'] } = {},
): void {
  const agent = ctx.registry.agent(agentId);
  if (!agent) return;
  const now = Date.now();
  const away = agent.disconnectedAt;
  const entry: AgentEventEntry = { type, timestamp: now };
  if (type === 'DISCONNECTED' && extra.reregisterTimeoutMs !== undefined) entry.reregisterTimeoutMs = extra.reregisterTimeoutMs;
  if (type === 'REREGISTERED' && away !== undefined) entry.awayMs = now - away;
  // A recovery is told with every re-registration after it: recorded once.
  if (extra.recovery && !agent.events.some((event) => event.recovery?.recoveredAt === extra.recovery!.recoveredAt)) entry.recovery = { ...extra.recovery };
  agent.note(entry);
  agent.lastSeenAt = type === 'DISCONNECTED' ? agent.lastSeenAt : now;
  if (type === 'REGISTERED') return;
  const event: AgentStatusEvent = { type: 'AGENT_STATUS', agentId, hostname: agent.hostname, status: type, timestamp: now };
  if (entry.reregisterTimeoutMs !== undefined) event.reregisterTimeoutMs = entry.reregisterTimeoutMs;
  if (entry.awayMs !== undefined) event.awayMs = entry.awayMs;
  const frameworks = new Set<string>();
  // A task that ended while the agent was away (reported so on re-registration) still counts: its
  // framework has not heard the end yet.
  for (const task of ctx.registry.tasksOn(agentId)) if (!isTerminal(task.state) || task.terminalUnacknowledged) frameworks.add(task.frameworkId);
  for (const frameworkId of frameworks) ctx.toFramework(frameworkId, event);
}

/** Any frame from a registered agent: it is alive now. */
export function agentSeen(ctx: MasterContext, agentId: string | undefined): void {
  if (agentId === undefined) return;
  const agent = ctx.registry.agent(agentId);
  if (agent) agent.lastSeenAt = Date.now();
}
