// Decides which framework is offered which agent's free resources: round-robin over connected
// frameworks, one framework per agent's free resources at a time, the checkpoint rule, and the
// filters a DECLINE leaves behind. Pure: the caller passes the clock and what is unused, and sends
// the offers it gets back.
import { newId, type Offer } from '../protocol/index.js';
import { add, EMPTY, isOfferable, subtract, type Amounts } from './resources.js';

/** An ACTIVE agent as the allocator sees it. */
export interface AgentSlot {
  id: string;
  hostname: string;
  checkpoint: boolean;
  /** Total minus what non-terminal tasks use (outstanding offers are subtracted here). */
  unused: Amounts;
}

/** A framework whose scheduler is connected. */
export interface FrameworkSlot {
  id: string;
  checkpoint: boolean;
}

export interface OutstandingOffer extends Offer {
  frameworkId: string;
}

/** Why an offer named in ACCEPT cannot be used. */
export interface InvalidOffer {
  offerId: string;
  why: string;
}

/** Default of DECLINE's refuseSeconds, as in Mesos. */
export const DEFAULT_REFUSE_SECONDS = 5;

/**
 * The checkpoint rule: a framework that checkpoints is only offered agents that checkpoint, so
 * its tasks can survive an agent restart. Everything else may go anywhere.
 */
export function satisfiesCheckpointRule(framework: { checkpoint: boolean }, agent: { checkpoint: boolean }): boolean {
  return !framework.checkpoint || agent.checkpoint;
}

export class Allocator {
  #offers = new Map<string, OutstandingOffer>();
  /** offerId → when it was made (ms since epoch), for --offer_timeout. */
  #madeAt = new Map<string, number>();
  /** frameworkId → agentId → until (ms since epoch): declined, not to be offered again before then. */
  #filters = new Map<string, Map<string, number>>();
  #cursor = 0;

  /**
   * Offers each agent's unused, unoffered resources to the next eligible framework in round-robin
   * order. Returns the new offers (already outstanding).
   */
  allocate(agents: readonly AgentSlot[], frameworks: readonly FrameworkSlot[], now: number): OutstandingOffer[] {
    const made: OutstandingOffer[] = [];
    if (frameworks.length === 0) return made;
    for (const agent of agents) {
      const available = subtract(agent.unused, this.offered(agent.id));
      if (!isOfferable(available)) continue;
      for (let k = 0; k < frameworks.length; k++) {
        const index = (this.#cursor + k) % frameworks.length;
        const framework = frameworks[index]!;
        if (!satisfiesCheckpointRule(framework, agent) || this.isFiltered(framework.id, agent.id, now)) continue;
        const offer: OutstandingOffer = { id: newId(), frameworkId: framework.id, agentId: agent.id, hostname: agent.hostname, resources: available };
        this.#offers.set(offer.id, offer);
        this.#madeAt.set(offer.id, now);
        made.push(offer);
        this.#cursor = (index + 1) % frameworks.length;
        break;
      }
    }
    return made;
  }

  offer(offerId: string): OutstandingOffer | undefined {
    return this.#offers.get(offerId);
  }

  offers(): OutstandingOffer[] {
    return [...this.#offers.values()];
  }

  /** What outstanding offers hold of the agent's resources. */
  offered(agentId: string): Amounts {
    let sum: Amounts = { ...EMPTY };
    for (const offer of this.#offers.values()) if (offer.agentId === agentId) sum = add(sum, offer.resources);
    return sum;
  }

  /**
   * Takes the offers named in an ACCEPT out of the outstanding set. Offers that exist and belong to
   * the framework are taken even when others are invalid: their resources go back to the pool.
   */
  take(frameworkId: string, offerIds: readonly string[]): { taken: OutstandingOffer[]; invalid: InvalidOffer[] } {
    const taken: OutstandingOffer[] = [];
    const invalid: InvalidOffer[] = [];
    for (const offerId of new Set(offerIds)) {
      const offer = this.#offers.get(offerId);
      if (!offer) invalid.push({ offerId, why: `offer ${offerId} is not outstanding (unknown, rescinded, declined or already used)` });
      else if (offer.frameworkId !== frameworkId) invalid.push({ offerId, why: `offer ${offerId} was not made to framework ${frameworkId}` });
      else {
        this.#offers.delete(offerId);
        this.#madeAt.delete(offerId);
        taken.push(offer);
      }
    }
    return { taken, invalid };
  }

  /**
   * Declines the framework's offers: their resources go back to the pool, and each agent is not
   * offered to this framework again for `refuseSeconds`. Unknown offers are ignored.
   */
  decline(frameworkId: string, offerIds: readonly string[], refuseSeconds: number = DEFAULT_REFUSE_SECONDS, now: number): OutstandingOffer[] {
    const declined: OutstandingOffer[] = [];
    for (const offerId of offerIds) {
      const offer = this.#offers.get(offerId);
      if (!offer || offer.frameworkId !== frameworkId) continue;
      this.#offers.delete(offerId);
      this.#madeAt.delete(offerId);
      declined.push(offer);
      if (refuseSeconds > 0) this.filter(frameworkId, offer.agentId, now + refuseSeconds * 1000);
    }
    return declined;
  }

  /** Do not offer the agent to the framework before `until`. */
  filter(frameworkId: string, agentId: string, until: number): void {
    let filters = this.#filters.get(frameworkId);
    if (!filters) this.#filters.set(frameworkId, (filters = new Map()));
    filters.set(agentId, Math.max(until, filters.get(agentId) ?? 0));
  }

  isFiltered(frameworkId: string, agentId: string, now: number): boolean {
    const filters = this.#filters.get(frameworkId);
    const until = filters?.get(agentId);
    if (until === undefined) return false;
    if (until > now) return true;
    filters!.delete(agentId);
    if (filters!.size === 0) this.#filters.delete(frameworkId);
    return false;
  }

  /** Offers outstanding for `timeoutMs` or longer (--offer_timeout): withdrawn, to be rescinded. */
  expire(now: number, timeoutMs: number): OutstandingOffer[] {
    return this.#withdraw((offer) => now - (this.#madeAt.get(offer.id) ?? now) >= timeoutMs);
  }

  /** The agent is gone or disconnected: its outstanding offers are withdrawn (to be rescinded). */
  withdrawAgent(agentId: string): OutstandingOffer[] {
    return this.#withdraw((offer) => offer.agentId === agentId);
  }

  /** The framework's scheduler disconnected: its offers go back to the pool; filters stay. */
  withdrawFramework(frameworkId: string): OutstandingOffer[] {
    return this.#withdraw((offer) => offer.frameworkId === frameworkId);
  }

  /** The framework is removed: its offers and its filters are forgotten. */
  removeFramework(frameworkId: string): OutstandingOffer[] {
    this.#filters.delete(frameworkId);
    return this.withdrawFramework(frameworkId);
  }

  #withdraw(match: (offer: OutstandingOffer) => boolean): OutstandingOffer[] {
    const withdrawn: OutstandingOffer[] = [];
    for (const offer of this.#offers.values()) {
      if (match(offer)) {
        this.#offers.delete(offer.id);
        this.#madeAt.delete(offer.id);
        withdrawn.push(offer);
      }
    }
    return withdrawn;
  }
}
