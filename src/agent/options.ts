// The agent's options: what a caller may pass, and the validated Config the agent runs on. Checked
// up front, so that a bad option fails (AgentOptionError naming it) before anything starts.
import net from 'node:net';
import os from 'node:os';
import type { Logger } from '../log.js';
import { AddressError, parseMasterSpec } from '../protocol/address.js';
import { MAX_RESOURCE } from '../protocol/index.js';
import { splitScheme, type ServerTls } from '../session/tls.js';
import type { Credential } from '../session/authentication.js';
import { AgentOptionError } from './errors.js';
import type { AgentResources } from './resources.js';
import { checkSocketPath, defaultRuntimeDir, executorSocketPath } from './socket-path.js';
import type { UpdateStore } from './status-update-manager.js';

export type RecoverMode = 'reconnect' | 'cleanup';

export interface AgentOptions {
  /** `HOST:PORT` of the master, a list `HOST:PORT,HOST:PORT` or `etcd://HOST:PORT[,…]/PREFIX` (src/protocol/address.ts). Required. */
  master: string;
  /** Where sandboxes and checkpoints (`meta/`) live. Required. */
  workDir: string;
  /** Where the executor socket lives. Default: `<workDir>/run` (or a short path under the temp dir if that is too long). */
  runtimeDir?: string;
  /** Checkpoint frameworks that ask for it, and recover at start. Default: true. */
  checkpoint?: boolean;
  /** Any recovery error is fatal; false: skip what is corrupt and recover the rest. Default: true. */
  strict?: boolean;
  /** What recovery does with old executors: reconnect to them, or kill them and stop. Default: 'reconnect'. */
  recover?: RecoverMode;
  /** Passed to checkpointing executors as LIFELINE_RECOVERY_TIMEOUT. Default: 15 min. */
  recoveryTimeoutMs?: number;
  /** How long a recovering agent waits for live executors to re-subscribe. Default: 2000. */
  executorReregistrationTimeoutMs?: number;
  /** SHUTDOWN/KILL grace before SIGKILL. Default: 5000. */
  executorShutdownGracePeriodMs?: number;
  /** First (re-)registration retry delay, doubled on each failure. Default: 1000. */
  registrationBackoffFactorMs?: number;
  /** Completed runs' sandboxes and meta directories are removed this long after completion. Default: 1 week. */
  gcDelayMs?: number;
  /** A task's stdout or stderr larger than this is rotated (--sandbox_log_max_size). Default: 10 MiB. */
  sandboxLogMaxBytes?: number;
  /** Files kept per output stream, the live one included (--sandbox_log_max_files). Default: 5. */
  sandboxLogMaxFiles?: number;
  /** How often live sandboxes' output sizes are checked. Default: 2000. */
  sandboxLogCheckIntervalMs?: number;
  /** Completed sandboxes go earlier when the disk is fuller than 1 − this (--gc_disk_headroom, 0..1). Default: 0.1. */
  gcDiskHeadroom?: number;
  /** How often the work dir's disk usage is read (--disk_watch_interval). Default: 1 min. */
  diskWatchIntervalMs?: number;
  /** Status update resend backoff. Defaults: 1000 and 60000. */
  statusUpdateRetryIntervalMinMs?: number;
  statusUpdateRetryIntervalMaxMs?: number;
  /** Largest frame accepted on the executor socket. Default: 1 MiB. */
  maxFrameBytes?: number;
  /** HTTP endpoint. Defaults: 5051 and 127.0.0.1 (port 0: any free port). */
  port?: number;
  ip?: string;
  /** What the agent offers. Default: detected by the CLI; required here. */
  resources: AgentResources;
  /** Default: os.hostname(). */
  hostname?: string;
  /** HEARTBEAT period on executor connections. Default: 5000. */
  executorHeartbeatIntervalMs?: number;
  /**
   * Group commit of status update fsyncs. false: every update is appended and fdatasync'd on its
   * own (the benchmark's baseline). Default: true.
   */
  checkpointBatching?: boolean;
  /**
   * Run as root: start the executors and tasks of a framework with FrameworkInfo.user as that
   * user (their sandbox owned by them). Default: true, as Mesos's --switch_user.
   */
  switchUser?: boolean;
  /** With a master written `https://HOST:PORT`: the CA certificates (PEM) its must chain to (--ssl_ca_file). Default: the system's. */
  masterCa?: string | Buffer;
  /** Issue 14: the principal and secret to authenticate to the master with (--credential). */
  credential?: Credential;
  /**
   * Serve the HTTP port (/state, /metrics, /health) as HTTPS (--ssl_cert_file, --ssl_key_file);
   * also the client certificate presented to an `https://` master that asks for one (--ssl_require_cert).
   */
  tls?: ServerTls;
  /** Where status updates are recorded. Default: the checkpoint (checkpointing frameworks) or memory. */
  updateStore?: UpdateStore;
  /**
   * The most updates (and bytes) of one task recorded and not yet acknowledged by the framework;
   * past it, further updates wait unrecorded (so unacknowledged to the executor). Defaults:
   * 10000 and 16 MiB.
   */
  maxStatusUpdatesPerTask?: number;
  maxStatusUpdateBytesPerTask?: number;
  /**
   * The bound of each executor's backlog (updates the agent has not acknowledged to it, and their
   * bytes), passed in LIFELINE_BACKLOG_MAX_*; past it the executor's update() waits. Defaults:
   * 10000 and 16 MiB.
   */
  executorBacklogMaxUpdates?: number;
  executorBacklogMaxBytes?: number;
  logger?: Logger;
}

