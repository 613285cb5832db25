// A restarted or failed-over master kills nothing (Mesos's master failover): the agents of the
// registry are expected back within --agent_reregister_timeout, and meanwhile a RECONCILE or KILL
// of a task the master does not know yet is held, not answered TASK_LOST on a guess. A held call is
// answered once the task is known (its agent re-registered) or once no agent that could hold it is
// still expected. When the window closes, agents that did not return are removed, unless that
// would remove more than --recovery_agent_removal_limit of them.
import { formatDuration } from '../protocol/index.js';
import type { Logger } from '../log.js';
import type { Registry, TaskRecord } from './registry.js';

export type HeldKind = 'RECONCILE' | 'KILL';

export interface RecoveryHooks {
  /** Answers a held RECONCILE for a task now known (or TASK_LOST, undefined: unknown for good). */
  answer(frameworkId: string, taskId: string, task: TaskRecord | undefined): void;
  /** Carries out a held KILL of a task now known (or answers it TASK_LOST, undefined: unknown). */
  kill(frameworkId: string, taskId: string, task: TaskRecord | undefined): void;
  /** Removes the agents that did not come back (durably first). */
  remove(agentIds: string[], why: string): void;
}

export interface RecoveryOptions {
  reregisterTimeoutMs: number;
  /** Fraction 0..1 of recovered agents that may be removed when the window closes. */
  removalLimit: number;
  /**
   * Whether the master knows which agents to expect (a registry). Without one it cannot know when
   * every agent is back, so held calls wait for the whole window.
   */
  knowsAgents: boolean;
  logger: Logger;
}

/** Held calls per framework at most (a scheduler reconciling in a loop must not grow memory without bound). */
const MAX_HELD = 100_000;

export class RecoveryWindow {
  readonly #options: RecoveryOptions;
  readonly #registry: Registry;
  #hooks: RecoveryHooks | undefined;
  /** Agents of the registry not back yet. */
  readonly #expected = new Set<string>();
  /** Frameworks this master did not create (re-subscribed with an ID, or reported by an agent). */
  readonly #recoveredFrameworks = new Set<string>();
  /** frameworkId → taskId → what is held. */
  readonly #held = new Map<string, Map<string, Set<HeldKind>>>();
  #heldCount = 0;
  #open = false;
  #timer: NodeJS.Timeout | undefined;
  #recovered = 0;

  constructor(registry: Registry, options: RecoveryOptions) {
    this.#registry = registry;
    this.#options = options;
  }

  /** Whether calls may be held now. */
  get open(): boolean {
    return this.#open;
  }

  /** Agents still expected back. */
  get expected(): number {
    return this.#expected.size;
  }

  get held(): number {
    return this.#heldCount;
  }

  /** Opens the window over these recovered agents (none: a master without registry still opens it). */
  start(agentIds: readonly string[], hooks: RecoveryHooks): void {
    this.#hooks = hooks;
    for (const id of agentIds) this.#expected.add(id);
    this.#recovered = agentIds.length;
    if (this.#options.knowsAgents && agentIds.length === 0) return; // a first start: nothing to wait for
    this.#open = true;
    this.#timer = setTimeout(() => this.#close(), this.#options.reregisterTimeoutMs);
    this.#options.logger.info(
      { expectedAgents: agentIds.length, window: formatDuration(this.#options.reregisterTimeoutMs), registry: this.#options.knowsAgents },
      'recovering: waiting for agents to re-register before answering for tasks it does not know',
    );
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#open = false;
    this.#held.clear();
    this.#heldCount = 0;
  }

  /** A framework this master did not create: its unknown tasks may be on agents still to come. */
  markRecovered(frameworkId: string): void {
    if (this.#open) this.#recoveredFrameworks.add(frameworkId);
  }

  /** Holds a call for an unknown task of a recovered framework; false: answer it now. */
  hold(frameworkId: string, taskId: string, kind: HeldKind): boolean {
    if (!this.#open || !this.#recoveredFrameworks.has(frameworkId)) return false;
    let tasks = this.#held.get(frameworkId);
    if (!tasks) this.#held.set(frameworkId, (tasks = new Map()));
    let kinds = tasks.get(taskId);
    if (!kinds) {
      if (this.#heldCount >= MAX_HELD) return false;
      tasks.set(taskId, (kinds = new Set()));
      this.#heldCount += 1;
    }
    kinds.add(kind);
    this.#options.logger.debug({ frameworkId, taskId, kind }, 'held until its agent re-registers or the recovery window closes');
    return true;
  }

  /** An agent is back: answer what its report made known; close early once every agent is back. */
  agentBack(agentId: string): void {
    this.#expected.delete(agentId);
    this.#release(false);
    if (this.#open && this.#options.knowsAgents && this.#expected.size === 0) this.#finish('every agent of the registry re-registered');
  }

  /** The framework was removed: what was held for it is dropped (no one is listening). */
  frameworkGone(frameworkId: string): void {
    const tasks = this.#held.get(frameworkId);
    if (tasks) this.#heldCount -= tasks.size;
    this.#held.delete(frameworkId);
  }

  #close(): void {
    this.#timer = undefined;
    const { reregisterTimeoutMs, removalLimit, logger } = this.#options;
    const missing = [...this.#expected].filter((id) => this.#registry.agent(id)?.status === 'DISCONNECTED');
    const timeout = formatDuration(reregisterTimeoutMs);
    if (missing.length > 0) {
      const share = missing.length / Math.max(1, this.#recovered);
      if (share > removalLimit + 1e-9) {
        // Mesos fails over here; a lone master cannot, so it keeps them and says why, loudly.
        logger.error(
          { missing: missing.length, recovered: this.#recovered, limit: `${Math.round(removalLimit * 100)}%` },
          `not removing the ${missing.length} agents that did not re-register within ${timeout}: that is more than --recovery_agent_removal_limit of the ${this.#recovered} agents in the registry; they stay DISCONNECTED and their tasks are held until they return`,
        );
        this.#finish('the recovery window closed (removal limit exceeded)', true);
        return;
      }
      this.#hooks?.remove(missing, `agent did not re-register within ${timeout} of the master's recovery`);
    }
    for (const id of missing) this.#expected.delete(id);
    this.#finish(`the recovery window of ${timeout} closed`);
  }

  /** No more holding (calls for tasks still unknown get TASK_LOST), unless `keepHeld` (agents still expected). */
  #finish(why: string, keepHeld = false): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#open = keepHeld;
    this.#options.logger.info({ held: this.#heldCount, expectedAgents: this.#expected.size }, `recovery done: ${why}`);
    this.#release(!keepHeld);
  }

  /** Answers held calls whose task is known now; with `all`, the unknown ones too. */
  #release(all: boolean): void {
    for (const [frameworkId, tasks] of this.#held) {
      for (const [taskId, kinds] of tasks) {
        const task = this.#registry.task(frameworkId, taskId);
        if (!task && !all) continue;
        tasks.delete(taskId);
        this.#heldCount -= 1;
        if (kinds.has('RECONCILE')) this.#hooks?.answer(frameworkId, taskId, task);
        if (kinds.has('KILL')) this.#hooks?.kill(frameworkId, taskId, task);
      }
      if (tasks.size === 0) this.#held.delete(frameworkId);
    }
  }
}
