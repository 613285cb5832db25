// `--logging_level` (Mesos's name) for the commands that log: the flag's spec and the logger it
// makes. LIFELINE_LOG_LEVEL stays as the environment's way to say it; the flag wins over it.
import { parseLogLevel } from '../log.js';
import type { FlagSource, FlagSpec } from './flags.js';

export const LOGGING_LEVEL_FLAG = {
  type: 'string',
  placeholder: 'LEVEL',
  defaultHelp: 'INFO, or LIFELINE_LOG_LEVEL',
  help: 'least severe level logged: INFO, WARNING, ERROR (Mesos\'s names) or trace, debug, info, warn, error, fatal, silent',
} as const satisfies FlagSpec;

/** The level the flag (or LIFELINE_<COMMAND>_LOGGING_LEVEL, or LIFELINE_LOG_LEVEL) asks for; refused at once when bad. */
export function loggingLevel(value: string | undefined, source: FlagSource | undefined, fallback = process.env.LIFELINE_LOG_LEVEL ?? 'info'): string {
  if (value !== undefined) return parseLogLevel(value, source?.from ?? '--logging_level');
  return parseLogLevel(fallback, 'LIFELINE_LOG_LEVEL');
}
