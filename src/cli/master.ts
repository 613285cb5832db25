// `lifeline master`: runs a Master with the Mesos flag names until SIGTERM or SIGINT, then stops it
// cleanly (every connection, timer and the HTTP server closed) and exits 0.
import { InvalidOptionError } from '../protocol/index.js';
import { createLogger } from '../log.js';
import { Master, type MasterOptions } from '../master/index.js';
import { helpText, optionFlagError, parseFlags, type FlagSpec } from './flags.js';
import { LOGGING_LEVEL_FLAG, loggingLevel } from './logging.js';

const SPECS = {
  ip: { type: 'string', default: '127.0.0.1', placeholder: 'IP', help: 'address to listen on (HTTP, /api/v1/agent, /api/v1/scheduler)' },
  port: { type: 'integer', default: '5050', placeholder: 'PORT', help: 'port to listen on (0: any free port, printed in the log)' },
  agent_reregister_timeout: { type: 'duration', default: '75secs', help: 'how long a disconnected agent has to re-register before it is removed and its tasks reported TASK_LOST' },
  agent_ping_timeout: { type: 'duration', default: '15secs', help: 'how often the master pings each agent, and how long it waits for each PONG' },
  max_agent_ping_timeouts: { type: 'integer', default: '5', help: 'this many unanswered pings in a row count as a disconnection' },
  allocation_interval: { type: 'duration', default: '1secs', help: 'how often unused resources are offered (also at once when something changes)' },
  max_frame_bytes: { type: 'integer', default: '1048576', placeholder: 'BYTES', help: 'largest WebSocket frame accepted from agents and schedulers; a larger one closes the connection with 1009' },
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
};

export async function main(argv: string[]): Promise<number> {
  const { flags, help, sources } = parseFlags('master', SPECS, argv);
  if (help) {
    process.stdout.write(helpText('master', USAGE, SPECS));
    return 0;
  }
  const logger = await createLogger('master', loggingLevel(flags.logging_level, sources.logging_level));
  const options: MasterOptions = {
    ip: flags.ip,
    port: flags.port,
    agentReregisterTimeoutMs: flags.agent_reregister_timeout,
    agentPingTimeoutMs: flags.agent_ping_timeout,
    maxAgentPingTimeouts: flags.max_agent_ping_timeouts,
    allocationIntervalMs: flags.allocation_interval,
    maxFrameBytes: flags.max_frame_bytes,
    logger,
  };
  let master: Master;
  try {
    master = new Master(options);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw optionFlagError(error, FLAG_OF, sources) ?? error;
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
