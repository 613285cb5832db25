// `lifeline master`: runs a Master with the Mesos flag names until SIGTERM or SIGINT, then stops it
// cleanly (every connection, timer and the HTTP server closed) and exits 0.
import { FlagError, InvalidOptionError, LifelineError, parseEtcdUrl, show } from '../protocol/index.js';
import { createLogger } from '../log.js';
import { Master, type MasterOptions } from '../master/index.js';
import { helpText, optionFlagError, parseFlags, type FlagSpec } from './flags.js';
import { LOGGING_LEVEL_FLAG, loggingLevel } from './logging.js';
import { readPem } from '../session/tls.js';
import { readCredentials } from '../session/credentials.js';
import { ExposedMasterError } from '../master/trust.js';

const SPECS = {
  ip: { type: 'string', default: '127.0.0.1', placeholder: 'IP', help: 'address to listen on (HTTP, /api/v1/agent, /api/v1/scheduler)' },
  port: { type: 'integer', default: '5050', placeholder: 'PORT', help: 'port to listen on (0: any free port, printed in the log)' },
  agent_reregister_timeout: { type: 'duration', default: '75secs', help: 'how long a disconnected agent has to re-register before it is removed and its tasks reported TASK_LOST' },
  agent_ping_timeout: { type: 'duration', default: '15secs', help: 'how often the master pings each agent, and how long it waits for each PONG' },
  max_agent_ping_timeouts: { type: 'integer', default: '5', help: 'this many unanswered pings in a row count as a disconnection' },
  allocation_interval: { type: 'duration', default: '1secs', help: 'how often unused resources are offered (also at once when something changes)' },
  max_frame_bytes: { type: 'integer', default: '1048576', placeholder: 'BYTES', help: 'largest WebSocket frame accepted from agents and schedulers; a larger one closes the connection with 1009' },
  work_dir: { type: 'string', help: 'keep the registry (admitted and removed agents, gone frameworks) in DIR/registry.json, so that a restarted master kills nothing. Without --work_dir or --registry the master keeps nothing: after a restart it cannot tell a returning agent from a new one, cannot tell a removed agent to shut down, and holds a reconciliation of a task it does not know for the whole --agent_reregister_timeout' },
  registry: { type: 'string', help: 'etcd://HOST:PORT[,HOST:PORT...]/PREFIX: the registry in etcd, and leader election among the masters given the same URL (see docs/high-availability.md)' },
  leader_lease_ttl: { type: 'duration', default: '10secs', help: 'with --registry: the leader\'s etcd lease; a standby takes over at most this long after the leader dies' },
  recovery_agent_removal_limit: { type: 'string', default: '100%', help: 'after a restart or failover, agents of the registry that did not re-register within --agent_reregister_timeout are removed, unless they are more than this share of them (then they are kept and the master logs an error)' },
  advertise_ip: { type: 'string', help: 'with --registry: the address other masters, agents and schedulers reach this master at (default: --ip, or 127.0.0.1 for 0.0.0.0)' },
  ssl_cert_file: { type: 'string', placeholder: 'PATH', help: 'serve HTTPS and WSS only, with this certificate chain (PEM; with --ssl_key_file)' },
  ssl_key_file: { type: 'string', placeholder: 'PATH', help: 'the private key of --ssl_cert_file (PEM)' },
  ssl_require_cert: { type: 'boolean', default: 'false', help: 'mutual TLS: refuse every client (agent, scheduler, HTTP) without a certificate signed by --ssl_ca_file (needs --ssl_cert_file and --ssl_key_file)' },
  ssl_ca_file: { type: 'string', placeholder: 'PATH', help: 'with --ssl_require_cert: the CA certificates (PEM) a client\'s certificate must be signed by' },
  credentials: { type: 'string', placeholder: 'PATH', help: 'JSON {"credentials": [{"principal": "...", "secret": "..."}]} of the principals agents, frameworks and operators authenticate as (challenge and HMAC: no secret crosses the wire); refused if its group or others can read it' },
  authenticate_agents: { type: 'boolean', default: 'false', help: 'refuse agents that do not authenticate with a principal of --credentials (agent --credential). A master on an --ip beyond loopback refuses to start unless this is given, true or =false' },
  authenticate_frameworks: { type: 'boolean', default: 'false', help: 'refuse frameworks that do not authenticate with a principal of --credentials (lifeline run --credential). A master on an --ip beyond loopback refuses to start unless this is given, true or =false' },
  operator_principals: { type: 'string', placeholder: 'P1,P2', help: 'with authentication on: the principals of --credentials who may read /state and /metrics and kill tasks (HTTP Basic; use TLS). Default: every principal of --credentials' },
  offer_timeout: { type: 'duration', default: '1mins', help: 'an offer neither accepted nor declined this long is rescinded and its resources offered again' },
  max_completed_frameworks: { type: 'integer', default: '50', help: 'removed frameworks kept in /state (their IDs are refused for longer: see --registry_max_agent_count)' },
  max_completed_tasks_per_framework: { type: 'integer', default: '1000', help: 'terminal tasks each framework keeps in /state' },
  registry_max_agent_count: { type: 'integer', default: '102400', help: 'removed agents (told to shut down if they return) and gone framework IDs remembered; past it the oldest are forgotten' },
  max_connections: { type: 'integer', default: '10000', help: 'open agent and scheduler connections together; past it a new one is answered 503 (try again later)' },
  max_connection_buffer_bytes: { type: 'bytes', default: '64MB', help: 'bytes that may wait unsent to one agent or scheduler; past it that connection is closed as a slow reader' },
  max_reregister_bytes: { type: 'bytes', default: '256MB', help: 'bytes of split REREGISTERs the master holds unfinished across all agents; past it a part is refused and its agent retries' },
  logging_level: LOGGING_LEVEL_FLAG,
} satisfies Record<string, FlagSpec>;

