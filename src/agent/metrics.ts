// The agent's Prometheus metrics, in a registry of its own (two agents in one process, as in the
// tests, must not share counters). Gauges read the agent's state when scraped.
import { Counter, Gauge, Registry } from '../prometheus.js';

export interface AgentGaugeSources {
  registered(): number;
  executors(): Record<string, number>;
  pendingUpdates(): number;
  executorConnections(): number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly registrations: Counter<'type'>;
  readonly tasksLaunched: Counter;
  readonly executorsLaunched: Counter;
  readonly executorsTerminated: Counter;
  readonly statusUpdatesReceived: Counter<'source'>;
  readonly statusUpdatesDuplicate: Counter;
  readonly statusUpdatesForwarded: Counter<'resend'>;
  readonly statusUpdatesAcknowledged: Counter;
  readonly frameErrors: Counter<'code'>;
  readonly recoveryErrors: Counter;
  readonly unknownMessages: Counter<'link'>;

  constructor(sources: AgentGaugeSources) {
    const registers = [this.registry];
    this.registrations = new Counter({ name: 'lifeline_agent_registrations_total', help: 'Registrations with the master, by call', labelNames: ['type'], registers });
    this.tasksLaunched = new Counter({ name: 'lifeline_agent_tasks_launched_total', help: 'Tasks received from the master (RUN_TASK)', registers });
    this.executorsLaunched = new Counter({ name: 'lifeline_agent_executors_launched_total', help: 'Executor processes started', registers });
    this.executorsTerminated = new Counter({ name: 'lifeline_agent_executors_terminated_total', help: 'Executor processes that exited', registers });
    this.statusUpdatesReceived = new Counter({ name: 'lifeline_agent_status_updates_total', help: 'Status updates recorded, by source', labelNames: ['source'], registers });
    this.statusUpdatesDuplicate = new Counter({ name: 'lifeline_agent_status_updates_duplicate_total', help: 'Status updates whose uuid was already recorded (acknowledged again, not forwarded)', registers });
    this.statusUpdatesForwarded = new Counter({ name: 'lifeline_agent_status_updates_forwarded_total', help: 'Status updates sent to the master, first sends and resends', labelNames: ['resend'], registers });
    this.statusUpdatesAcknowledged = new Counter({ name: 'lifeline_agent_status_updates_acknowledged_total', help: 'Status updates acknowledged by their framework', registers });
    this.frameErrors = new Counter({ name: 'lifeline_agent_executor_frames_rejected_total', help: 'Executor connections closed for a bad frame, by error code', labelNames: ['code'], registers });
    this.unknownMessages = new Counter({ name: 'lifeline_agent_unknown_messages_total', help: 'Frames of a type this release does not know (a newer peer\'s), ignored, by link (executor, master)', labelNames: ['link'], registers });
    this.recoveryErrors = new Counter({ name: 'lifeline_agent_recovery_errors_total', help: 'Damaged checkpoint records skipped by a non-strict recovery', registers });
    new Gauge({
      name: 'lifeline_agent_registered',
      help: '1 while the agent is registered with its master',
      registers,
      collect() {
        this.set(sources.registered());
      },
    });
    new Gauge({
      name: 'lifeline_agent_executors',
      help: 'Executors known to the agent, by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const [state, count] of Object.entries(sources.executors())) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'lifeline_agent_executor_connections',
      help: 'Open executor connections',
      registers,
      collect() {
        this.set(sources.executorConnections());
      },
    });
    new Gauge({
      name: 'lifeline_agent_status_updates_pending',
      help: 'Status updates waiting for their framework\'s acknowledgement',
      registers,
      collect() {
        this.set(sources.pendingUpdates());
      },
    });
  }
}
