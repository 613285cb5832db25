import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LifelineError } from '../../src/protocol/errors.js';
import { HandshakeRefused, peerError } from '../../src/session/handshake.js';

const test = suite('session handshake');

test("a peer's ERROR becomes a LifelineError with the peer's code and both in its message", () => {
  const error = peerError('agent', 'ERR_UNAUTHORIZED', 'wrong token');
  assert.instance(error, LifelineError);
  assert.is(error.code, 'ERR_UNAUTHORIZED');
  assert.is(error.message, 'the agent reported ERR_UNAUTHORIZED: wrong token');
});

test('a refusal carries the error (as its cause and message) and what the step attached', () => {
  const error = new LifelineError('ERR_UNKNOWN_EXECUTOR', 'not known here');
  const refused = new HandshakeRefused(error, { gracePeriodMs: 5_000 });
  assert.is(refused.name, 'HandshakeRefused');
  assert.is(refused.error, error);
  assert.is(refused.cause, error);
  assert.is(refused.message, 'not known here');
  assert.equal(refused.detail, { gracePeriodMs: 5_000 });
});

test.run();