const USAGE = '[flags]';

/** Which flag sets which Master option, so a bad value is reported under the flag's name. */
const FLAG_OF: Record<string, keyof typeof SPECS> = {
  ip: 'ip',
  port: 'port',
  agentReregisterTimeoutMs: 'agent_reregister_timeout',
  agentPingTimeoutMs: 'agent_ping_timeout',
  maxAgentPingTimeouts: 'max_agent_ping_timeouts',
  allocationIntervalMs: 'allocation_interval',
  maxFrameBytes: 'max_frame_bytes',
  workDir: 'work_dir',
  registry: 'registry',
  leaderLeaseTtlMs: 'leader_lease_ttl',
  recoveryAgentRemovalLimit: 'recovery_agent_removal_limit',
  advertiseIp: 'advertise_ip',
  offerTimeoutMs: 'offer_timeout',
  maxCompletedFrameworks: 'max_completed_frameworks',
  maxCompletedTasksPerFramework: 'max_completed_tasks_per_framework',
  registryMaxAgentCount: 'registry_max_agent_count',
  maxConnections: 'max_connections',
  maxConnectionBufferBytes: 'max_connection_buffer_bytes',
  maxReregisterBytes: 'max_reregister_bytes',
  credentials: 'credentials',
  authenticateAgents: 'authenticate_agents',
  authenticateFrameworks: 'authenticate_frameworks',
  operatorPrincipals: 'operator_principals',
};

/** `100%`, `50%`, `12.5%` (or a fraction 0..1) as a fraction; a bad value is a FlagError naming the flag. */
export function parsePercent(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  const value = match ? Number(match[1]) / 100 : /^(0(?:\.\d+)?|1(?:\.0+)?)$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 1)) throw new FlagError(`invalid value for --${flag}: ${show(text)} (expected a percentage from 0% to 100%)`);
  return value;
}

