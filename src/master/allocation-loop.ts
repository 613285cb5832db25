// The allocation loop (DESIGN §8): a round at least every --allocation_interval, and one at once
// (on the next turn of the event loop) when something changes. A round rescinds offers held past
// --offer_timeout, asks the allocator for new ones over the connected ACTIVE agents and the ACTIVE
// frameworks, and sends each framework its offers as OFFERS events, in pieces that fit a frame.
import { MAX_OFFERS_PER_EVENT, type SchedulerEvent } from '../protocol/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import type { Logger } from '../log.js';
import type { Allocator, OutstandingOffer } from './allocator.js';
import { pieces } from './outgoing.js';
import type { Registry } from './registry.js';

export interface AllocationLoopOptions {
  registry: Registry;
  allocator: Allocator;
  logger: Logger;
  /** A round at least this often (--allocation_interval). */
  intervalMs: number;
  /** Offers older than this are rescinded at the next round (--offer_timeout). */
  offerTimeoutMs: number;
  /** Whether the agent has a connection now: only connected agents are offered. */
  connected(agentId: string): boolean;
  /** Sends to the framework's scheduler; false when it has no connection (or it is going away). */
  send(frameworkId: string, event: SchedulerEvent): boolean;
  /** Whether the master leads: one that does not (a standby, or deposed) offers nothing. */
  leading(): boolean;
}

export type AllocationLoopState = 'IDLE' | 'RUNNING' | 'STOPPED';

/** IDLE → RUNNING → STOPPED; a loop stopped before it started goes IDLE → STOPPED. */
const MOVES: Transitions<AllocationLoopState> = {
  IDLE: ['RUNNING', 'STOPPED'],
  RUNNING: ['STOPPED'],
  STOPPED: [],
};

export class AllocationLoop {
  readonly #options: AllocationLoopOptions;
  readonly #state = new StateMachine<AllocationLoopState>('the allocation loop', 'IDLE', MOVES);
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Immediate | undefined;

  constructor(options: AllocationLoopOptions) {
    this.#options = options;
  }

  get state(): AllocationLoopState {
    return this.#state.state;
  }

  /** Starts the rounds every --allocation_interval (the master does so once it is RUNNING). */
  start(): void {
    this.#state.transition('RUNNING');
    this.#timer = setInterval(() => this.#round(), this.#options.intervalMs);
  }

  /** Something changed (resources freed, a framework arrived): a round on the next turn. Ignored unless RUNNING. */
  soon(): void {
    if (this.#soon || !this.#state.is('RUNNING')) return;
    this.#soon = setImmediate(() => {
      this.#soon = undefined;
      this.#round();
    });
  }

  /** No more rounds. Safe to call more than once. */
  stop(): void {
    this.#state.ensure('STOPPED');
    clearInterval(this.#timer);
    if (this.#soon) clearImmediate(this.#soon);
  }

  #round(): void {
    if (!this.#state.is('RUNNING') || !this.#options.leading()) return;
    const { registry, allocator, logger } = this.#options;
    const agents = registry
      .agents()
      .filter((agent) => agent.status === 'ACTIVE' && this.#options.connected(agent.id))
      .map((agent) => ({ id: agent.id, hostname: agent.hostname, checkpoint: agent.checkpoint, unused: registry.unused(agent.id) }));
    const frameworks = registry
      .frameworks()
      .filter((framework) => framework.status === 'ACTIVE')
      .map((framework) => ({ id: framework.id, checkpoint: framework.checkpoint }));
    const now = Date.now();
    // Offers held past --offer_timeout go back to the pool, to be offered again (Mesos rescinds them too).
    for (const offer of allocator.expire(now, this.#options.offerTimeoutMs)) {
      logger.info({ frameworkId: offer.frameworkId, offerId: offer.id, agentId: offer.agentId }, 'offer rescinded: not used within --offer_timeout');
      this.#options.send(offer.frameworkId, { type: 'RESCIND', offerId: offer.id });
    }
    const made = allocator.allocate(agents, frameworks, now);
    const byFramework = new Map<string, OutstandingOffer[]>();
    for (const offer of made) {
      const list = byFramework.get(offer.frameworkId) ?? [];
      list.push(offer);
      byFramework.set(offer.frameworkId, list);
    }
    for (const [frameworkId, offers] of byFramework) {
      logger.debug({ frameworkId, offers: offers.map((offer) => ({ id: offer.id, agentId: offer.agentId, resources: offer.resources })) }, 'offering');
      // In pieces: one offer per agent, and an OFFERS event of 100k agents would outgrow a frame.
      let sent = true;
      for (const piece of pieces(offers, MAX_OFFERS_PER_EVENT)) {
        sent &&= this.#options.send(frameworkId, {
          type: 'OFFERS',
          offers: piece.map(({ id, agentId, hostname, resources }) => ({ id, agentId, hostname, resources })),
        });
      }
      // The scheduler's connection is going away: its close handler has or will withdraw them.
      if (!sent) allocator.withdrawFramework(frameworkId);
    }
  }
}
