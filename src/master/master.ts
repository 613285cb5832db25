// The master (DESIGN §8): one HTTP server carrying the agent and scheduler WebSocket endpoints and
// /health, /state, /metrics; the registry and allocator between them; the allocation loop. State
// lives in memory. `lifeline master` is a thin wrapper around this class.
import {
  IllegalStateError,
  InvalidOptionError,
  MAX_OFFERS_PER_EVENT,
  formatAddress,
  parseEtcdUrl,
  isTerminal,
  type AgentEvent,
  type SchedulerEvent,
} from '../protocol/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { silentLogger, type Logger } from '../log.js';
import { AgentEndpoint } from './agent-endpoint.js';
import { Allocator, type OutstandingOffer } from './allocator.js';
import type { MasterContext } from './context.js';
import { MasterHttpServer } from './http.js';
import { MasterMetrics } from './metrics.js';
import { pieces } from './outgoing.js';
import { Registry, type GeneratedUpdate, type MasterState } from './registry.js';
import { SchedulerEndpoint } from './scheduler-endpoint.js';
import { openStore, restore } from './leadership.js';
import { RecoveryWindow } from './recovery.js';
import { EtcdRegistryStore } from './registry-store-etcd.js';
import { Registrar, type RegistryStore } from './registry-store.js';
import { StandbyRefusals } from './standby.js';
import { operatorKill } from './operator.js';
import { masterAsset } from './web/assets.js';
import type { ServerTls } from '../session/tls.js';
import { resolveTrust, type Trust, type TrustOptions } from './trust.js';
import { ConnectionLimit } from '../session/connection-limit.js';

export interface MasterOptions extends TrustOptions {
  /** Address to listen on. Default: `'127.0.0.1'`. */
  ip?: string;
  /** Port to listen on; 0 picks a free one (see the result of start()). Default: `5050`. */
  port?: number;
  /** How long a disconnected agent has to re-register before it is removed. Default: 75 s. */
  agentReregisterTimeoutMs?: number;
  /** The master PINGs each agent this often; an unanswered PING is a timeout. Default: 15 s. */
  agentPingTimeoutMs?: number;
  /** This many ping timeouts in a row count as a disconnection. Default: 5. */
  maxAgentPingTimeouts?: number;
  /** Offers are made at least this often (and at once when something changes). Default: 1 s. */
  allocationIntervalMs?: number;
  /** Largest frame accepted on either endpoint; a larger one closes the connection with 1009. Default: 1 MiB. */
  maxFrameBytes?: number;
  /** HEARTBEAT interval to schedulers (sent in SUBSCRIBED). Default: 15 s. */
  heartbeatIntervalMs?: number;
  /** A connection that sends no REGISTER/REREGISTER/SUBSCRIBE this long after connecting is closed. Default: 10 s. */
  registrationTimeoutMs?: number;
  // ── bounds (issue 13, docs/long-life.md) ──
  /** An offer not accepted or declined within this long is rescinded (Mesos: --offer_timeout). Default: 1 min. */
  offerTimeoutMs?: number;
  /** Removed frameworks /state keeps (--max_completed_frameworks). Default: 50. */
  maxCompletedFrameworks?: number;
  /** Terminal tasks each framework keeps (--max_completed_tasks_per_framework). Default: 1000. */
  maxCompletedTasksPerFramework?: number;
  /** Removed agents (and gone framework IDs) remembered (--registry_max_agent_count). Default: 102400. */
  registryMaxAgentCount?: number;
  /** Open agent and scheduler connections together; past it an upgrade gets 503 (--max_connections). Default: 10000. */
  maxConnections?: number;
  /** Bytes that may wait unsent to one peer before it is closed as a slow reader (--max_connection_buffer_bytes). Default: 64 MiB. */
  maxConnectionBufferBytes?: number;
  /** Bytes of unfinished split REREGISTERs held across all connections (--max_reregister_bytes). Default: 256 MiB. */
  maxReregisterBytes?: number;
  /** Serve HTTPS and WSS only, with this certificate and key (PEM; --ssl_cert_file, --ssl_key_file); with `clientCa`, mutual TLS (--ssl_require_cert). */
  tls?: ServerTls;
  logger?: Logger;
  // ── high availability (issue 12, docs/high-availability.md) ──
  /** Keep the registry in `<workDir>/registry.json`: a restarted master kills nothing. */
  workDir?: string;
  /** `etcd://HOST:PORT[,…]/PREFIX`: the registry in etcd, and leader election among masters. */
  registry?: string;
  /** The leader's etcd lease (it leads until the lease lapses unrenewed). Default: 10 s. */
  leaderLeaseTtlMs?: number;
  /** Share 0..1 of the registry's agents that may be removed after a recovery window. Default: 1 (100%). */
  recoveryAgentRemovalLimit?: number;
  /** The address clients reach this master at, as it campaigns in etcd. Default: `ip` (or 127.0.0.1 for 0.0.0.0). */
  advertiseIp?: string;
  /** Leadership was lost (etcd lease, fenced write): the master has stopped serving and is stopping. */
  onDeposed?: (error: Error) => void;
}

