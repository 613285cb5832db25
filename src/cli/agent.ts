// `lifeline agent`: the flags of DESIGN §4 turned into an Agent, and the signals that stop it:
// SIGTERM/SIGINT leave checkpointed executors running (the upgrade path), SIGUSR1 shuts everything
// down and unregisters. Bad flags exit 2 (FlagError); a socket or port that cannot be used, or a
// recovery that fails (strict mode, changed agent info), exits 1 with the error's message;
// --recover=cleanup exits 0 once the old executors are gone, without registering.
import os from 'node:os';
import { Agent, AgentOptionError, resolveResources, type AgentOptions } from '../agent/index.js';
import { ensureWritableDir } from '../checkpoint/writable-dir.js';
import { createLogger } from '../log.js';
import { parseMasterSpec } from '../protocol/address.js';
import { FlagError } from '../protocol/index.js';
import { readPem, splitScheme } from '../session/tls.js';
import { readCredential } from '../session/credentials.js';
import { helpText, optionFlagError, parseFlags, type FlagSpec } from './flags.js';
import { LOGGING_LEVEL_FLAG, loggingLevel } from './logging.js';
import { startupError } from './startup-error.js';

// The headings of `lifeline agent --help`, in the order they first appear below.
const RECOVERY = 'Recovery (a restarted agent reconnects to its executors)';
const EXECUTORS = 'Executors and sandboxes';
const MASTER = 'Master';
const UPDATES = 'Status updates';
const NODE = 'This node (HTTP endpoint, identity, resources)';
const SECURITY = 'Security (users, TLS)';
const LOGGING = 'Logging';

