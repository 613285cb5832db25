// The node agent (DESIGN §4, §7): registers with the master, launches executors for the tasks it is
// given, serves them on the executor socket, and delivers every status update to the framework
// through the status update manager. For frameworks that checkpoint it makes its state durable
// (DESIGN §5) before acting on it, so that a restarted agent recovers: start() reads the checkpoint
// while RECOVERING (/state answers 503), finishes the runs whose executor died, listens, gives live
// executors --executor_reregistration_timeout to re-subscribe, and only then re-registers.
// This module is the wiring and start/stop; what the agent knows is the NodeModel (node-model.ts),
// what it does is in run-ending, launcher, recovery-flow, master-session and executor-sessions.
import { Checkpointer } from '../checkpoint/checkpointer.js';
import { GroupCommitter } from '../checkpoint/group-commit.js';
import { IllegalStateError, type RecoverySummary } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { ExecutorEndpoint } from './executor-endpoint.js';
import { secureWorkDir } from './work-dir-privacy.js';
import { isOpenToOthers, switchesUsers } from './task-user.js';
import { ExecutorSessions } from './executor-sessions.js';
import { KILL_MARGIN_MS, type ExecutorRun } from './executor-run.js';
import { AgentHttpServer } from './http.js';
import { Housekeeping } from './housekeeping.js';
import { SandboxFiles } from './files.js';
import { sandboxesDir } from '../checkpoint/layout.js';
import { ExecutorLauncher } from './launcher.js';
import { MasterSession } from './master-session.js';
import { AgentMetrics } from './metrics.js';
import { NodeModel, type AgentStatus } from './node-model.js';
import { validateOptions, type AgentOptions, type Config } from './options.js';
import { RecoveryFlow } from './recovery-flow.js';
import { CONNECTION_DRAIN_MS, RunEnding } from './run-ending.js';
import { removeStaleSocket, shareSocket } from './socket-path.js';
import { agentState, stateResponse, type AgentState } from './state-view.js';
import { ensureWritableDir } from '../checkpoint/writable-dir.js';
import { watchDisk } from './disk-status.js';

export type { AgentOptions, RecoverMode } from './options.js';
export type { AgentStatus } from './node-model.js';
export type { AgentState } from './state-view.js';

/** How long a shutting-down agent waits for its updates to be acknowledged. */
const DRAIN_TIMEOUT_MS = 5_000;
/** How often the processes of recovered executors (not the agent's children) are checked. */
const LIVENESS_INTERVAL_MS = 1_000;

export class Agent {
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #metrics: AgentMetrics;
  readonly #http: AgentHttpServer;
  readonly #endpoint: ExecutorEndpoint;
  readonly #model: NodeModel;
  readonly #ending: RunEnding;
  readonly #master: MasterSession;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #recovery: RecoveryFlow;
  readonly #housekeeping: Housekeeping;
  #liveness: NodeJS.Timeout | undefined;
  /** How the recovery of this start went (issue 15), told to the master when re-registering. */
  #recoverySummary: RecoverySummary | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #resolveClosed!: () => void;
  /** Settles when the agent has stopped (after stop(), shutdown(), the master's SHUTDOWN, or --recover=cleanup). */
  readonly closed: Promise<void>;