export interface Config {
  master: string;
  workDir: string;
  runtimeDir: string;
  socketPath: string;
  checkpoint: boolean;
  strict: boolean;
  recover: RecoverMode;
  recoveryTimeoutMs: number;
  executorReregistrationTimeoutMs: number;
  executorShutdownGracePeriodMs: number;
  registrationBackoffFactorMs: number;
  gcDelayMs: number;
  sandboxLogMaxBytes: number;
  sandboxLogMaxFiles: number;
  sandboxLogCheckIntervalMs: number;
  gcDiskHeadroom: number;
  diskWatchIntervalMs: number;
  statusUpdateRetryIntervalMinMs: number;
  statusUpdateRetryIntervalMaxMs: number;
  maxFrameBytes: number;
  port: number;
  ip: string;
  resources: AgentResources;
  hostname: string;
  executorHeartbeatIntervalMs: number;
  checkpointBatching: boolean;
  maxStatusUpdatesPerTask: number;
  executorBacklogMaxUpdates: number;
  executorBacklogMaxBytes: number;
  maxStatusUpdateBytesPerTask: number;
  switchUser: boolean;
  masterCa?: string | Buffer;
  credential?: Credential;
  tls?: ServerTls;
}

export function validateOptions(options: AgentOptions): Config {
  if (options === null || typeof options !== 'object') throw new AgentOptionError('options', options, 'an object');
  const ms = (name: keyof AgentOptions, fallback: number, min = 1): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new AgentOptionError(name, value, `a number of milliseconds ≥ ${min}`);
    }
    return value;
  };
  const bool = (name: keyof AgentOptions, fallback: boolean): boolean => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'boolean') throw new AgentOptionError(name, value, 'a boolean');
    return value;
  };
  const master = options.master;
  try {
    parseMasterSpec(typeof master === 'string' ? splitScheme(master).address : master, 'option master');
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    throw new AgentOptionError('master', master, `HOST:PORT, HOST:PORT,HOST:PORT or etcd://HOST:PORT/PREFIX, https:// before a host list for TLS (${error.why})`);
  }
  if (typeof options.workDir !== 'string' || options.workDir === '') throw new AgentOptionError('workDir', options.workDir, 'a directory path');
  if (options.runtimeDir !== undefined && (typeof options.runtimeDir !== 'string' || options.runtimeDir === '')) {
    throw new AgentOptionError('runtimeDir', options.runtimeDir, 'a directory path');
  }
  const recover = options.recover ?? 'reconnect';
  if (recover !== 'reconnect' && recover !== 'cleanup') throw new AgentOptionError('recover', recover, 'reconnect or cleanup');
  const httpPort = options.port ?? 5051;
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65_535) throw new AgentOptionError('port', httpPort, 'a port number (0-65535)');
  const ip = options.ip ?? '127.0.0.1';
  if (typeof ip !== 'string' || net.isIP(ip) === 0) throw new AgentOptionError('ip', ip, 'an IP address');
  const hostname = options.hostname ?? os.hostname();
  if (typeof hostname !== 'string' || hostname === '' || hostname.length > 1024) throw new AgentOptionError('hostname', hostname, 'a non-empty host name');
  const resources = options.resources;
  if (resources === null || typeof resources !== 'object' || !(['cpus', 'mem', 'disk'] as const).every((name) => Number.isFinite(resources[name]) && resources[name] >= 0 && resources[name] <= MAX_RESOURCE)) {
    throw new AgentOptionError('resources', resources, `{cpus, mem, disk} with non-negative numbers of at most ${MAX_RESOURCE}`);
  }
  const maxFrameBytes = options.maxFrameBytes ?? 1024 * 1024;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024) throw new AgentOptionError('maxFrameBytes', maxFrameBytes, 'an integer ≥ 1024');
  const retryMin = ms('statusUpdateRetryIntervalMinMs', 1_000);
  const retryMax = ms('statusUpdateRetryIntervalMaxMs', 60_000);
  if (retryMax < retryMin) throw new AgentOptionError('statusUpdateRetryIntervalMaxMs', retryMax, `≥ statusUpdateRetryIntervalMinMs (${retryMin})`);
  const sandboxLogMaxBytes = options.sandboxLogMaxBytes ?? 10 * 1024 * 1024;
  if (!Number.isSafeInteger(sandboxLogMaxBytes) || sandboxLogMaxBytes < 1024) throw new AgentOptionError('sandboxLogMaxBytes', sandboxLogMaxBytes, 'a whole number of bytes ≥ 1KB');
  const sandboxLogMaxFiles = options.sandboxLogMaxFiles ?? 5;
  if (!Number.isInteger(sandboxLogMaxFiles) || sandboxLogMaxFiles < 1 || sandboxLogMaxFiles > 1000) throw new AgentOptionError('sandboxLogMaxFiles', sandboxLogMaxFiles, 'an integer from 1 to 1000');
  const gcDiskHeadroom = options.gcDiskHeadroom ?? 0.1;
  if (typeof gcDiskHeadroom !== 'number' || !(gcDiskHeadroom >= 0 && gcDiskHeadroom <= 1)) throw new AgentOptionError('gcDiskHeadroom', gcDiskHeadroom, 'a fraction from 0 to 1');
  const runtimeDir = options.runtimeDir ?? defaultRuntimeDir(options.workDir);
  const socketPath = executorSocketPath(runtimeDir);
  return {
    master,
    workDir: options.workDir,
    runtimeDir,
    // Checked here, so that a bad --runtime_dir fails before anything starts.
    socketPath: checkSocketPath(socketPath, '--runtime_dir'),
    checkpoint: bool('checkpoint', true),
    strict: bool('strict', true),
    recover,
    recoveryTimeoutMs: ms('recoveryTimeoutMs', 15 * 60_000),
    executorReregistrationTimeoutMs: ms('executorReregistrationTimeoutMs', 2_000),
    executorShutdownGracePeriodMs: ms('executorShutdownGracePeriodMs', 5_000, 0),
    registrationBackoffFactorMs: ms('registrationBackoffFactorMs', 1_000),
    gcDelayMs: ms('gcDelayMs', 7 * 24 * 3_600_000),
    sandboxLogMaxBytes,
    sandboxLogMaxFiles,
    sandboxLogCheckIntervalMs: ms('sandboxLogCheckIntervalMs', 2_000),
    gcDiskHeadroom,
    diskWatchIntervalMs: ms('diskWatchIntervalMs', 60_000),
    statusUpdateRetryIntervalMinMs: retryMin,
    statusUpdateRetryIntervalMaxMs: retryMax,
    maxFrameBytes,
    port: httpPort,
    ip,
    resources: { cpus: resources.cpus, mem: resources.mem, disk: resources.disk },
    hostname,
    executorHeartbeatIntervalMs: ms('executorHeartbeatIntervalMs', 5_000),
    checkpointBatching: bool('checkpointBatching', true),
    maxStatusUpdatesPerTask: positiveInteger(options, 'maxStatusUpdatesPerTask', 10_000),
    maxStatusUpdateBytesPerTask: positiveInteger(options, 'maxStatusUpdateBytesPerTask', 16 * 1024 * 1024),
    executorBacklogMaxUpdates: positiveInteger(options, 'executorBacklogMaxUpdates', 10_000),
    executorBacklogMaxBytes: positiveInteger(options, 'executorBacklogMaxBytes', 16 * 1024 * 1024, 1024),
    switchUser: bool('switchUser', true),
    ...(options.masterCa !== undefined && { masterCa: options.masterCa }),
    ...(options.credential !== undefined && { credential: options.credential }),
    ...(options.tls !== undefined && { tls: options.tls }),
  };
}

type CountOption = 'maxStatusUpdatesPerTask' | 'maxStatusUpdateBytesPerTask' | 'executorBacklogMaxUpdates' | 'executorBacklogMaxBytes';

function positiveInteger(options: AgentOptions, name: CountOption, fallback: number, min = 1): number {
  const value = options[name] ?? fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new AgentOptionError(name, value, min === 1 ? 'a positive integer' : `an integer of at least ${min}`);
  return value;
}
