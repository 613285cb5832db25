// Structured logs for the long-running processes (master, agent), through pino: JSON lines on
// stderr, level from LIFELINE_LOG_LEVEL. Library code takes the small `Logger` interface, so an
// embedding program can pass its own (or none: silent). The executor side never loads pino.
import type { Logger as PinoLogger } from 'pino';

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

export async function createLogger(name: string, level = process.env.LIFELINE_LOG_LEVEL ?? 'info'): Promise<Logger> {
  const { pino } = await import('pino');
  const logger: PinoLogger = pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
  return logger as unknown as Logger;
}
