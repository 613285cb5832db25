// The version fields of first frames and their answers (issue 11, protocol/version.ts), as schema
// pieces the three links' schemas spread in. All optional: 0.1.0 sent none of them but the
// executor's `protocol`, and an unknown field is dropped by every release.
import * as v from 'valibot';

const Protocol = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000));
const Release = v.pipe(v.string(), v.regex(/^[0-9A-Za-z.+-]{1,64}$/, 'must be a release version like 0.2.0'));

/** In a first frame: `protocol` (the oldest version the sender speaks), `protocolMax`, `release`. */
export const FirstFrameVersion = { protocol: v.optional(Protocol), protocolMax: v.optional(Protocol), release: v.optional(Release) };
/** In the answer to it (SUBSCRIBED, REGISTERED, REREGISTERED): the version agreed on, and the answering release. */
export const AnswerVersion = { protocol: v.optional(Protocol), release: v.optional(Release) };
