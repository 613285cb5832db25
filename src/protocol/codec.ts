// One codec for every endpoint: msgpack (msgpack.ts, the same options on every side) plus the
// valibot check of each frame against its schema, with errors that say what the peer did wrong.
import * as v from 'valibot';
import { ProtocolError, show } from './errors.js';
import { decodeWithBudget } from './msgpack.js';
import { rejectUnknownType } from './tolerant.js';

export { decode, encode, toBuffer } from './msgpack.js';

type AnySchema = v.GenericSchema<unknown, { type: string }>;

/**
 * Decodes and validates one frame against a schema of `{type}` variants. The error names the
 * message type, the field path and the bad value, so the peer can tell what it did wrong.
 */
export function decodeFrame<S extends AnySchema>(schema: S, bytes: Uint8Array): v.InferOutput<S> {
  const value = decodeWithBudget(bytes);
  // A type a newer release added: UnknownTypeError, which receivers ignore (issue 11).
  rejectUnknownType(schema, value);
  return validate(schema, value, 'frame');
}

/**
 * Validates a decoded value (a frame, a record read back from disk) against a schema. It stops at
 * the first issue (only that one is reported): without abortEarly a frame of 200k tiny invalid
 * items made valibot build 200k issues, seconds of CPU and hundreds of MiB from one 600 KB frame.
 */
export function validate<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(variantOption(schema, value) ?? schema, value, { abortEarly: true });
  if (result.success) return result.output;
  throw new ProtocolError(describeIssue(value, result.issues[0], what));
}

/** The option of each literal discriminator, per variant schema; null: not a flat variant of literals. */
const optionsByVariant = new WeakMap<object, ReadonlyMap<unknown, v.GenericSchema> | null>();

/**
 * For a `v.variant(key, [...])` whose options are objects each with a literal `key`, the one option
 * `value` selects; undefined otherwise (the variant itself is parsed). A variant finds its option by
 * running every option's discriminator in turn, and each miss builds a valibot issue with its
 * message: most of the CPU of checking a small frame, measured in the executors of bench-updates.
 * With distinct literals the variant parses the same option, so the output and issues are the same.
 */
/** @internal Exported for its equivalence test. */
export function variantOption(schema: v.GenericSchema, value: unknown): v.GenericSchema | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  let options = optionsByVariant.get(schema);
  if (options === undefined) {
    options = literalOptions(schema);
    optionsByVariant.set(schema, options);
  }
  if (options === null) return undefined;
  const variant = schema as unknown as { key: string };
  return options.get((value as Record<string, unknown>)[variant.key]);
}

const OBJECT_TYPES = new Set(['object', 'loose_object', 'strict_object', 'object_with_rest']);

function literalOptions(schema: v.GenericSchema): ReadonlyMap<unknown, v.GenericSchema> | null {
  const variant = schema as unknown as { type: string; key?: unknown; options?: unknown };
  if (variant.type !== 'variant' || typeof variant.key !== 'string' || !Array.isArray(variant.options)) return null;
  const byLiteral = new Map<unknown, v.GenericSchema>();
  for (const option of variant.options as Array<{ type?: string; entries?: Record<string, { type?: string; literal?: unknown }> }>) {
    const discriminator = OBJECT_TYPES.has(option.type ?? '') ? option.entries?.[variant.key] : undefined;
    // A nested variant, a non-literal discriminator or a repeated literal: leave it to valibot.
    if (discriminator?.type !== 'literal' || byLiteral.has(discriminator.literal)) return null;
    byLiteral.set(discriminator.literal, option as unknown as v.GenericSchema);
  }
  return byLiteral;
}

function describeIssue(value: unknown, issue: v.BaseIssue<unknown> | undefined, what: string): string {
  const type = value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string'
    ? (value as { type: string }).type
    : undefined;
  // Frames are `{type}` variants; other values (records, JSON files) are described without it.
  const framed = what === 'frame';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `${what} must be an object${framed ? ' with a string field "type"' : ''}, got ${show(value)}`;
  }
  if (!issue) return `invalid ${what}`;
  const path = issue.path?.map((item) => String(item.key)).join('.') ?? '';
  if (framed && (path === 'type' || (!path && type === undefined))) {
    return `${what} has unknown or missing type ${show((value as { type?: unknown }).type)}`;
  }
  const where = type ? `${type} ${what}` : what;
  return `invalid ${where}: field ${path || '(root)'} ${issue.message.replace(/^Invalid /, 'invalid ')}: ${show(issue.input)}`;
}
