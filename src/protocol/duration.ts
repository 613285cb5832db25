// Durations in Mesos form (`15mins`, `2secs`, `500ms`) and short form (`15m`, `2s`), as milliseconds.
// Executors are always handed the Mesos form, which is what a Mesos operator reads.
import { InvalidDurationError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, ms: 1,
  secs: 1_000, sec: 1_000, s: 1_000,
  mins: 60_000, min: 60_000, m: 60_000,
  hrs: 3_600_000, hr: 3_600_000, h: 3_600_000,
  days: 86_400_000, day: 86_400_000, d: 86_400_000,
  weeks: 604_800_000, week: 604_800_000, w: 604_800_000,
};

const PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/;

/** Parses a duration to milliseconds; throws InvalidDurationError naming the value. */
export function parseDuration(text: string): number {
  const match = PATTERN.exec(String(text).trim());
  const unit = match ? UNIT_MS[match[2]!] : undefined;
  if (!match || unit === undefined) throw new InvalidDurationError(text);
  const ms = Number(match[1]) * unit;
  if (!Number.isFinite(ms)) throw new InvalidDurationError(text);
  return ms;
}

const FORMATS: Array<[string, number]> = [
  ['weeks', 604_800_000], ['days', 86_400_000], ['hrs', 3_600_000], ['mins', 60_000], ['secs', 1_000],
];

/** Formats milliseconds in Mesos form, with the largest unit that divides it exactly. */
export function formatDuration(ms: number): string {
  if (ms > 0) {
    for (const [unit, size] of FORMATS) if (ms % size === 0) return `${ms / size}${unit}`;
  }
  if (Number.isInteger(ms)) return `${ms}ms`;
  return `${Math.round(ms * 1000)}us`;
}