/** The options of issue 12, resolved on their own (after the others). */
const HA_KEYS = ['workDir', 'registry', 'leaderLeaseTtlMs', 'recoveryAgentRemovalLimit', 'advertiseIp', 'onDeposed'] as const;

type Resolved = Required<Omit<MasterOptions, 'logger' | 'tls' | (typeof HA_KEYS)[number] | keyof TrustOptions>>;

const DEFAULTS: Resolved = {
  ip: '127.0.0.1',
  port: 5050,
  agentReregisterTimeoutMs: 75_000,
  agentPingTimeoutMs: 15_000,
  maxAgentPingTimeouts: 5,
  allocationIntervalMs: 1_000,
  maxFrameBytes: 1_048_576,
  heartbeatIntervalMs: 15_000,
  registrationTimeoutMs: 10_000,
  offerTimeoutMs: 60_000,
  maxCompletedFrameworks: 50,
  maxCompletedTasksPerFramework: 1_000,
  registryMaxAgentCount: 102_400,
  maxConnections: 10_000,
  maxConnectionBufferBytes: 64 * 1024 * 1024,
  maxReregisterBytes: 256 * 1024 * 1024,
};

// The longest delay a Node.js timer can hold (about 24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

export type MasterLifecycle = 'NEW' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED';

/** NEW → STARTING → RUNNING → STOPPING → STOPPED; a master stopped before it started goes NEW → STOPPED. */
const MOVES: Transitions<MasterLifecycle> = {
  NEW: ['STARTING', 'STOPPED'],
  STARTING: ['RUNNING', 'STOPPING'],
  RUNNING: ['STOPPING'],
  STOPPING: ['STOPPED'],
  STOPPED: [],
};

function resolveOptions(options: MasterOptions): Resolved {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object');
  const resolved = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as Array<keyof Resolved>) {
    if (options[key] !== undefined) (resolved as Record<string, unknown>)[key] = options[key];
  }
  if (typeof resolved.ip !== 'string' || resolved.ip === '') throw new InvalidOptionError('ip', resolved.ip, 'a non-empty host address');
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65_535) {
    throw new InvalidOptionError('port', resolved.port, 'an integer from 0 to 65535');
  }
  for (const key of ['agentReregisterTimeoutMs', 'agentPingTimeoutMs', 'allocationIntervalMs', 'heartbeatIntervalMs', 'registrationTimeoutMs', 'offerTimeoutMs'] as const) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_TIMER_MS) {
      throw new InvalidOptionError(key, value, `a number of milliseconds from 1 to ${MAX_TIMER_MS}`);
    }
  }
  if (!Number.isInteger(resolved.maxAgentPingTimeouts) || resolved.maxAgentPingTimeouts < 1) {
    throw new InvalidOptionError('maxAgentPingTimeouts', resolved.maxAgentPingTimeouts, 'a positive integer');
  }
  for (const key of ['maxCompletedFrameworks', 'maxCompletedTasksPerFramework', 'registryMaxAgentCount', 'maxConnections'] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 1) throw new InvalidOptionError(key, resolved[key], 'a positive integer');
  }
  for (const key of ['maxConnectionBufferBytes', 'maxReregisterBytes'] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 65_536) throw new InvalidOptionError(key, resolved[key], 'an integer of at least 65536');
  }
  if (!Number.isInteger(resolved.maxFrameBytes) || resolved.maxFrameBytes < 1024) {
    throw new InvalidOptionError('maxFrameBytes', resolved.maxFrameBytes, 'an integer of at least 1024');
  }
  if (options.logger !== undefined && (typeof options.logger !== 'object' || typeof options.logger.info !== 'function')) {
    throw new InvalidOptionError('logger', options.logger, 'a Logger');
  }
  return resolved;
}

