// The master's options, their defaults, and their checks up front: a bad value is refused with an
// InvalidOptionError naming the option and echoing the value before anything listens. The options
// of high availability (issue 12) are resolved on their own, after the others (resolveHa).
import { InvalidOptionError, parseEtcdUrl } from '../protocol/index.js';
import type { Logger } from '../log.js';
import type { ServerTls } from '../session/tls.js';
import type { TrustOptions } from './trust.js';

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

/** Every option with a default, resolved (the logger, TLS, trust and HA options are resolved elsewhere). */
export type ResolvedOptions = Required<Omit<MasterOptions, 'logger' | 'tls' | (typeof HA_KEYS)[number] | keyof TrustOptions>>;

const DEFAULTS: ResolvedOptions = {
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

export function resolveOptions(options: MasterOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object');
  const resolved = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as Array<keyof ResolvedOptions>) {
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

/** The options of issue 12, resolved. */
export interface HaOptions {
  workDir: string | undefined;
  registry: string | undefined;
  leaderLeaseTtlMs: number;
  recoveryAgentRemovalLimit: number;
  advertiseIp: string;
  onDeposed: ((error: Error) => void) | undefined;
}

export function resolveHa(options: MasterOptions): HaOptions {
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