export async function main(argv: string[]): Promise<number> {
  const { flags, help, sources } = parseFlags('master', SPECS, argv);
  if (help) {
    process.stdout.write(helpText('master', USAGE, SPECS));
    return 0;
  }
  if ((flags.ssl_cert_file === undefined) !== (flags.ssl_key_file === undefined)) {
    throw new FlagError('--ssl_cert_file and --ssl_key_file go together: give both (HTTPS and WSS) or neither');
  }
  if (flags.ssl_require_cert && flags.ssl_cert_file === undefined) {
    throw new FlagError('--ssl_require_cert needs --ssl_cert_file and --ssl_key_file (the master must serve TLS to ask for client certificates)');
  }
  if (flags.ssl_require_cert && flags.ssl_ca_file === undefined) {
    throw new FlagError('--ssl_require_cert needs --ssl_ca_file (the CA certificates a client\'s certificate must be signed by)');
  }
  if (!flags.ssl_require_cert && flags.ssl_ca_file !== undefined) {
    throw new FlagError('--ssl_ca_file is only used with --ssl_require_cert: give both or neither');
  }
  const tls = flags.ssl_cert_file !== undefined && flags.ssl_key_file !== undefined
    ? {
        cert: readPem('--ssl_cert_file', flags.ssl_cert_file),
        key: readPem('--ssl_key_file', flags.ssl_key_file),
        ...(flags.ssl_require_cert && flags.ssl_ca_file !== undefined && { clientCa: readPem('--ssl_ca_file', flags.ssl_ca_file) }),
      }
    : undefined;
  const credentials = flags.credentials === undefined ? undefined : readCredentials('--credentials', flags.credentials);
  const operatorPrincipals = flags.operator_principals === undefined ? undefined : flags.operator_principals.split(',').map((principal) => principal.trim()).filter(Boolean);
  for (const flag of ['authenticate_agents', 'authenticate_frameworks'] as const) {
    if (flags[flag] && credentials === undefined) throw new FlagError(`--${flag} needs --credentials (the principals and secrets peers authenticate with)`);
  }
  if (operatorPrincipals !== undefined && credentials === undefined) throw new FlagError('--operator_principals needs --credentials (the operators\' secrets are there)');
  const logger = await createLogger('master', loggingLevel(flags.logging_level, sources.logging_level));
  const options: MasterOptions = {
    ip: flags.ip,
    port: flags.port,
    agentReregisterTimeoutMs: flags.agent_reregister_timeout,
    agentPingTimeoutMs: flags.agent_ping_timeout,
    maxAgentPingTimeouts: flags.max_agent_ping_timeouts,
    allocationIntervalMs: flags.allocation_interval,
    maxFrameBytes: flags.max_frame_bytes,
    ...(tls && { tls }),
    logger,
    workDir: flags.work_dir,
    registry: flags.registry,
    leaderLeaseTtlMs: flags.leader_lease_ttl,
    recoveryAgentRemovalLimit: parsePercent(flags.recovery_agent_removal_limit, 'recovery_agent_removal_limit'),
    advertiseIp: flags.advertise_ip,
    onDeposed: () => deposed?.(),
    offerTimeoutMs: flags.offer_timeout,
    maxCompletedFrameworks: flags.max_completed_frameworks,
    maxCompletedTasksPerFramework: flags.max_completed_tasks_per_framework,
    registryMaxAgentCount: flags.registry_max_agent_count,
    maxConnections: flags.max_connections,
    maxConnectionBufferBytes: flags.max_connection_buffer_bytes,
    maxReregisterBytes: flags.max_reregister_bytes,
    ...(credentials && { credentials }),
    // Left undefined when not given: a master beyond loopback must be told either way.
    ...(sources.authenticate_agents !== undefined && { authenticateAgents: flags.authenticate_agents }),
    ...(sources.authenticate_frameworks !== undefined && { authenticateFrameworks: flags.authenticate_frameworks }),
    ...(operatorPrincipals && { operatorPrincipals }),
  };
  if (flags.registry !== undefined) parseEtcdUrl(flags.registry, '--registry');
  if (flags.registry !== undefined && flags.work_dir !== undefined) throw new FlagError('flags --registry and --work_dir cannot be given together for lifeline master (the registry is either in etcd or in the work dir)');
  let deposed: (() => void) | undefined;
  let master: Master;
  try {
    master = new Master(options);
  } catch (error) {
    if (error instanceof ExposedMasterError) throw new FlagError(error.message);
    if (error instanceof InvalidOptionError) throw optionFlagError(error, FLAG_OF, sources) ?? error;
    throw error;
  }

  try {
    await master.start();
  } catch (error) {
    if (error instanceof LifelineError && !(error instanceof InvalidOptionError)) {
      process.stderr.write(`lifeline master: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(`lifeline master: cannot listen on ${flags.ip}:${flags.port}: ${code ?? (error as Error).message}\n`);
    return 1;
  }

  let exitCode = 0;
  await new Promise<void>((resolve) => {
    deposed = () => {
      // Leadership lost: the master has stopped serving; exit so that a supervisor restarts it as a standby.
      process.stderr.write('lifeline master: lost leadership; exiting (a restarted master campaigns again as a standby)\n');
      exitCode = 1;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await master.stop();
  return exitCode;
}
