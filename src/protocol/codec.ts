// One msgpack codec for every endpoint. Both sides must use the same options (`useRecords: false`,
// so objects decode as plain objects; no `sequential`, which does not survive reconnects).
import { Packr, Unpackr } from 'msgpackr';
import * as v from 'valibot';
import { ProtocolError, show } from './errors.js';
import { checkFrameBudget } from './frame-budget.js';

const OPTIONS = { useRecords: false, mapsAsObjects: true, moreTypes: false } as const;
const packr = new Packr(OPTIONS);
const unpackr = new Unpackr(OPTIONS);

export function encode(message: unknown): Buffer {
  return packr.pack(message);
}

/** Decodes msgpack bytes to an unknown value; throws ProtocolError when they are not msgpack. */
export function decode(bytes: Uint8Array): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (cause) {
    throw new ProtocolError(`frame is not valid msgpack (${(cause as Error).message ?? cause})`, { cause });
  }
}

/** Turns ws message data (Buffer, ArrayBuffer or fragments) into one Buffer. */
export function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

type AnySchema = v.GenericSchema<unknown, { type: string }>;

/**
 * Decodes and validates one frame against a schema of `{type}` variants. The error names the
 * message type, the field path and the bad value, so the peer can tell what it did wrong.
 */
export function decodeFrame<S extends AnySchema>(schema: S, bytes: Uint8Array): v.InferOutput<S> {
  checkFrameBudget(bytes);
  return validate(schema, decode(bytes), 'frame');
}

/**
 * Validates a decoded value (a frame, a record read back from disk) against a schema. It stops at
 * the first issue (only that one is reported): without abortEarly a frame of 200k tiny invalid
 * items made valibot build 200k issues, seconds of CPU and hundreds of MiB from one 600 KB frame.
 */
export function validate<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  throw new ProtocolError(describeIssue(value, result.issues[0], what));
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
