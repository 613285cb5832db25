// Structured logs for the long-running processes (master, agent), through pino: one JSON line per
// record on stderr (level as a name, one `component` key), readable lines through pino-pretty when
// stderr is a terminal, and syslog-prefixed JSON when stderr is the systemd journal, so journald
// files each line under its level. Level from --logging_level or LIFELINE_LOG_LEVEL. Library code
// takes the small `Logger` interface, so an embedding program can pass its own (or none: silent).
// The executor side never loads pino.
import fs from 'node:fs';
import type { Logger as PinoLogger } from 'pino';
import { FlagError, show } from './protocol/errors.js';

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Mesos's (glog's) level names, as `--logging_level` takes them on a Mesos agent. */
const MESOS_LEVELS: Record<string, LogLevel> = { INFO: 'info', WARNING: 'warn', ERROR: 'error' };

/**
 * A level as an operator writes it: pino's names in any case, or Mesos's INFO, WARNING, ERROR.
 * A bad one is a FlagError naming where it came from (`--logging_level`, `LIFELINE_LOG_LEVEL`).
 */
export function parseLogLevel(text: string, from = 'LIFELINE_LOG_LEVEL'): LogLevel {
  const mesos = MESOS_LEVELS[text.toUpperCase()];
  if (mesos) return mesos;
  const lower = text.toLowerCase() as LogLevel;
  if (LOG_LEVELS.includes(lower)) return lower;
  throw new FlagError(`invalid value for ${from}: ${show(text)} (expected one of INFO, WARNING, ERROR or ${LOG_LEVELS.join(', ')})`);
}

/**
 * How lines are written: `json` (one object a line), `pretty` (pino-pretty, for a person at a
 * terminal), `journal` (JSON after a `<N>` syslog priority prefix, which journald strips into
 * PRIORITY=N). `auto`: pretty on a TTY, journal when stderr is the journal, else json.
 */
export type LogFormat = 'auto' | 'json' | 'pretty' | 'journal';

export interface CreateLoggerOptions {
  /** Default: LIFELINE_LOG_FORMAT, else auto. */
  format?: LogFormat;
}

/** Syslog priorities (RFC 5424) of pino's levels, for journald. */
const PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

export async function createLogger(name: string, level?: string, options: CreateLoggerOptions = {}): Promise<Logger> {
  const resolved = level === undefined ? parseLogLevel(process.env.LIFELINE_LOG_LEVEL ?? 'info') : parseLogLevel(level, 'the log level');
  const format = resolveFormat(options.format ?? (process.env.LIFELINE_LOG_FORMAT as LogFormat | undefined) ?? 'auto');
  const { pino } = await import('pino');
  const base = { pid: process.pid };
  let logger: PinoLogger;
  if (format === 'pretty') {
    // Loaded only for a terminal: the JSON path (services, tests) never pays for it.
    const { default: pretty } = await import('pino-pretty');
    const stream = pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
    logger = pino({ name, level: resolved, base }, stream);
  } else {
    const destination = pino.destination({ fd: 2, sync: true });
    const stream = format === 'journal' ? { write: (line: string) => destination.write(`<${PRIORITY[levelOf(line)] ?? 6}>${line}`) } : destination;
    logger = pino({ name, level: resolved, base, formatters: { level: (label) => ({ level: label }) } }, stream);
  }
  return new PinoAdapter(logger, {});
}

function resolveFormat(format: string): Exclude<LogFormat, 'auto'> {
  if (format === 'json' || format === 'pretty' || format === 'journal') return format;
  if (format !== 'auto') throw new FlagError(`invalid value for LIFELINE_LOG_FORMAT: ${show(format)} (expected auto, json, pretty or journal)`);
  if (process.stderr.isTTY) return 'pretty';
  return stderrIsJournal() ? 'journal' : 'json';
}

/** systemd sets JOURNAL_STREAM=<dev>:<inode> of the journal's socket; stderr is it when they match. */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  try {
    const stat = fs.fstatSync(2, { bigint: true });
    return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!);
  } catch {
    return false;
  }
}

/** The level name of a JSON line written with the level formatter (it comes first). */
function levelOf(line: string): string {
  return /^\{"level":"(\w+)"/.exec(line)?.[1] ?? 'info';
}

type LogMethod = (obj: object | string, msg?: string) => void;

/**
 * pino's child() appends bindings, so a child's `component` would be a second key of the same name
 * (which strict JSON consumers reject). Here a child's bindings replace its parent's: every child
 * is made from the root with the merged bindings, so each key appears once.
 */
class PinoAdapter implements Logger {
  readonly #root: PinoLogger;
  readonly #bindings: Record<string, unknown>;
  readonly #logger: PinoLogger;

  constructor(root: PinoLogger, bindings: Record<string, unknown>) {
    this.#root = root;
    this.#bindings = bindings;
    this.#logger = Object.keys(bindings).length === 0 ? root : root.child(bindings);
  }

  debug(obj: object | string, msg?: string): void {
    this.#write(this.#logger.debug, obj, msg);
  }

  info(obj: object | string, msg?: string): void {
    this.#write(this.#logger.info, obj, msg);
  }

  warn(obj: object | string, msg?: string): void {
    this.#write(this.#logger.warn, obj, msg);
  }

  error(obj: object | string, msg?: string): void {
    this.#write(this.#logger.error, obj, msg);
  }

  #write(method: LogMethod, obj: object | string, msg: string | undefined): void {
    if (msg === undefined) method.call(this.#logger, obj);
    else method.call(this.#logger, obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new PinoAdapter(this.#root, { ...this.#bindings, ...bindings });
  }
}