  constructor(options: AgentOptions) {
    this.#config = validateOptions(options);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'agent' });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#metrics = new AgentMetrics({
      registered: () => (this.#master.link.registered ? 1 : 0),
      executors: () => {
        const counts: Record<string, number> = { LAUNCHING: 0, RECOVERING: 0, RUNNING: 0, TERMINATING: 0, TERMINATED: 0 };
        for (const run of this.#model.runs()) counts[run.state] = (counts[run.state] ?? 0) + 1;
        return counts;
      },
      pendingUpdates: () => this.#model.updates.pendingCount(),
      tasks: () => {
        const counts: Record<string, number> = {};
        for (const run of this.#model.runs()) for (const entry of run.tasks.values()) counts[entry.state] = (counts[entry.state] ?? 0) + 1;
        return counts;
      },
      executorConnections: () => this.#endpoint.connections.length,
    });
    if (this.#config.checkpoint) {
      this.#checkpointer = new Checkpointer({ workDir: this.#config.workDir, batching: this.#config.checkpointBatching });
      // fdatasync latency and batch sizes, for as long as this agent lives.
      const unobserve = GroupCommitter.observe(this.#metrics.groupCommitObserver);
      void this.closed.then(unobserve);
    }
    this.#model = new NodeModel({
      config: this.#config,
      checkpointer: this.#checkpointer,
      logger: this.#logger,
      metrics: this.#metrics,
      ...(options.updateStore && { updateStore: options.updateStore }),
      forward: (update, resend) => this.#master.forward(update, resend),
    });
    this.#ending = new RunEnding(this.#model);
    this.#housekeeping = new Housekeeping(this.#model, this.#logger);
    const launcher = new ExecutorLauncher(this.#model, this.#ending);
    this.#recovery = new RecoveryFlow(this.#model, this.#ending);
    this.#master = new MasterSession({
      model: this.#model,
      launcher,
      ending: this.#ending,
      // The master has removed this agent already: nothing to unregister, nobody to acknowledge.
      onShutdown: () => void this.#terminate({ everything: true, forwardUpdates: false, unregister: false, forget: true, reason: 'master shutdown' }),
      httpAddress: () => this.#advertisedAddress(),
      recovery: () => this.#recoverySummary,
    });
    const diskHealth = this.#checkpointer && watchDisk(this.#checkpointer.diskHealth, this.#metrics.registry, this.#logger);
    this.#http = new AgentHttpServer({
      ip: this.#config.ip,
      port: this.#config.port,
      registry: this.#metrics.registry,
      state: () => stateResponse(this.#model),
      logger: this.#logger,
      files: new SandboxFiles(sandboxesDir(this.#config.workDir)),
      ...(diskHealth && { diskHealth }),
      ...(this.#config.tls && { tls: this.#config.tls }),
    });
    this.#endpoint = new ExecutorEndpoint({
      socketPath: this.#config.socketPath,
      maxFrameBytes: this.#config.maxFrameBytes,
      heartbeatIntervalMs: this.#config.executorHeartbeatIntervalMs,
      logger: this.#logger.child({ component: 'executor-endpoint' }),
      onRejected: (code) => this.#metrics.frameErrors.inc({ code }),
      onUnknown: () => this.#metrics.unknownMessages.inc({ link: 'executor' }),
      handler: new ExecutorSessions(this.#model, this.#recovery, this.#ending, this.#master),
    });
  }

  /** The ID the master gave this agent (or recovery found); undefined until then. */
  get id(): string | undefined {
    return this.#model.id;
  }

  get status(): AgentStatus {
    return this.#model.status;
  }

  get socketPath(): string {
    return this.#config.socketPath;
  }

  get runtimeDir(): string {
    return this.#config.runtimeDir;
  }

  /** Where /state, /metrics and /health answer (once started). */
  get httpAddress(): { ip: string; port: number } | undefined {
    const address = this.#http.address;
    return address && { ip: address.address, port: address.port };
  }

