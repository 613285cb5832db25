// The one index of a valibot `v.variant(key, [...])` schema by its discriminator literals, cached
// per schema: codec.ts parses a frame against the option its literal selects, and tolerant.ts knows
// from the same keys which `type` names a link lists.
import type * as v from 'valibot';

export interface VariantIndex {
  /** The discriminator's key (`type`, `kind`). */
  readonly key: string;
  /** Each option by its literal. */
  readonly options: ReadonlyMap<unknown, v.GenericSchema>;
}

const OBJECT_TYPES = new Set(['object', 'loose_object', 'strict_object', 'object_with_rest']);
const cache = new WeakMap<object, VariantIndex | null>();

/**
 * The index of a flat variant whose options are objects each with a distinct literal at `key`;
 * null for any other schema (a nested variant, a non-literal or repeated discriminator, not a
 * variant at all): those are left whole to valibot.
 */
export function variantIndex(schema: object): VariantIndex | null {
  let index = cache.get(schema);
  if (index === undefined) {
    index = build(schema);
    cache.set(schema, index);
  }
  return index;
}

function build(schema: object): VariantIndex | null {
  const variant = schema as { type?: unknown; key?: unknown; options?: unknown };
  if (variant.type !== 'variant' || typeof variant.key !== 'string' || !Array.isArray(variant.options)) return null;
  const options = new Map<unknown, v.GenericSchema>();
  for (const option of variant.options as Array<{ type?: string; entries?: Record<string, { type?: string; literal?: unknown }> }>) {
    const discriminator = OBJECT_TYPES.has(option.type ?? '') ? option.entries?.[variant.key] : undefined;
    if (discriminator?.type !== 'literal' || options.has(discriminator.literal)) return null;
    options.set(discriminator.literal, option as unknown as v.GenericSchema);
  }
  return { key: variant.key, options };
}
