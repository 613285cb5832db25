// Tolerant peers (issue 11): a frame whose `type` a newer release added is not an error but news
// this release cannot act on. It is recognized before the schema check (a well-formed name absent
// from the link's variants), ignored by the receiver, counted in /metrics and logged once; every
// known type is still checked exactly as strictly as before.
import { ProtocolError, show } from './errors.js';
import { variantIndex } from './variant-index.js';

/** What a type name added by a later release looks like: anything else is simply a bad frame. */
const FUTURE_TYPE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** A frame of a type this release does not know: the receiver drops it and goes on. */
export class UnknownTypeError extends ProtocolError {
  constructor(readonly type: string) {
    super(`frame has unknown type ${show(type)} (a newer peer's message: ignored)`);
  }
}

const knownTypesCache = new WeakMap<object, ReadonlySet<string>>();

/** The `type` literals of a `v.variant('type', …)` schema (variant-index.ts); none for another schema. */
export function knownTypes(schema: object): ReadonlySet<string> {
  let known = knownTypesCache.get(schema);
  if (!known) {
    const index = variantIndex(schema);
    known = new Set(index?.key === 'type' ? [...index.options.keys()].filter((literal): literal is string => typeof literal === 'string') : []);
    knownTypesCache.set(schema, known);
  }
  return known;
}

/** Throws UnknownTypeError when `value` is a frame of a well-formed type the schema does not list. */
export function rejectUnknownType(schema: object, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const type = (value as { type?: unknown }).type;
  const known = knownTypes(schema);
  if (typeof type === 'string' && known.size > 0 && !known.has(type) && FUTURE_TYPE.test(type)) throw new UnknownTypeError(type);
}

/**
 * Logs each unknown type once per link and process (a newer peer sends it again and again), and
 * remembers at most 256 of them so that a hostile peer cannot grow the set without bound.
 */
export class UnknownTypes {
  readonly #seen = new Set<string>();

  /** True the first time this link hears of this type (log it then). */
  firstTime(link: string, type: string): boolean {
    const key = `${link}\u0000${type}`;
    if (this.#seen.has(key) || this.#seen.size >= 256) return false;
    this.#seen.add(key);
    return true;
  }
}
