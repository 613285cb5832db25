// A light validator for the hot path of records (DESIGN §5, §10): a recovery checks every record
// of every log read back, tens of thousands, and valibot costs several µs each. valibot stays the
// protocol's one schema language: these combinators infer their output types from their shapes, so
// a check built from them is held to its valibot schema by the compiler (records.ts asserts that
// the two output types are identical), and to its verdicts by test/checkpoint/records.test.ts.
import { isOpenName } from './constants.js';
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
/** What a check returns. */
export type Output<C> = C extends Check<infer T> ? T : never;

export const MAX_TEXT = 64 * 1024;
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

export const boolean: Check<boolean> = (value, path) => (typeof value === 'boolean' ? value : fail(path, 'must be a boolean', value));

/** Typed as valibot's `v.instance(Uint8Array)` infers it (what `new Uint8Array` returns). */
export const bytes: Check<InstanceType<typeof Uint8Array>> = (value, path) => (value instanceof Uint8Array ? (value as InstanceType<typeof Uint8Array>) : fail(path, 'must be bytes (a msgpack bin)', value));

/** A key of an object shape: required, or optional like valibot's (a missing key stays missing, a present undefined stays undefined). */
interface Required<T> {
  readonly check: Check<T>;
  readonly optional?: false;
}
interface Optional<T> {
  readonly check: Check<T>;
  readonly optional: true;
}
type Shape = Record<string, Required<unknown> | Optional<unknown>>;

export const required = <T>(check: Check<T>): Required<T> => ({ check });
export const optional = <T>(check: Check<T>): Optional<T> => ({ check, optional: true });

type Flat<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
/** The output of `object(shape)`, written as valibot's `InferOutput` of the matching `v.object` is. */
export type ObjectOutput<S extends Shape> = Flat<
  { -readonly [K in RequiredKeys<S>]: Output<S[K]['check']> } & { -readonly [K in OptionalKeys<S>]?: Output<S[K]['check']> | undefined }
>;

/**
 * An object with the shape's keys only (others are dropped, as valibot's `object` does). A field
 * is checked with its key as its path, and a mismatch gets this object's path put in front on its
 * way out: a valid record builds no path strings (one per field per record was about a quarter of
 * the check's cost, and the agent checks every record it writes).
 */
export const object = <S extends Shape>(shape: S): Check<ObjectOutput<S>> => {
  const keys = Object.keys(shape);
  const fields = keys.map((key) => shape[key]!);
  return (value, path) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(path, 'must be an object', value);
    const input = value as Record<string, unknown>;
    const output: Record<string, unknown> = {};
    try {
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index]!;
        const { check, optional: isOptional } = fields[index]!;
        const item = input[key];
        if (item === undefined) {
          if (!isOptional) fail(key, 'is missing', item);
          if (key in input) output[key] = undefined;
          continue;
        }
        output[key] = check(item, key);
      }
    } catch (error) {
      if (path && error instanceof Mismatch) throw new Mismatch(`${path}.${error.path}`, error.expected, error.value);
      throw error;
    }
    return output as ObjectOutput<S>;
  };
};

export function literal<const T extends string>(expected: T): Check<T> {
  return (value, path) => (value === expected ? expected : fail(path, `must be ${JSON.stringify(expected)}`, value));
}

/** One of a fixed list of strings (valibot's `picklist`). */
export function picklist<const T extends string>(options: readonly T[]): Check<T> {
  const allowed = new Set<string>(options);
  return (value, path) => (typeof value === 'string' && allowed.has(value) ? (value as T) : fail(path, `must be one of ${options.join(', ')}`, value));
}

/** Whether two types are identical (not merely assignable either way): the compiler's drift check. */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** An open picklist (issue 11): one of `known`, or `<prefix><NAME>` from a newer release; as common.ts's. */
export function openName<T extends string>(known: readonly string[], prefix: string): Check<T> {
  return (value, path) => (isOpenName(value, known, prefix) ? (value as T) : fail(path, `must be one of ${known.join(', ')} (or ${prefix} and capitals, from a newer release)`, value));
}
