import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hashToken, newToken, verifyToken } from '../../src/agent/token.js';

const test = suite('token');

test('makes a fresh 32-byte token as 64 hex characters each time', () => {
  const a = newToken();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.is.not(newToken(), a);
});

test('keeps only the SHA-256 of the token', () => {
  const token = newToken();
  assert.is(hashToken(token), createHash('sha256').update(token).digest('hex'));
  assert.not.match(hashToken(token), new RegExp(token));
});

test('verifies the right token and refuses any other', () => {
  const token = newToken();
  const hash = hashToken(token);
  assert.ok(verifyToken(token, hash));
  assert.not.ok(verifyToken(newToken(), hash));
  assert.not.ok(verifyToken(token.slice(1), hash));
  assert.not.ok(verifyToken('', hash));
  assert.not.ok(verifyToken(token, 'not-a-hash'), 'a malformed stored hash never matches');
});

test.run();
