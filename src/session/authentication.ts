// Challenge-response authentication of a connection (issue 14): the master sends fresh random bytes
// on each connection that asks (CHALLENGE), the client answers with an HMAC-SHA256 over them keyed
// with its principal's secret, and the master compares it in constant time. The secret never
// crosses the wire; a response recorded on one connection is worth nothing on the next, whose
// challenge differs. Secrets are held in a Secret, which never prints.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { CHALLENGE_BYTES, UnauthenticatedError, type Authentication } from '../protocol/index.js';

/** Which link a response is for: a response made for one cannot authenticate the other. */
export type AuthenticatedLink = 'agent' | 'scheduler';

/** A secret that never appears in logs, JSON, `util.inspect` or string concatenation. */
export class Secret {
  readonly #value: Buffer;

  constructor(value: string) {
    this.#value = Buffer.from(value, 'utf8');
  }

  /** The bytes, for the HMAC only. */
  bytes(): Buffer {
    return this.#value;
  }

  toJSON(): string {
    return '[secret]';
  }

  toString(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return '[secret]';
  }
}

/** A principal and its secret: an agent's --credential, a framework's, one of the master's --credentials. */
export interface Credential {
  principal: string;
  secret: Secret;
}

/** Fresh random bytes for one connection. */
export function newChallenge(): Uint8Array {
  return new Uint8Array(randomBytes(CHALLENGE_BYTES));
}

function hmac(secret: Buffer, link: AuthenticatedLink, principal: string, challenge: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`lifeline-authenticate-1\0${link}\0${principal}\0`).update(challenge).digest();
}

/** The client's answer to a challenge: what its registration call carries. */
export function respond(credential: Credential, link: AuthenticatedLink, challenge: Uint8Array): Authentication {
  return { principal: credential.principal, response: new Uint8Array(hmac(credential.secret.bytes(), link, credential.principal, challenge)) };
}

/** The master's side: the principals it knows (--credentials) and the check of one response. */
export class Authenticator {
  readonly #secrets = new Map<string, Secret>();
  /** Keys an HMAC for an unknown principal, so that it takes as long as a known one's. */
  readonly #decoy = new Secret(randomBytes(32).toString('hex'));

  constructor(credentials: readonly Credential[]) {
    for (const { principal, secret } of credentials) this.#secrets.set(principal, secret);
  }

  get principals(): string[] {
    return [...this.#secrets.keys()];
  }

  has(principal: string): boolean {
    return this.#secrets.has(principal);
  }

  /**
   * Returns the authenticated principal, or throws UnauthenticatedError naming the principal (never
   * saying whether it was unknown or its response wrong: both read the same to a guesser).
   */
  verify(link: AuthenticatedLink, challenge: Uint8Array, authentication: Authentication): string {
    const { principal, response } = authentication;
    const secret = this.#secrets.get(principal);
    const expected = hmac((secret ?? this.#decoy).bytes(), link, principal, challenge);
    const given = Buffer.from(response.buffer, response.byteOffset, response.byteLength);
    const same = given.length === expected.length && timingSafeEqual(given, expected);
    if (!same || secret === undefined) throw new UnauthenticatedError(`authentication of principal ${principal} failed: unknown principal or wrong secret`);
    return principal;
  }

  /** HTTP Basic (operators): the secret compared in constant time, through the same HMAC. */
  verifyPassword(principal: string, password: string): boolean {
    const secret = this.#secrets.get(principal);
    const key = randomBytes(32);
    const expected = createHmac('sha256', key).update((secret ?? this.#decoy).bytes()).digest();
    const given = createHmac('sha256', key).update(password, 'utf8').digest();
    return timingSafeEqual(given, expected) && secret !== undefined;
  }
}