  /** HOST:PORT of the HTTP endpoint as the master shows it (the hostname when listening on every address). */
  #advertisedAddress(): string | undefined {
    const address = this.#http.address;
    if (!address) return undefined;
    const host = address.address === '0.0.0.0' || address.address === '::' ? this.#config.hostname : address.address;
    return host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
  }

  get metrics(): AgentMetrics {
    return this.#metrics;
  }

  /** How many damaged checkpoint items the (non-strict) recovery skipped. */
  get recoveryErrors(): number {
    return this.#model.recoveryErrors;
  }

  /** DESIGN §9: the agent's /state. */
  state(): AgentState {
    return agentState(this.#model);
  }

  /**
   * Starts the HTTP endpoint, recovers the checkpoint (DESIGN §7), then listens on the executor
   * socket and, once the live executors are back (or their time is up), starts the master link.
   * Rejects (having closed what it opened) when recovery fails (strict mode: AgentRecoveryError;
   * AgentInfoChangedError) or the socket cannot be used. With `recover: 'cleanup'` it resolves
   * after killing the old executors, and the agent is then closed without having registered.
   */
  start(): Promise<void> {
    if (this.#starting) return Promise.reject(new IllegalStateError('cannot start the agent twice'));
    this.#model.lifecycle.assert(['RECOVERING'], 'start the agent');
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const startedAt = performance.now();
    let live: ExecutorRun[] = [];
    const startedWallAt = Date.now();
    try {
      ensureWritableDir(this.#config.workDir, 'work_dir'); // never a recursive mkdir: it loops on /proc/x
      await secureWorkDir(this.#config.workDir, this.#logger, switchesUsers(this.#config));
      const address = await this.#http.listen();
      this.#logger.info({ ip: address.address, port: address.port }, 'HTTP endpoint listening');
      // Another agent on this socket may be using this work dir: recovery must not touch it.
      await removeStaleSocket(this.#config.socketPath);
      if (this.#checkpointer) live = await this.#recovery.recover();
      if (this.#config.recover === 'cleanup') {
        await this.#recovery.cleanup(live);
        await this.#closeAfterCleanup();
        return;
      }
      if (this.#model.lifecycle.is('TERMINATING')) return; // stopped while recovering
      await this.#endpoint.listen();
      // At once: an executor can re-subscribe during the awaits below, and its time counts from here.
      this.#metrics.markListening();
      // Executors of other users may be coming back: their way in was opened by an earlier launch.
      if (switchesUsers(this.#config) && (await isOpenToOthers(this.#config.workDir))) await shareSocket(this.#config.socketPath);
      // Listening first: the runs recovery found dead are ended now, while live executors come back.
      this.#recovery.endDeadRuns();
      // The agent is not the parent of recovered executors: it watches them instead.
      this.#liveness = setInterval(() => this.#ending.checkLiveness(), LIVENESS_INTERVAL_MS);
      this.#liveness.unref();
      this.#housekeeping.start();
    } catch (error) {
      clearInterval(this.#liveness);
      await this.#housekeeping.stop();
      await this.#endpoint.close().catch(() => {});
      await this.#http.close().catch(() => {});
      await this.#checkpointer?.close().catch(() => {});
      this.#model.lifecycle.ensure('TERMINATING');
      this.#model.setLoading(false);
      this.#model.markStopped();
      this.#resolveClosed();
      throw error;
    }
    if (this.#model.lifecycle.is('TERMINATING')) return; // stopped while starting
    await this.#recovery.awaitReregistration(live);
    if (this.#checkpointer) {
      const now = Date.now();
      this.#recoverySummary = { recoveredAt: now, durationMs: now - startedWallAt, executors: live.length, resubscribed: live.filter((run) => run.is('RUNNING')).length };
    }
    await this.#recovery.finish().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not record the boot id'));
    if (this.#model.lifecycle.is('TERMINATING')) return;
    this.#recovered(performance.now() - startedAt, live.length);
    this.#model.lifecycle.transition('DISCONNECTED');
    this.#master.link.start();
  }

  /**
   * SIGTERM/SIGINT: stops the agent. Executors of frameworks that do not checkpoint are shut down;
   * checkpointed ones are left running for a restarted agent to reconnect to (DESIGN §4).
   */
  stop(): Promise<void> {
    return this.#terminate({ everything: false, forwardUpdates: false, unregister: false, forget: false, reason: 'stop' });
  }

  /**
   * SIGUSR1: shuts the whole agent down: every executor is shut down, their terminal updates are
   * forwarded (bounded wait), then the agent unregisters from the master and removes
   * `meta/agents/latest` (the next agent on this work dir starts afresh).
   */
  shutdown(): Promise<void> {
    return this.#terminate({ everything: true, forwardUpdates: true, unregister: true, forget: true, reason: 'shutdown' });
  }

  /** Recovery's closing line and metrics; process metrics start now, off the start-up path. */
  #recovered(elapsedMs: number, live: number): void {
    this.#metrics.recovered(elapsedMs / 1000);
    if (!this.#checkpointer) return;
    const { resubscribed, gone, tasksLost } = this.#recovery.summary();
    const ms = Math.round(elapsedMs);
    const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
    this.#logger.info(
      { durationMs: ms, liveExecutors: live, resubscribed, gone, tasksLost },
      `recovered in ${ms} ms: ${plural(resubscribed, 'executor')} re-subscribed, ${gone} gone, ${plural(tasksLost, 'task')} lost`,
    );
  }

  /** After --recover=cleanup: the agent closes without registering. */
  async #closeAfterCleanup(): Promise<void> {
    const model = this.#model;
    await model.updates.idle();
    model.updates.close();
    await this.#checkpointer?.close();
    model.clearGcTimers();
    model.lifecycle.ensure('TERMINATING');
    this.#stopping ??= Promise.resolve();
    model.markStopped();
    await this.#http.close();
    this.#logger.info('cleanup done: the agent stops without registering');
    this.#resolveClosed();
  }

  // ---- stopping --------------------------------------------------------------------------------

  #terminate(how: { everything: boolean; forwardUpdates: boolean; unregister: boolean; forget: boolean; reason: string }): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      this.#model.lifecycle.ensure('TERMINATING');
      this.#recovery.stopWaiting();
      // Stopped while starting: let start() finish opening what it opens, then close it all.
      await this.#starting?.catch(() => {});
      // Stopped while recovering: the dead runs being ended still get their updates and sentinels.
      await this.#recovery.finish().catch(() => {});
      this.#logger.info(how, 'agent stopping');
      const runs = [...this.#model.runs()].filter((run) => !run.is('TERMINATED') && (how.everything || !run.checkpoint));
      for (const run of runs) this.#ending.shutdown(run);
      if (runs.length > 0) {
        const bound = Math.max(...runs.map((run) => this.#model.graceOf(run))) + KILL_MARGIN_MS + CONNECTION_DRAIN_MS + LIVENESS_INTERVAL_MS + 1_000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(runs.map((run) => run.terminated)), new Promise((resolve) => (timer = setTimeout(resolve, bound)))]);
        clearTimeout(timer);
      }
      if (how.forwardUpdates && this.#master.link.registered) {
        const drained = await this.#model.updates.whenDrained(DRAIN_TIMEOUT_MS);
        if (!drained) this.#logger.warn({ pending: this.#model.updates.pendingCount() }, 'stopping with status updates not yet acknowledged');
      }
      if (how.unregister && (await this.#master.link.sendAndFlush({ type: 'UNREGISTER' }))) this.#logger.info('unregistered from the master');
      if (how.forget && this.#checkpointer) {
        // The next agent on this work dir starts afresh (DESIGN §4).
        await this.#checkpointer.removeLatestAgent().then(
          () => this.#logger.info('meta/agents/latest removed'),
          (error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not remove meta/agents/latest'),
        );
      }
      await this.#master.link.close();
      await this.#endpoint.close();
      clearInterval(this.#liveness);
      await this.#housekeeping.stop();
      this.#model.clearTimers();
      await this.#model.updates.idle();
      this.#model.updates.close();
      await this.#checkpointer?.close().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'could not close the checkpoint'));
      await this.#http.close();
      this.#model.markStopped();
      this.#logger.info('agent stopped');
      this.#resolveClosed();
    })();
    return this.#stopping;
  }
}
