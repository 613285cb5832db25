// The master's Prometheus metrics, in a Registry of its own (never prom-client's global one), so
// that several masters in one process (tests, embedding) do not share counters.
import { Counter, Gauge, Registry as PromRegistry, registerBuildInfo, registerProcessMetrics } from '../prometheus.js';
import { TASK_STATES } from '../protocol/index.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { Allocator } from './allocator.js';
import type { Registry } from './registry.js';

export class MasterMetrics {
  readonly registry = new PromRegistry();
  readonly framesRejected: Counter<'endpoint' | 'code'>;
  readonly statusUpdates: Counter<'source'>;
  readonly unknownMessages: Counter<'endpoint'>;
  /** Tasks that reached a terminal state, by state and reason: kept when their framework goes, so rate() works. */
  readonly tasksTerminal: Counter<'state' | 'reason'>;
  #processMetrics = false;

  constructor(state: Registry, allocator: Allocator) {
    const registers = [this.registry];
    this.unknownMessages = new Counter({ name: 'lifeline_master_unknown_messages_total', help: 'Frames of a type this release does not know (a newer peer\'s), ignored, by endpoint (agent, scheduler)', labelNames: ['endpoint'], registers });
    new Gauge({
      name: 'lifeline_master_agents',
      help: 'Agents known to the master, by status',
      labelNames: ['status'] as const,
      registers,
      collect() {
        const counts: Record<string, number> = { ACTIVE: 0, DISCONNECTED: 0, REMOVED: 0 };
        for (const agent of state.agents()) counts[agent.status]! += 1;
        for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'lifeline_master_frameworks',
      help: 'Frameworks registered with the master, by status (ACTIVE: a scheduler is connected)',
      labelNames: ['status'] as const,
      registers,
      collect() {
        const counts: Record<string, number> = { ACTIVE: 0, DISCONNECTED: 0 };
        for (const framework of state.frameworks()) counts[framework.status] = (counts[framework.status] ?? 0) + 1;
        for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'lifeline_master_tasks',
      help: 'Tasks of registered frameworks, by latest state',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const counts = new Map<string, number>(TASK_STATES.map((s) => [s, 0]));
        for (const framework of state.frameworks()) {
          for (const task of framework.tasks.values()) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
        }
        for (const [s, count] of counts) this.set({ state: s }, count);
      },
    });
    new Gauge({
      name: 'lifeline_master_offers_outstanding',
      help: 'Offers made and not yet accepted, declined or rescinded',
      registers,
      collect() {
        this.set(allocator.offers().length);
      },
    });
    this.framesRejected = new Counter({
      name: 'lifeline_master_frames_rejected_total',
      help: 'Frames refused with ERROR and close (malformed, unknown type, invalid ID, wrong first frame, oversize)',
      labelNames: ['endpoint', 'code'] as const,
      registers,
    });
    this.statusUpdates = new Counter({
      name: 'lifeline_master_status_updates_total',
      help: 'Status updates routed to frameworks, by who made them',
      labelNames: ['source'] as const,
      registers,
    });
    this.tasksTerminal = new Counter({
      name: 'lifeline_master_tasks_terminal_total',
      help: 'Tasks that reached a terminal state (the first terminal update the master saw or made), by state and reason',
      labelNames: ['state', 'reason'] as const,
      registers,
    });
    registerBuildInfo(this.registry, 'lifeline_build_info', PROTOCOL_VERSION);
  }

  /** A task reached a terminal state (reason "none" when the update gives none). */
  taskEnded(state: string, reason: string | undefined): void {
    this.tasksTerminal.inc({ state, reason: reason ?? 'none' });
  }

  /** The master listens: process and Node.js metrics from now on (once), off the start-up path. */
  started(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    registerProcessMetrics(this.registry);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
