// One codec for every endpoint: msgpack (msgpack.ts, the same options on every side) plus the
// valibot check of each frame against its schema, with errors that say what the peer did wrong.
import * as v from 'valibot';
import { ProtocolError, show } from './errors.js';
import { decodeWithBudget } from './msgpack.js';
import { rejectUnknownType } from './tolerant.js';
import { variantIndex } from './variant-index.js';

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

/**
 * For a `v.variant(key, [...])` whose options are objects each with a literal `key`
 * (variant-index.ts), the one option `value` selects; undefined otherwise (the variant itself is
 * parsed). A variant finds its option by running every option's discriminator in turn, and each
 * miss builds a valibot issue with its message: most of the CPU of checking a small frame, measured
 * in the executors of bench-updates. With distinct literals the variant parses the same option, so
 * the output and issues are the same. @internal Exported for its equivalence test.
 */
export function variantOption(schema: v.GenericSchema, value: unknown): v.GenericSchema | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const index = variantIndex(schema);
  return index?.options.get((value as Record<string, unknown>)[index.key]);
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
