// Agents removed for good: one that unregistered, or that did not re-register within
// --agent_reregister_timeout of its disconnection (the timers that wait for it live here). The
// removal is recorded in the registry first, then the agent's tasks are TASK_LOST
// (REASON_AGENT_REMOVED) to their frameworks; one that comes back meanwhile is told to shut down.
import { formatDuration } from '../protocol/index.js';
import type { MasterContext } from './context.js';
import { noticeAgent } from './agent-notices.js';
import { NotLeaderError } from './registry-store.js';

export interface AgentRemovalOptions {
  reregisterTimeoutMs: number;
  /** Closes the agent's connection, if it still has one, and withdraws its offers. */
  detach(agentId: string): void;
}

export class AgentRemoval {
  readonly #ctx: MasterContext;
  readonly #options: AgentRemovalOptions;
  /** agentId → the timer that removes it if it does not re-register. */
  #timers = new Map<string, NodeJS.Timeout>();
  /** Agents whose removal is being recorded. */
  #removing = new Set<string>();

  constructor(ctx: MasterContext, options: AgentRemovalOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** Removed, or its removal is being recorded: an agent that comes back is told to shut down. */
  isRemoved(agentId: string): boolean {
    return this.#ctx.registry.wasRemoved(agentId) || this.#removing.has(agentId);
  }

  /**
   * Removes agents for good: recorded in the registry first, then their tasks are TASK_LOST
   * (REASON_AGENT_REMOVED) to their frameworks. One that comes back meanwhile is told to shut down.
   */
  remove(agentIds: readonly string[], why: string, logMessage = 'agent removed'): void {
    const { registry, logger, registrar } = this.#ctx;
    const ids = agentIds.filter((id) => !this.#removing.has(id) && registry.agent(id) && registry.agent(id)!.status !== 'REMOVED');
    for (const id of ids) this.#removing.add(id);
    const at = Date.now();
    const written = Promise.all(ids.map((agentId) => registrar?.record({ op: 'remove', agentId, at })));
    written.then(
      () => {
        for (const agentId of ids) {
          this.#removing.delete(agentId);
          const agent = registry.agent(agentId);
          if (!agent || agent.status === 'REMOVED') continue;
          this.#options.detach(agentId);
          this.cancel(agentId);
          noticeAgent(this.#ctx, agentId, 'REMOVED');
          const updates = registry.removeAgent(agentId, why.startsWith('agent ') ? why : `agent ${agentId}: ${why}`);
          logger.warn({ agentId, lost: updates.length }, `${logMessage}: ${why}`);
          this.#ctx.sendUpdates(updates);
        }
      },
      (error: unknown) => {
        for (const agentId of ids) this.#removing.delete(agentId);
        registryFailed(this.#ctx, error, `remove agents ${ids.join(', ')}`);
      },
    );
  }

  /** The agent disconnected: it is removed unless it re-registers within --agent_reregister_timeout. */
  removeUnlessBack(agentId: string): void {
    const timer = setTimeout(() => this.#removeAfterTimeout(agentId), this.#options.reregisterTimeoutMs);
    this.#timers.set(agentId, timer);
  }

  /** The agent is back (or gone already): its removal timer, if any, is stopped. */
  cancel(agentId: string): void {
    const timer = this.#timers.get(agentId);
    if (timer) clearTimeout(timer);
    this.#timers.delete(agentId);
  }

  /** Stops every removal timer (the master is closing). */
  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #removeAfterTimeout(agentId: string): void {
    this.#timers.delete(agentId);
    if (this.#ctx.registry.agent(agentId)?.status !== 'DISCONNECTED') return;
    const timeout = formatDuration(this.#options.reregisterTimeoutMs);
    this.remove([agentId], `agent ${agentId} did not re-register within ${timeout}`, 'agent removed');
  }
}

/** A registry write failed (here or in the agent endpoint's admission): logged, and a master no longer the leader stops serving. */
export function registryFailed(ctx: Pick<MasterContext, 'logger' | 'deposed'>, error: unknown, what: string): void {
  ctx.logger.error({ err: (error as Error).message }, `registry write failed: could not ${what}`);
  if (error instanceof NotLeaderError) ctx.deposed?.(error);
}
