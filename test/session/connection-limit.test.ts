// The cap on open connections that a server's endpoints share (session/connection-limit.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionLimit } from '../../src/session/connection-limit.js';

const test = suite('session/connection-limit');

test('gives out slots up to its max, then refuses without counting the refusal', () => {
  const limit = new ConnectionLimit(2);
  assert.is(limit.max, 2);
  assert.is(limit.open, 0);
  assert.ok(limit.tryTake());
  assert.ok(limit.tryTake());
  assert.is(limit.open, 2);
  assert.not.ok(limit.tryTake());
  assert.not.ok(limit.tryTake());
  assert.is(limit.open, 2);
});

test('a released slot can be taken again', () => {
  const limit = new ConnectionLimit(1);
  assert.ok(limit.tryTake());
  assert.not.ok(limit.tryTake());
  limit.release();
  assert.is(limit.open, 0);
  assert.ok(limit.tryTake());
  assert.is(limit.open, 1);
});

test('release() never goes below zero, so an extra release cannot raise the cap', () => {
  const limit = new ConnectionLimit(1);
  limit.release();
  limit.release();
  assert.is(limit.open, 0);
  assert.ok(limit.tryTake());
  assert.not.ok(limit.tryTake());
});

test('a limit of zero refuses every connection', () => {
  const limit = new ConnectionLimit(0);
  assert.not.ok(limit.tryTake());
  assert.is(limit.open, 0);
});

test('refuses a limit that is not a whole number (NaN would refuse no one)', () => {
  assert.throws(() => new ConnectionLimit(NaN), /a connection limit must be a whole number, got NaN/);
  assert.throws(() => new ConnectionLimit(-1), /got -1/);
  assert.throws(() => new ConnectionLimit(1.5), /got 1.5/);
});

test.run();