export class Master {
  #options: Resolved;
  #logger: Logger;
  readonly #lifecycle = new StateMachine<MasterLifecycle>('the master', 'NEW', MOVES);
  #registry: Registry;
  #allocator = new Allocator();
  #metrics: MasterMetrics;
  #agents: AgentEndpoint;
  #schedulers: SchedulerEndpoint;
  #http: MasterHttpServer;
  #port: number | undefined;
  #allocationTimer: NodeJS.Timeout | undefined;
  #allocationSoon: NodeJS.Immediate | undefined;
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
    const context: MasterContext = {
      registry: this.#registry,
      allocator: this.#allocator,
      metrics: this.#metrics,
      logger: this.#logger,
      toAgent: (agentId: string, event: AgentEvent) => this.#agents.send(agentId, event),
      toFramework: (frameworkId: string, event: SchedulerEvent) => this.#schedulers.send(frameworkId, event),
      sendUpdates: (updates: readonly GeneratedUpdate[]) => this.#sendUpdates(updates),
      allocateSoon: () => this.#allocateSoon(),
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
    this.#allocationTimer = setInterval(() => this.#allocate(), this.#options.allocationIntervalMs);
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
    this.#allocateSoon();
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
    if (this.#lifecycle.is('NEW')) {
      this.#lifecycle.transition('STOPPED');
      return (this.#stopped = Promise.resolve());
    }
    this.#lifecycle.transition('STOPPING');
    this.#leading = false;
    this.#campaign.abort(new IllegalStateError('the master is stopping'));
    this.#recovery.stop();
    this.#standby.close();
    clearInterval(this.#allocationTimer);
    if (this.#allocationSoon) clearImmediate(this.#allocationSoon);
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

  #allocateSoon(): void {
    if (this.#allocationSoon || !this.#lifecycle.is('RUNNING')) return;
    this.#allocationSoon = setImmediate(() => {
      this.#allocationSoon = undefined;
      this.#allocate();
    });
  }

  #allocate(): void {
    if (!this.#lifecycle.is('RUNNING') || !this.#leading) return;
    const agents = this.#registry
      .agents()
      .filter((agent) => agent.status === 'ACTIVE' && this.#agents.isConnected(agent.id))
      .map((agent) => ({ id: agent.id, hostname: agent.hostname, checkpoint: agent.checkpoint, unused: this.#registry.unused(agent.id) }));
    const frameworks = this.#registry
      .frameworks()
      .filter((framework) => framework.status === 'ACTIVE')
      .map((framework) => ({ id: framework.id, checkpoint: framework.checkpoint }));
    const now = Date.now();
    // Offers held past --offer_timeout go back to the pool, to be offered again (Mesos rescinds them too).
    for (const offer of this.#allocator.expire(now, this.#options.offerTimeoutMs)) {
      this.#logger.info({ frameworkId: offer.frameworkId, offerId: offer.id, agentId: offer.agentId }, 'offer rescinded: not used within --offer_timeout');
      this.#schedulers.send(offer.frameworkId, { type: 'RESCIND', offerId: offer.id });
    }
    const made = this.#allocator.allocate(agents, frameworks, now);
    const byFramework = new Map<string, OutstandingOffer[]>();
    for (const offer of made) {
      const list = byFramework.get(offer.frameworkId) ?? [];
      list.push(offer);
      byFramework.set(offer.frameworkId, list);
    }
    for (const [frameworkId, offers] of byFramework) {
      this.#logger.debug({ frameworkId, offers: offers.map((offer) => ({ id: offer.id, agentId: offer.agentId, resources: offer.resources })) }, 'offering');
      // In pieces: one offer per agent, and an OFFERS event of 100k agents would outgrow a frame.
      let sent = true;
      for (const piece of pieces(offers, MAX_OFFERS_PER_EVENT)) {
        sent &&= this.#schedulers.send(frameworkId, {
          type: 'OFFERS',
          offers: piece.map(({ id, agentId, hostname, resources }) => ({ id, agentId, hostname, resources })),
        });
      }
      // The scheduler's connection is going away: its close handler has or will withdraw them.
      if (!sent) this.#allocator.withdrawFramework(frameworkId);
    }
  }
}

interface HaOptions {
  workDir: string | undefined;
  registry: string | undefined;
  leaderLeaseTtlMs: number;
  recoveryAgentRemovalLimit: number;
  advertiseIp: string;
  onDeposed: ((error: Error) => void) | undefined;
}

function resolveHa(options: MasterOptions): HaOptions {
  const { workDir, registry, leaderLeaseTtlMs = 10_000, recoveryAgentRemovalLimit = 1, onDeposed } = options;
  if (workDir !== undefined && (typeof workDir !== 'string' || workDir === '')) throw new InvalidOptionError('workDir', workDir, 'a directory path');
  if (registry !== undefined) parseEtcdUrl(registry, 'option registry');
  if (typeof leaderLeaseTtlMs !== 'number' || !Number.isFinite(leaderLeaseTtlMs) || leaderLeaseTtlMs < 1_000 || leaderLeaseTtlMs > 3_600_000) {
    throw new InvalidOptionError('leaderLeaseTtlMs', leaderLeaseTtlMs, 'a number of milliseconds from 1000 to 3600000 (etcd leases count whole seconds)');
  }
  if (typeof recoveryAgentRemovalLimit !== 'number' || !(recoveryAgentRemovalLimit >= 0 && recoveryAgentRemovalLimit <= 1)) {
    throw new InvalidOptionError('recoveryAgentRemovalLimit', recoveryAgentRemovalLimit, 'a fraction from 0 to 1');
  }
  if (onDeposed !== undefined && typeof onDeposed !== 'function') throw new InvalidOptionError('onDeposed', onDeposed, 'a function');
  const ip = options.ip ?? '127.0.0.1';
  const advertiseIp = options.advertiseIp ?? (ip === '0.0.0.0' || ip === '::' ? '127.0.0.1' : ip);
  if (typeof advertiseIp !== 'string' || advertiseIp === '') throw new InvalidOptionError('advertiseIp', advertiseIp, 'a host address');
  return { workDir, registry, leaderLeaseTtlMs, recoveryAgentRemovalLimit, advertiseIp, onDeposed };
}

/** Waits for `promise` at most `ms` (a registry that cannot be written must not hold a stop forever). */
function withTimeoutOrNot(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
