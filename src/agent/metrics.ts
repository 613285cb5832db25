// The agent's Prometheus metrics, in a registry of its own (two agents in one process, as in the
// tests, must not share counters). Gauges read the agent's state when scraped.
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { Counter, Gauge, Histogram, Registry, registerBuildInfo, registerProcessMetrics } from '../prometheus.js';

export interface AgentGaugeSources {
  registered(): number;
  executors(): Record<string, number>;
  pendingUpdates(): number;
  executorConnections(): number;
  /** Tasks by latest state (optional: a source without it reports none). */
  tasks?(): Record<string, number>;
}

/** Seconds, from 1 ms to 1 min: fsyncs, acknowledgements, re-subscriptions. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds, from 10 ms to 15 min: a recovery waits up to --executor_reregistration_timeout and more. */
const RECOVERY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];
/** Records per group commit: 1 when idle, hundreds under load. */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

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
  readonly recoveryDuration: Histogram;
  readonly fdatasyncDuration: Histogram;
  readonly groupCommitRecords: Histogram;
  readonly updateAckDuration: Histogram;
  readonly resubscribeDuration: Histogram;
  #listeningAt: number | undefined;
  #processMetrics = false;

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
    this.recoveryDuration = new Histogram({ name: 'lifeline_agent_recovery_duration_seconds', help: 'From the start of the agent to the end of its recovery (checkpoint read, dead runs ended, live executors back or timed out)', buckets: RECOVERY_BUCKETS, registers });
    this.fdatasyncDuration = new Histogram({ name: 'lifeline_agent_checkpoint_fdatasync_duration_seconds', help: 'fdatasync calls of the checkpoint\'s record logs (group commit)', buckets: LATENCY_BUCKETS, registers });
    this.groupCommitRecords = new Histogram({ name: 'lifeline_agent_checkpoint_group_commit_records', help: 'Records made durable together by one group commit', buckets: BATCH_BUCKETS, registers });
    this.updateAckDuration = new Histogram({ name: 'lifeline_agent_status_update_ack_duration_seconds', help: 'From an executor\'s UPDATE to the agent\'s ACKNOWLEDGED (the update recorded, durably for a checkpointing framework)', buckets: LATENCY_BUCKETS, registers });
    this.resubscribeDuration = new Histogram({ name: 'lifeline_agent_executor_resubscribe_duration_seconds', help: 'After an agent restart: from the executor socket listening to each recovered executor\'s SUBSCRIBE', buckets: LATENCY_BUCKETS, registers });
    registerBuildInfo(this.registry, 'lifeline_build_info', PROTOCOL_VERSION);
    new Gauge({
      name: 'lifeline_agent_tasks',
      help: 'Tasks known to the agent, by latest state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const [state, count] of Object.entries(sources.tasks?.() ?? {})) this.set({ state }, count);
      },
    });
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

  /** The executor socket listens: recovered executors' re-subscription times count from now. */
  markListening(): void {
    this.#listeningAt = performance.now();
  }

  /** A recovered executor re-subscribed. */
  executorResubscribed(): void {
    if (this.#listeningAt !== undefined) this.resubscribeDuration.observe((performance.now() - this.#listeningAt) / 1000);
  }

  /** Recovery is over: its duration, and from now on the process and Node.js metrics (once). */
  recovered(seconds: number): void {
    this.recoveryDuration.observe(seconds);
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    registerProcessMetrics(this.registry);
  }

  /** The checkpoint's group committer reports each batch here (see GroupCommitObserver). */
  readonly groupCommitObserver = {
    synced: (seconds: number) => this.fdatasyncDuration.observe(seconds),
    committed: (records: number) => this.groupCommitRecords.observe(records),
  };
}
