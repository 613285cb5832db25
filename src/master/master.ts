// The master (DESIGN §8): one HTTP server carrying the agent and scheduler WebSocket endpoints and
// /health, /state, /metrics; the registry and allocator between them; the allocation loop
// (allocation-loop.ts); its term and leadership. Its options are checked in options.ts. State lives
// in memory. `lifeline master` is a thin wrapper around this class.
import { IllegalStateError, formatAddress, isTerminal, type AgentEvent, type SchedulerEvent } from '../protocol/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { silentLogger, type Logger } from '../log.js';
import { AgentEndpoint } from './agent-endpoint.js';
import { AllocationLoop } from './allocation-loop.js';
import { Allocator } from './allocator.js';
import type { MasterContext } from './context.js';
import { MasterHttpServer } from './http.js';
import { MasterMetrics } from './metrics.js';
import { resolveHa, resolveOptions, type HaOptions, type MasterOptions, type ResolvedOptions } from './options.js';
import { Registry, type GeneratedUpdate, type MasterState } from './registry.js';
import { SchedulerEndpoint } from './scheduler-endpoint.js';
import { openStore, restore } from './leadership.js';
import { RecoveryWindow } from './recovery.js';
import { EtcdRegistryStore } from './registry-store-etcd.js';
import { Registrar, type RegistryStore } from './registry-store.js';
import { StandbyRefusals } from './standby.js';
import { operatorKill } from './operator.js';
import { masterAsset } from './web/assets.js';
import { resolveTrust, type Trust } from './trust.js';
import { ConnectionLimit } from '../session/connection-limit.js';

export type { MasterOptions } from './options.js';

export type MasterLifecycle = 'NEW' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED';

/** NEW → STARTING → RUNNING → STOPPING → STOPPED; a master stopped before it started goes NEW → STOPPED. */
const MOVES: Transitions<MasterLifecycle> = {
  NEW: ['STARTING', 'STOPPED'],
  STARTING: ['RUNNING', 'STOPPING'],
  RUNNING: ['STOPPING'],
  STOPPING: ['STOPPED'],
  STOPPED: [],
};

export class Master {
  #options: ResolvedOptions;
  #logger: Logger;
  readonly #lifecycle = new StateMachine<MasterLifecycle>('the master', 'NEW', MOVES);
  #registry: Registry;
  #allocator = new Allocator();
  #metrics: MasterMetrics;
  #agents: AgentEndpoint;
  #schedulers: SchedulerEndpoint;
  #http: MasterHttpServer;
  #port: number | undefined;
  readonly #allocation: AllocationLoop;
  #stopped: Promise<void> | undefined;
  readonly #ha: HaOptions;
  #store: RegistryStore;
  #registrar: Registrar;
  #recovery: RecoveryWindow;
  readonly #standby: StandbyRefusals;
  /** Serving the agent and scheduler endpoints (false: a standby, still campaigning, or deposed). */
  #leading = false;
  #epoch = 0;
  #campaign = new AbortController();
  readonly #trust: Trust;
  readonly #tls: 'off' | 'on' | 'mutual';

