// Authentication on the wire (issue 14, DESIGN §1): a client with a credential opens with
// AUTHENTICATE, the master answers CHALLENGE with fresh random bytes, and the client's registration
// call (REGISTER, REREGISTER, SUBSCRIBE) carries `authentication: {principal, response}`, the
// response being an HMAC over the challenge keyed with the principal's secret. The secret never
// crosses the wire, and a response is good for one connection's challenge only.
import * as v from 'valibot';

/** Bytes of a challenge (and of an HMAC-SHA256 response). */
export const CHALLENGE_BYTES = 32;

/** A principal's name: printable and bounded, and without ':' (HTTP Basic, for operators, cannot carry one: RFC 7617). */
export const PRINCIPAL_PATTERN = /^[A-Za-z0-9_.@+=-]{1,128}$/;
export const Principal = v.pipe(v.string(), v.regex(PRINCIPAL_PATTERN, 'must be a principal name (letters, digits, _ . @ + = -; 1 to 128)'));

const Digest = v.pipe(v.instance(Uint8Array), v.length(CHALLENGE_BYTES, `must be ${CHALLENGE_BYTES} bytes`));

/** What a registration call carries once the connection was challenged. */
export const Authentication = v.object({ principal: Principal, response: Digest });
export type Authentication = v.InferOutput<typeof Authentication>;

/** The client's first frame when it authenticates: asks for a challenge. */
export const AuthenticateCall = v.object({ type: v.literal('AUTHENTICATE') });
/** The master's answer to AUTHENTICATE. */
export const ChallengeEvent = v.object({ type: v.literal('CHALLENGE'), challenge: Digest });
export type ChallengeEvent = v.InferOutput<typeof ChallengeEvent>;
