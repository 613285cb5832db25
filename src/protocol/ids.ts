// IDs become directory names under the work dir, so they are checked where they enter: a valid ID
// cannot contain `/`, cannot start with `.`, and has no control characters (DESIGN §3).
import { randomUUID } from 'node:crypto';
import { InvalidIdError } from './errors.js';

export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Returns `value` if it is a valid ID, or throws an InvalidIdError naming `field`. */
export function assertId(field: string, value: unknown): string {
  if (!isValidId(value)) throw new InvalidIdError(field, value);
  return value;
}

/** A fresh random ID (a UUID), valid as a directory name. */
export function newId(): string {
  return randomUUID();
}
