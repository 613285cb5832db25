// An agent as the master records it, with its lifecycle: ACTIVE while connected, DISCONNECTED
// while it has its re-registration timeout to come back, REMOVED for good. Pure state.
import { IllegalStateError, type AgentInfo } from '../protocol/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { amounts, type Amounts } from './resources.js';

export type AgentStatus = 'ACTIVE' | 'DISCONNECTED' | 'REMOVED';

const AGENT_MOVES: Transitions<AgentStatus> = {
  ACTIVE: ['DISCONNECTED', 'REMOVED'],
  DISCONNECTED: ['ACTIVE', 'REMOVED'],
  REMOVED: [],
};

/** One event of an agent's history (issue 15): when it registered, went away, came back or was removed. */
export interface AgentEventEntry {
  type: 'REGISTERED' | 'DISCONNECTED' | 'REREGISTERED' | 'REMOVED';
  timestamp: number;
  /** REREGISTERED: how long it was away. */
  awayMs?: number;
  /** DISCONNECTED: how long the master waits for it. */
  reregisterTimeoutMs?: number;
  /** REREGISTERED after a restart: how its recovery went, as the agent reports it. */
  recovery?: { recoveredAt: number; durationMs: number; executors: number; resubscribed: number };
}

/** How many events an agent's history keeps (the oldest are dropped). */
export const MAX_AGENT_EVENTS = 50;

export class AgentRecord {
  readonly id: string;
  #info: AgentInfo;
  readonly #status: StateMachine<AgentStatus>;
  /** Kills asked for while the agent was disconnected, sent when it re-registers: taskId → frameworkId. */
  readonly pendingKills = new Map<string, string>();
  /** The protocol agreed at its last (re)registration, and its release (undefined: 0.1.0, which does not say). */
  protocol: number | undefined;
  release: string | undefined;
  /** Its history, oldest first, bounded (issue 15). */
  readonly events: AgentEventEntry[] = [];
  /** When the master last heard from it (ms since the epoch). */
  lastSeenAt: number | undefined;

  /** Adds an event to its history; returns it. */
  note(event: AgentEventEntry): AgentEventEntry {
    this.events.push(event);
    if (this.events.length > MAX_AGENT_EVENTS) this.events.splice(0, this.events.length - MAX_AGENT_EVENTS);
    return event;
  }

  /** When it last went away, if it is away now. */
  get disconnectedAt(): number | undefined {
    const last = this.events.at(-1);
    return last?.type === 'DISCONNECTED' ? last.timestamp : undefined;
  }

  constructor(id: string, info: AgentInfo) {
    this.id = id;
    this.#info = { ...info, id };
    this.#status = new StateMachine<AgentStatus>(`agent ${id}`, 'ACTIVE', AGENT_MOVES);
  }

  get info(): AgentInfo {
    return this.#info;
  }

  get status(): AgentStatus {
    return this.#status.state;
  }

  get hostname(): string {
    return this.#info.hostname;
  }

  get checkpoint(): boolean {
    return this.#info.checkpoint;
  }

  get total(): Amounts {
    return amounts(this.#info.resources);
  }

  /** A re-registering agent may report new resources or a new hostname. */
  updateInfo(info: AgentInfo): void {
    this.#info = { ...info, id: this.id };
  }

  /** Throws IllegalStateError ("cannot mark agent a1 ACTIVE in REMOVED state") for a move outside the table. */
  transition(to: AgentStatus): void {
    if (!this.#status.tryTransition(to)) throw new IllegalStateError(`cannot mark agent ${this.id} ${to} in ${this.#status.state} state`);
  }
}
