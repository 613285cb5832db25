// Sizes in Mesos form (`10MB`, `512KB`, `1GB`: binary multiples, as Mesos's Bytes) and in kubelet's
// (`10Mi`), as a number of bytes. Used by flags such as --sandbox_log_max_size.
import { InvalidSizeError } from './errors.js';

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1024, k: 1024, ki: 1024, kib: 1024,
  mb: 1024 ** 2, m: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2,
  gb: 1024 ** 3, g: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3,
  tb: 1024 ** 4, t: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4,
};

const PATTERN = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;

/** Parses a size to a whole number of bytes (a bare number is bytes); throws InvalidSizeError naming the value. */
export function parseBytes(text: string): number {
  const match = PATTERN.exec(String(text).trim());
  const unit = match ? UNIT_BYTES[(match[2] || 'b').toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new InvalidSizeError(text);
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new InvalidSizeError(text);
  return bytes;
}

const FORMATS: Array<[string, number]> = [['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]];

/** Formats bytes in Mesos form, with the largest unit that divides it exactly. */
export function formatBytes(bytes: number): string {
  if (bytes > 0) {
    for (const [unit, size] of FORMATS) if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
