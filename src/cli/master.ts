// `lifeline master`: runs a Master with the Mesos flag names until SIGTERM or SIGINT, then stops it
// cleanly (every connection, timer and the HTTP server closed) and exits 0.
import { FlagError, InvalidOptionError, show } from '../protocol/index.js';
import { createLogger } from '../log.js';
import { Master, type MasterOptions } from '../master/index.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { readPem } from '../session/tls.js';

const SPECS = {
  ip: { type: 'string', default: '127.0.0.1', help: 'address to listen on (HTTP, /api/v1/agent, /api/v1/scheduler)' },
  port: { type: 'integer', default: '5050', help: 'port to listen on (0: any free port, printed in the log)' },
  agent_reregister_timeout: { type: 'duration', default: '75secs', help: 'how long a disconnected agent has to re-register before it is removed and its tasks reported TASK_LOST' },
  agent_ping_timeout: { type: 'duration', default: '15secs', help: 'how often the master pings each agent, and how long it waits for each PONG' },
  max_agent_ping_timeouts: { type: 'integer', default: '5', help: 'this many unanswered pings in a row count as a disconnection' },
  allocation_interval: { type: 'duration', default: '1secs', help: 'how often unused resources are offered (also at once when something changes)' },
  max_frame_bytes: { type: 'integer', default: '1048576', help: 'largest WebSocket frame accepted from agents and schedulers; a larger one closes the connection with 1009' },
  ssl_cert_file: { type: 'string', help: 'serve HTTPS and WSS only, with this certificate chain (PEM; with --ssl_key_file)' },
  ssl_key_file: { type: 'string', help: 'the private key of --ssl_cert_file (PEM)' },
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
};

export async function main(argv: string[]): Promise<number> {
  const { flags, help, positional } = parseFlags('master', SPECS, argv);
  if (help) {
    process.stdout.write(helpText('master', USAGE, SPECS));
    return 0;
  }
  if (positional.length > 0) throw new FlagError(`unexpected argument ${show(positional[0])} for lifeline master (see lifeline master --help)`);

  if ((flags.ssl_cert_file === undefined) !== (flags.ssl_key_file === undefined)) {
    throw new FlagError('--ssl_cert_file and --ssl_key_file go together: give both (HTTPS and WSS) or neither');
  }
  const tls = flags.ssl_cert_file !== undefined && flags.ssl_key_file !== undefined
    ? { cert: readPem('--ssl_cert_file', flags.ssl_cert_file), key: readPem('--ssl_key_file', flags.ssl_key_file) }
    : undefined;
  const logger = await createLogger('master');
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
  };
  let master: Master;
  try {
    master = new Master(options);
  } catch (error) {
    if (error instanceof InvalidOptionError) {
      const option = /^option (\w+)/.exec(error.message)?.[1] ?? '';
      const flag = FLAG_OF[option];
      if (flag) throw new FlagError(`invalid value for --${flag} (${error.message.replace(/^option /, '')})`, { cause: error });
    }
    throw error;
  }

  try {
    await master.start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(`lifeline master: cannot listen on ${flags.ip}:${flags.port}: ${code ?? (error as Error).message}\n`);
    return 1;
  }

  await new Promise<void>((resolve) => {
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
  return 0;
}
