// Each executor run gets a fresh secret in its environment; the agent keeps only its SHA-256, so a
// leaked agent memory dump or checkpoint does not hand out a working token (DESIGN §2).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh random token: 32 bytes as 64 hex characters. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** The SHA-256 of a token, as hex (what the agent stores, and `token.sha256` will hold). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Does `token` hash to `expectedHash`? Compares in constant time. */
export function verifyToken(token: string, expectedHash: string): boolean {
  const expected = Buffer.from(expectedHash, 'hex');
  const actual = createHash('sha256').update(token, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