export const AGENT_FLAGS = {
  master: { type: 'string', required: true, placeholder: 'HOST:PORT', help: 'the master: HOST:PORT, a list HOST:PORT,HOST:PORT (tried in turn, following the leader), or etcd://HOST:PORT[,HOST:PORT]/PREFIX (the leader read from etcd); https:// before a host list for TLS' },
  work_dir: { type: 'string', required: true, placeholder: 'PATH', help: 'directory for sandboxes (and checkpoints)' },
  checkpoint: { type: 'boolean', default: 'true', group: RECOVERY, help: 'checkpoint agent and framework state to disk, for frameworks that ask for it' },
  strict: { type: 'boolean', default: 'true', group: RECOVERY, help: 'any recovery error is fatal; false: skip what is corrupt and recover the rest' },
  recover: { type: 'string', default: 'reconnect', group: RECOVERY, values: ['reconnect', 'cleanup'], help: 'reconnect to live executors, or cleanup: kill old executors and exit' },
  recovery_timeout: { type: 'duration', default: '15mins', group: RECOVERY, help: 'how long executors wait for a restarted agent before they shut themselves down' },
  executor_reregistration_timeout: { type: 'duration', default: '2secs', group: RECOVERY, help: 'how long a recovering agent waits for live executors to re-subscribe' },
  executor_shutdown_grace_period: { type: 'duration', default: '5secs', group: EXECUTORS, help: 'SIGTERM to SIGKILL grace for executors and tasks' },
  registration_backoff_factor: { type: 'duration', default: '1secs', group: MASTER, help: '(re-)registration retry backoff with the master (doubling, capped at 1mins)' },
  runtime_dir: { type: 'string', placeholder: 'PATH', group: EXECUTORS, defaultHelp: '<work_dir>/run (a short path in the temp dir if that is too long for a socket)', help: 'where the executor socket lives (keep it short: a socket path has at most 107 bytes)' },
  gc_delay: { type: 'duration', default: '1weeks', group: EXECUTORS, help: 'completed runs\' sandboxes and meta directories are removed this long after they complete' },
  sandbox_log_max_size: { type: 'bytes', default: '10MB', placeholder: 'SIZE', group: EXECUTORS, help: 'a task\'s stdout or stderr larger than this is rotated to stdout.1 … (copy, then truncate: the task never blocks)' },
  sandbox_log_max_files: { type: 'integer', default: '5', placeholder: 'N', group: EXECUTORS, help: 'files kept per output stream, the live one included (1: truncate without keeping)' },
  gc_disk_headroom: { type: 'number', default: '0.1', placeholder: 'FRACTION', group: EXECUTORS, help: 'completed sandboxes older than gc_delay × max(0, 1 − headroom − disk usage) are removed early' },
  disk_watch_interval: { type: 'duration', default: '1mins', group: EXECUTORS, help: 'how often the work dir\'s disk usage is read for gc_disk_headroom' },
  status_update_retry_interval_min: { type: 'duration', default: '1secs', group: UPDATES, help: 'first resend interval of an unacknowledged status update' },
  status_update_retry_interval_max: { type: 'duration', default: '1mins', group: UPDATES, help: 'largest resend interval of an unacknowledged status update' },
  max_status_updates_per_task: { type: 'integer', default: '10000', group: UPDATES, help: 'most updates of a task recorded and not yet acknowledged by its framework; past it, updates wait unacknowledged (the executor then waits too)' },
  max_status_update_bytes_per_task: { type: 'integer', default: '16777216', placeholder: 'BYTES', group: UPDATES, help: 'the same bound in bytes' },
  executor_backlog_max_updates: { type: 'integer', default: '10000', group: UPDATES, help: 'most updates an executor holds that the agent has not acknowledged; past it the executor\'s update() waits (nothing is dropped)' },
  executor_backlog_max_bytes: { type: 'integer', default: '16777216', placeholder: 'BYTES', group: UPDATES, help: 'the same bound of each executor in bytes' },
  max_frame_bytes: { type: 'integer', default: '1048576', placeholder: 'BYTES', group: EXECUTORS, help: 'largest frame accepted on the executor endpoint' },
  port: { type: 'integer', default: '5051', placeholder: 'PORT', group: NODE, help: 'HTTP port for /state, /metrics and /health' },
  ip: { type: 'string', default: '127.0.0.1', placeholder: 'IP', group: NODE, help: 'IP address the HTTP endpoint listens on' },
  resources: { type: 'string', defaultHelp: 'detected', placeholder: 'RESOURCES', group: NODE, help: 'resources offered, cpus:N;mem:MB;disk:MB (any left out are detected)' },
  hostname: { type: 'string', defaultHelp: os.hostname(), placeholder: 'HOST', group: NODE, help: 'host name reported to the master' },
  executor_heartbeat_interval: { type: 'duration', default: '5secs', group: EXECUTORS, help: 'HEARTBEAT period on executor connections (3 missed: broken)' },
  checkpoint_batching: { type: 'boolean', default: 'true', hidden: true, help: 'group-commit the fsyncs of status updates; false: one fdatasync per update (the benchmark\'s baseline)' },
  switch_user: { type: 'boolean', default: 'true', group: SECURITY, help: 'run as root: start executors and tasks as their FrameworkInfo.user' },
  ssl_ca_file: { type: 'string', placeholder: 'PATH', group: SECURITY, help: 'with --master=https://HOST:PORT: the CA certificates (PEM) the master\'s must be signed by (default: the system\'s)' },
  ssl_cert_file: { type: 'string', placeholder: 'PATH', group: SECURITY, help: 'serve the HTTP port as HTTPS with this certificate chain (PEM; with --ssl_key_file); also presented as the client certificate to an https:// master with --ssl_require_cert' },
  ssl_key_file: { type: 'string', placeholder: 'PATH', group: SECURITY, help: 'the private key of --ssl_cert_file (PEM)' },
  credential: { type: 'string', placeholder: 'PATH', group: SECURITY, help: 'JSON {"principal": "...", "secret": "..."} to authenticate to a master with --credentials (challenge and HMAC: the secret never crosses the wire); refused if its group or others can read it' },
  logging_level: { ...LOGGING_LEVEL_FLAG, group: LOGGING },
} as const satisfies Record<string, FlagSpec>;

/** Which flag each Agent option comes from, to name it when the Agent rejects a value. */
const FLAG_OF: Record<string, string> = {
  master: 'master',
  workDir: 'work_dir',
  runtimeDir: 'runtime_dir',
  recover: 'recover',
  recoveryTimeoutMs: 'recovery_timeout',
  executorReregistrationTimeoutMs: 'executor_reregistration_timeout',
  executorShutdownGracePeriodMs: 'executor_shutdown_grace_period',
  registrationBackoffFactorMs: 'registration_backoff_factor',
  gcDelayMs: 'gc_delay',
  sandboxLogMaxBytes: 'sandbox_log_max_size',
  sandboxLogMaxFiles: 'sandbox_log_max_files',
  gcDiskHeadroom: 'gc_disk_headroom',
  diskWatchIntervalMs: 'disk_watch_interval',
  statusUpdateRetryIntervalMinMs: 'status_update_retry_interval_min',
  statusUpdateRetryIntervalMaxMs: 'status_update_retry_interval_max',
  maxFrameBytes: 'max_frame_bytes',
  port: 'port',
  ip: 'ip',
  resources: 'resources',
  hostname: 'hostname',
  executorHeartbeatIntervalMs: 'executor_heartbeat_interval',
  checkpointBatching: 'checkpoint_batching',
  maxStatusUpdatesPerTask: 'max_status_updates_per_task',
  maxStatusUpdateBytesPerTask: 'max_status_update_bytes_per_task',
  executorBacklogMaxUpdates: 'executor_backlog_max_updates',
  executorBacklogMaxBytes: 'executor_backlog_max_bytes',
  switchUser: 'switch_user',
  masterCa: 'ssl_ca_file',
  tls: 'ssl_cert_file',
};