  constructor(options: MasterOptions = {}) {
    this.#options = resolveOptions(options);
    this.#registry = new Registry({
      maxCompletedFrameworks: this.#options.maxCompletedFrameworks,
      maxCompletedTasksPerFramework: this.#options.maxCompletedTasksPerFramework,
      maxRemembered: this.#options.registryMaxAgentCount,
    });
    this.#ha = resolveHa(options);
    this.#trust = resolveTrust(options, this.#options.ip);
    this.#logger = options.logger ?? silentLogger;
    this.#tls = options.tls === undefined ? 'off' : options.tls.clientCa === undefined ? 'on' : 'mutual';
    this.#store = openStore({
      workDir: this.#ha.workDir,
      registry: this.#ha.registry,
      address: () => this.#ownAddress(),
      leaseTtlMs: this.#ha.leaderLeaseTtlMs,
      onDeposed: (error) => this.#deposed(error),
      onLeader: (leader) => this.#logger.info({ leader }, 'leader (as etcd says)'),
    });
    this.#registrar = new Registrar(this.#store);
    this.#recovery = new RecoveryWindow(this.#registry, {
      reregisterTimeoutMs: this.#options.agentReregisterTimeoutMs,
      removalLimit: this.#ha.recoveryAgentRemovalLimit,
      knowsAgents: this.#store.durable,
      logger: this.#logger,
    });
    this.#standby = new StandbyRefusals(() => this.#leaderAddress(), this.#logger);
    this.#metrics = new MasterMetrics(this.#registry, this.#allocator);
    this.#allocation = new AllocationLoop({
      registry: this.#registry,
      allocator: this.#allocator,
      logger: this.#logger,
      intervalMs: this.#options.allocationIntervalMs,
      offerTimeoutMs: this.#options.offerTimeoutMs,
      connected: (agentId) => this.#agents.isConnected(agentId),
      send: (frameworkId, event) => this.#schedulers.send(frameworkId, event),
      leading: () => this.#leading,
    });
    const context: MasterContext = {
      registry: this.#registry,
      allocator: this.#allocator,
      metrics: this.#metrics,
      logger: this.#logger,
      toAgent: (agentId: string, event: AgentEvent) => this.#agents.send(agentId, event),
      toFramework: (frameworkId: string, event: SchedulerEvent) => this.#schedulers.send(frameworkId, event),
      sendUpdates: (updates: readonly GeneratedUpdate[]) => this.#sendUpdates(updates),
      allocateSoon: () => this.#allocation.soon(),
      registrar: this.#registrar,
      recovery: this.#recovery,
      epoch: () => this.#epoch,
      deposed: (error: Error) => this.#deposed(error),
    };
    const { maxFrameBytes, registrationTimeoutMs } = this.#options;
    // One cap for both endpoints, and one per connection for what may wait unsent to it.
    const connections = new ConnectionLimit(this.#options.maxConnections);
    const bounds = { connections, maxBufferedBytes: this.#options.maxConnectionBufferBytes };
    this.#agents = new AgentEndpoint(context, {
      maxFrameBytes,
      registrationTimeoutMs,
      ...bounds,
      maxReregisterBytes: this.#options.maxReregisterBytes,
      pingTimeoutMs: this.#options.agentPingTimeoutMs,
      maxPingTimeouts: this.#options.maxAgentPingTimeouts,
      reregisterTimeoutMs: this.#options.agentReregisterTimeoutMs,
      authentication: this.#trust.agents,
    });
    this.#schedulers = new SchedulerEndpoint(context, {
      maxFrameBytes,
      registrationTimeoutMs,
      ...bounds,
      heartbeatIntervalMs: Math.max(1, Math.round(this.#options.heartbeatIntervalMs)),
      authentication: this.#trust.schedulers,
    });
    this.#http = new MasterHttpServer(
      {
        state: () => this.state(),
        metrics: () => this.#metrics.text(),
        asset: masterAsset,
        kill: (taskId, frameworkId) => operatorKill(context, taskId, frameworkId),
        ...(this.#trust.operators && { operators: this.#trust.operators }),
        upgrades: {
          '/api/v1/agent': (request, socket, head) => (this.#leading ? this.#agents.handleUpgrade(request, socket, head) : this.#standby.refuse(request, socket, head)),
          '/api/v1/scheduler': (request, socket, head) => (this.#leading ? this.#schedulers.handleUpgrade(request, socket, head) : this.#standby.refuse(request, socket, head)),
        },
      },
      this.#logger,
      options.tls,
    );
  }

  get lifecycle(): MasterLifecycle {
    return this.#lifecycle.state;
  }

  /** The port it listens on (after start()). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Whether this master leads (serves agents and schedulers). A master without etcd leads once started. */
  get leading(): boolean {
    return this.#leading;
  }

  /** The leadership term (0: a master without a registry). */
  get epoch(): number {
    return this.#epoch;
  }

  /** DESIGN §9 /state; with a registry also `leader` (HOST:PORT), `epoch` and the `registry` kind. */
  state(): MasterState {
    if (!this.#store.durable) return this.#registry.toJSON();
    const ha = { leader: this.#leaderAddress() ?? null, epoch: this.#epoch, registry: this.#store.kind, leading: this.#leading };
    if (!this.#leading) return { ...ha, agents: [], frameworks: [], completedFrameworks: [] } as MasterState;
    return { ...ha, ...this.#registry.toJSON(), recovery: { expectedAgents: this.#recovery.expected, held: this.#recovery.held } } as MasterState;
  }

  async start(): Promise<{ port: number }> {
    // The message names the move: "cannot move the master to STARTING in RUNNING state".
    this.#lifecycle.assert(['NEW'], 'move the master to STARTING');
    this.#lifecycle.transition('STARTING');
    try {
      // A file registry is read (and its term started) before anything is served.
      if (this.#store.kind !== 'etcd') await this.#takeTerm();
      this.#port = await this.#http.listen(this.#options.port, this.#options.ip);
    } catch (error) {
      this.#lifecycle.transition('STOPPING');
      await this.#http.close();
      this.#lifecycle.transition('STOPPED');
      throw error;
    }
    if (!this.#lifecycle.is('STARTING')) {
      await this.#http.close(); // stop() ran while it was starting
      throw new IllegalStateError('the master was stopped while it was starting');
    }
    this.#lifecycle.transition('RUNNING');
    this.#allocation.start();
    this.#logger.info({ ip: this.#options.ip, port: this.#port, registry: this.#store.kind, tls: this.#tls, authentication: this.#trust.summary }, 'master listening');
    this.#metrics.started();
    if (this.#store.kind === 'etcd') void this.#campaignAndLead();
    else this.#lead();
    return { port: this.#port };
  }

  /** Resolves once this master leads (or rejects when it stops first). */
  async whenLeading(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#leading) {
      if (!this.#lifecycle.is('STARTING', 'RUNNING')) throw new IllegalStateError(`the master stopped before it led (${this.#lifecycle.state})`);
      if (Date.now() > deadline) throw new IllegalStateError(`the master did not lead within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async #takeTerm(): Promise<void> {
    const snapshot = await this.#store.load();
    this.#epoch = snapshot.epoch;
    const expected = restore(this.#registry, snapshot);
    this.#expected = expected;
  }

  #expected: string[] = [];

  #lead(): void {
    this.#leading = true;
    this.#recovery.start(this.#expected, {
      answer: (frameworkId, taskId, task) => this.#schedulers.answerHeld(frameworkId, taskId, task),
      kill: (frameworkId, taskId, task) => this.#schedulers.killKnown(frameworkId, taskId, task),
      remove: (agentIds, why) => this.#agents.removeAgents(agentIds, why, 'agent removed after the master recovered'),
    });
    this.#logger.info({ epoch: this.#epoch, registry: this.#store.kind, expectedAgents: this.#expected.length }, 'leading');
    this.#allocation.soon();
  }

  async #campaignAndLead(): Promise<void> {
    const store = this.#store as EtcdRegistryStore;
    try {
      this.#logger.info({ registry: this.#ha.registry }, 'campaigning for leadership');
      await store.campaign(this.#campaign.signal);
      if (!this.#lifecycle.is('RUNNING')) return;
      await this.#takeTerm();
      if (!this.#lifecycle.is('RUNNING')) return;
      this.#lead();
    } catch (error) {
      if (!this.#lifecycle.is('RUNNING')) return;
      this.#deposed(error as Error);
    }
  }

  /** How clients reach this master: `https://HOST:PORT` when it serves TLS, so that etcd discovery tells clients to use it. */
  #ownAddress(): string {
    const address = formatAddress({ host: this.#ha.advertiseIp, port: this.#port ?? this.#options.port });
    return this.#tls === 'off' ? address : `https://${address}`;
  }

  #leaderAddress(): string | undefined {
    if (this.#leading) return this.#ownAddress();
    return this.#store instanceof EtcdRegistryStore ? this.#store.leader : undefined;
  }

  /** Leadership is gone: stop serving at once (every connection dropped), then stop. */
  #deposed(error: Error): void {
    if (!this.#lifecycle.is('STARTING', 'RUNNING')) return;
    const wasLeading = this.#leading;
    this.#leading = false;
    this.#logger.error({ err: error.message, wasLeading }, 'leadership lost: stopping at once');
    void this.stop().then(() => this.#ha.onDeposed?.(error));
  }

  /** Closes every connection, timer and the HTTP server. Safe to call more than once. */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    // A start that failed has stopped it already: stop() stays safe to call.
    if (this.#lifecycle.is('STOPPED')) return (this.#stopped = Promise.resolve());
    if (this.#lifecycle.is('NEW')) {
      this.#lifecycle.transition('STOPPED');
      return (this.#stopped = Promise.resolve());
    }
    this.#lifecycle.transition('STOPPING');
    this.#leading = false;
    this.#campaign.abort(new IllegalStateError('the master is stopping'));
    this.#recovery.stop();
    this.#standby.close();
    this.#allocation.stop();
    this.#agents.close();
    this.#schedulers.close();
    // Writes already under way finish before the store closes: a master started next on the same
    // registry must not load it without them (or have its own term overwritten by them).
    const closed = withTimeoutOrNot(this.#registrar.idle(), 5_000).then(() => this.#store.close()).catch(() => {});
    this.#stopped = Promise.all([this.#http.close(), closed]).then(() => {
      this.#lifecycle.transition('STOPPED');
      this.#logger.info('master stopped');
    });
    return this.#stopped;
  }

  #sendUpdates(updates: readonly GeneratedUpdate[]): void {
    for (const { frameworkId, status } of updates) {
      this.#metrics.statusUpdates.inc({ source: 'SOURCE_MASTER' });
      if (isTerminal(status.state)) this.#metrics.taskEnded(status.state, status.reason);
      this.#logger.info({ frameworkId, agentId: status.agentId, executorId: status.executorId, taskId: status.taskId, state: status.state, source: 'SOURCE_MASTER', reason: status.reason }, `status update ${status.state} for task ${status.taskId}`);
      this.#schedulers.send(frameworkId, { type: 'UPDATE', status });
    }
  }
}

/** Waits for `promise` at most `ms` (a registry that cannot be written must not hold a stop forever). */
function withTimeoutOrNot(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
