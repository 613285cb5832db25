// A light validator for the hot and the small paths (DESIGN §1: "the executor side, which must stay
// small, may check the few events it receives with a lighter one"). valibot is the protocol's
// schema language; these few combinators check exactly what a valibot schema built from the same
// pieces checks, and return the same output (unknown keys dropped, defaults filled), at a fraction
// of the cost and without loading valibot. Each use is held to its valibot schema's verdict by a
// test on valid and mutated values (test/executor/events.test.ts, test/checkpoint/records.test.ts).
import { ID_PATTERN } from './ids.js';

/** A field that does not hold what it should: its path and what was expected. */
export class Mismatch extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly value: unknown,
  ) {
    super(expected);
  }
}

export type Check<T> = (value: unknown, path: string) => T;

export const MAX_TEXT = 64 * 1024;
export const MAX_NAME = 1024;
const MAX_MILLIS = 2 ** 47;
const UUID_PATTERN = /^[0-9a-fA-F-]{8,64}$/;

export const fail = (path: string, expected: string, value: unknown): never => {
  throw new Mismatch(path, expected, value);
};

export const string = (min: number, max: number): Check<string> => (value, path) =>
  typeof value === 'string' && value.length >= min && value.length <= max
    ? value
    : fail(path, min > 0 ? `must be a string of ${min} to ${max} characters` : `must be a string of at most ${max} characters`, value);

export const pattern = (regex: RegExp, expected: string): Check<string> => (value, path) =>
  typeof value === 'string' && regex.test(value) ? value : fail(path, expected, value);

export const id = pattern(ID_PATTERN, 'must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$');
export const uuid = pattern(UUID_PATTERN, 'must be a UUID');

export const integer = (min: number, max = Number.POSITIVE_INFINITY): Check<number> => (value, path) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
    ? value
    : fail(path, max === Number.POSITIVE_INFINITY ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`, value);

export const millis = integer(0, MAX_MILLIS);

export const nonNegative: Check<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fail(path, 'must be a finite number >= 0', value);

export const boolean: Check<boolean> = (value, path) => (typeof value === 'boolean' ? value : fail(path, 'must be a boolean', value));

export const bytes: Check<Uint8Array> = (value, path) => (value instanceof Uint8Array ? value : fail(path, 'must be bytes (a msgpack bin)', value));

/** Optional like valibot's: a missing key stays missing, a present undefined stays undefined, else checked. */
type Shape = Record<string, { check: Check<unknown>; optional?: boolean; fallback?: unknown }>;

export const required = (check: Check<unknown>) => ({ check });
export const optional = (check: Check<unknown>, fallback?: unknown) => ({ check, optional: true, fallback });

/** An object with the shape's keys only (others are dropped, as valibot's `object` does). */
export const object = <T>(shape: Shape): Check<T> => (value, path) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(path, 'must be an object', value);
  const input = value as Record<string, unknown>;
  const output: Record<string, unknown> = {};
  for (const key in shape) {
    const { check, optional: isOptional, fallback } = shape[key]!;
    const field = path ? `${path}.${key}` : key;
    const item = input[key];
    if (item === undefined) {
      if (!isOptional) fail(field, 'is missing', item);
      if (fallback !== undefined) output[key] = fallback;
      else if (key in input) output[key] = undefined;
      continue;
    }
    output[key] = check(item, field);
  }
  return output as T;
};

export function literal(expected: string): Check<string> {
  return (value, path) => (value === expected ? expected : fail(path, `must be ${JSON.stringify(expected)}`, value));
}

/** One of a fixed list of strings (valibot's `picklist`). */
export function picklist(options: readonly string[]): Check<string> {
  const allowed = new Set(options);
  return (value, path) => (typeof value === 'string' && allowed.has(value) ? value : fail(path, `must be one of ${options.join(', ')}`, value));
}