const USAGE = '--master=HOST:PORT --work_dir=PATH [flags]';

export async function main(argv: string[]): Promise<number> {
  const { flags, help, sources } = parseFlags('agent', AGENT_FLAGS, argv);
  if (help) {
    process.stdout.write(helpText('agent', USAGE, AGENT_FLAGS));
    return 0;
  }
  parseMasterSpec(splitScheme(flags.master).address, '--master'); // a bad address exits 2, naming the flag and the value
  const level = loggingLevel(flags.logging_level, sources.logging_level);
  // Checked (and made) before anything else touches them: an odd path exits 1 at once, naming the flag.
  ensureWritableDir(flags.work_dir, 'work_dir');
  if (flags.runtime_dir !== undefined) ensureWritableDir(flags.runtime_dir, 'runtime_dir');
  const options: AgentOptions = {
    master: flags.master,
    workDir: flags.work_dir,
    runtimeDir: flags.runtime_dir,
    checkpoint: flags.checkpoint,
    strict: flags.strict,
    recover: flags.recover as AgentOptions['recover'],
    recoveryTimeoutMs: flags.recovery_timeout,
    executorReregistrationTimeoutMs: flags.executor_reregistration_timeout,
    executorShutdownGracePeriodMs: flags.executor_shutdown_grace_period,
    registrationBackoffFactorMs: flags.registration_backoff_factor,
    gcDelayMs: flags.gc_delay,
    sandboxLogMaxBytes: flags.sandbox_log_max_size,
    sandboxLogMaxFiles: flags.sandbox_log_max_files,
    gcDiskHeadroom: flags.gc_disk_headroom,
    diskWatchIntervalMs: flags.disk_watch_interval,
    statusUpdateRetryIntervalMinMs: flags.status_update_retry_interval_min,
    statusUpdateRetryIntervalMaxMs: flags.status_update_retry_interval_max,
    maxFrameBytes: flags.max_frame_bytes,
    port: flags.port,
    ip: flags.ip,
    resources: resolveResources(flags.resources, flags.work_dir),
    hostname: flags.hostname,
    executorHeartbeatIntervalMs: flags.executor_heartbeat_interval,
    checkpointBatching: flags.checkpoint_batching,
    maxStatusUpdatesPerTask: flags.max_status_updates_per_task,
    maxStatusUpdateBytesPerTask: flags.max_status_update_bytes_per_task,
    executorBacklogMaxUpdates: flags.executor_backlog_max_updates,
    executorBacklogMaxBytes: flags.executor_backlog_max_bytes,
    switchUser: flags.switch_user,
    ...(flags.ssl_ca_file !== undefined && { masterCa: readPem('--ssl_ca_file', flags.ssl_ca_file) }),
    ...(flags.credential !== undefined && { credential: readCredential('--credential', flags.credential) }),
    ...(flags.ssl_cert_file !== undefined && flags.ssl_key_file !== undefined && { tls: { cert: readPem('--ssl_cert_file', flags.ssl_cert_file), key: readPem('--ssl_key_file', flags.ssl_key_file) } }),
  };
  if ((flags.ssl_cert_file === undefined) !== (flags.ssl_key_file === undefined)) {
    throw new FlagError('--ssl_cert_file and --ssl_key_file go together: give both (HTTPS) or neither');
  }
  // Nothing the agent writes (meta/, sandboxes, and what executors inherit) may be writable by
  // group or others, whatever the operator's umask: a 0600 token.sha256 in a 0777 directory is
  // replaceable, and so is an executor's outbox (found by the security fault run with umask 000).
  process.umask(process.umask() | 0o022);
  let agent: Agent;
  try {
    agent = new Agent({ ...options, logger: await createLogger('agent', level) });
  } catch (error) {
    if (error instanceof AgentOptionError) throw optionFlagError(error, FLAG_OF, sources) ?? error;
    throw error;
  }
  const dirs = [['work_dir', flags.work_dir], ['runtime_dir', agent.runtimeDir]] as const;
  const onStop = () => void agent.stop();
  const onShutdown = () => void agent.shutdown();
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGUSR1', onShutdown);
  try {
    await agent.start().catch((error: unknown) => {
      throw startupError(error, dirs);
    });
    await agent.closed;
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGUSR1', onShutdown);
  }
  // Everything is closed; should a stray handle remain, it must not keep a stopped agent alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
  return 0;
}
