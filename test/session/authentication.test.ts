// Challenge-response authentication as one module: a response made with the right secret for this
// link and this challenge verifies, anything else (wrong secret, unknown principal, another
// challenge, another link, a truncated response) is refused the same way; a Secret never prints.
import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHALLENGE_BYTES } from '../../src/protocol/authentication.js';
import { LifelineError } from '../../src/protocol/errors.js';
import { Authenticator, newChallenge, respond, Secret, type Credential } from '../../src/session/authentication.js';

const SECRET_TEXT = 'hunter2-very-secret-value';
const alice: Credential = { principal: 'alice', secret: new Secret(SECRET_TEXT) };
const bob: Credential = { principal: 'bob', secret: new Secret('bobs-own-secret') };

/** The refusal verify() threw (fails the test when it did not throw, or threw something else). */
function refusal(run: () => unknown): LifelineError {
  try {
    run();
  } catch (error) {
    assert.instance(error, LifelineError);
    return error as LifelineError;
  }
  assert.unreachable('verify() accepted a response it should have refused');
  throw new Error('unreachable');
}

const test = suite('session authentication');

test('a fresh challenge is CHALLENGE_BYTES random bytes, different on each call', () => {
  const a = newChallenge();
  const b = newChallenge();
  assert.instance(a, Uint8Array);
  assert.is(a.length, CHALLENGE_BYTES);
  assert.is(Buffer.from(a).equals(Buffer.from(b)), false);
});

test("a response made with the principal's secret verifies and names the principal", () => {
  const authenticator = new Authenticator([alice, bob]);
  const challenge = newChallenge();
  const authentication = respond(alice, 'agent', challenge);
  assert.is(authentication.principal, 'alice');
  assert.is(authentication.response.length, CHALLENGE_BYTES);
  assert.is(authenticator.verify('agent', challenge, authentication), 'alice');
  assert.is(authenticator.verify('agent', challenge, respond(bob, 'agent', challenge)), 'bob');
  assert.equal(authenticator.principals.sort(), ['alice', 'bob']);
});

test('a response made with a wrong secret is refused with ERR_UNAUTHENTICATED naming the principal', () => {
  const authenticator = new Authenticator([alice]);
  const challenge = newChallenge();
  const forged = respond({ principal: 'alice', secret: new Secret('a guess') }, 'agent', challenge);
  const error = refusal(() => authenticator.verify('agent', challenge, forged));
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
  assert.match(error.message, /principal alice/);
  assert.not.match(error.message, SECRET_TEXT);
});

test('an unknown principal is refused with the same message as a wrong secret (nothing to tell a guesser)', () => {
  const authenticator = new Authenticator([alice]);
  const challenge = newChallenge();
  const wrong = refusal(() => authenticator.verify('agent', challenge, respond({ principal: 'alice', secret: new Secret('nope') }, 'agent', challenge)));
  const unknown = refusal(() => authenticator.verify('agent', challenge, respond({ principal: 'mallory', secret: new Secret('nope') }, 'agent', challenge)));
  assert.is(unknown.code, 'ERR_UNAUTHENTICATED');
  assert.match(unknown.message, /principal mallory/);
  assert.is(unknown.message.replace('mallory', 'alice'), wrong.message);
});

test('a response recorded for one challenge does not verify for another (no replay)', () => {
  const authenticator = new Authenticator([alice]);
  const recorded = respond(alice, 'agent', newChallenge());
  const error = refusal(() => authenticator.verify('agent', newChallenge(), recorded));
  assert.is(error.code, 'ERR_UNAUTHENTICATED');
});

test("a response made for the agent link does not verify on the scheduler link", () => {
  const authenticator = new Authenticator([alice]);
  const challenge = newChallenge();
  const forAgent = respond(alice, 'agent', challenge);
  assert.is(authenticator.verify('agent', challenge, forAgent), 'alice');
  assert.is(refusal(() => authenticator.verify('scheduler', challenge, forAgent)).code, 'ERR_UNAUTHENTICATED');
});

test("a response bound to one principal does not verify under another principal's name", () => {
  const authenticator = new Authenticator([alice, bob]);
  const challenge = newChallenge();
  const { response } = respond(alice, 'agent', challenge);
  assert.is(refusal(() => authenticator.verify('agent', challenge, { principal: 'bob', response })).code, 'ERR_UNAUTHENTICATED');
});

test('a response of the wrong length is refused, not thrown on by the constant-time compare', () => {
  const authenticator = new Authenticator([alice]);
  const challenge = newChallenge();
  const { response } = respond(alice, 'agent', challenge);
  for (const bad of [response.subarray(0, CHALLENGE_BYTES - 1), new Uint8Array(0), new Uint8Array([...response, 0])]) {
    const error = refusal(() => authenticator.verify('agent', challenge, { principal: 'alice', response: bad }));
    assert.is(error.code, 'ERR_UNAUTHENTICATED', `a response of ${bad.length} bytes`);
  }
});

test('a response that is a view into a larger buffer verifies by its own bytes only', () => {
  const authenticator = new Authenticator([alice]);
  const challenge = newChallenge();
  const { response } = respond(alice, 'agent', challenge);
  const padded = new Uint8Array(CHALLENGE_BYTES + 16);
  padded.set(response, 8);
  assert.is(authenticator.verify('agent', challenge, { principal: 'alice', response: padded.subarray(8, 8 + CHALLENGE_BYTES) }), 'alice');
});

test('a Secret never shows its value: JSON, String(), template literals, util.inspect, a logged object', () => {
  const secret = new Secret(SECRET_TEXT);
  const credential: Credential = { principal: 'alice', secret };
  const shown = [
    JSON.stringify(secret),
    String(secret),
    `${secret}`,
    'secret: ' + secret,
    inspect(secret),
    inspect(credential, { depth: 10, showHidden: true }),
    JSON.stringify(credential),
    // What pino writes for logger.info({ credential }): the object through JSON.stringify.
    JSON.stringify({ level: 30, msg: 'loaded', credential }),
    JSON.stringify({ credentials: [credential] }),
  ];
  for (const text of shown) {
    assert.not.ok(text.includes(SECRET_TEXT), `the secret leaked in ${text}`);
    assert.ok(text.includes('[secret]'), `the placeholder is shown in ${text}`);
  }
  assert.is(secret.bytes().toString('utf8'), SECRET_TEXT, 'the HMAC still gets the bytes');
});

test('verifyPassword: true for the right password, false for a wrong one and for an unknown principal', () => {
  const authenticator = new Authenticator([alice]);
  assert.is(authenticator.verifyPassword('alice', SECRET_TEXT), true);
  assert.is(authenticator.verifyPassword('alice', `${SECRET_TEXT}x`), false);
  assert.is(authenticator.verifyPassword('alice', ''), false);
  assert.is(authenticator.verifyPassword('mallory', SECRET_TEXT), false);
  assert.is(authenticator.has('alice'), true);
  assert.is(authenticator.has('mallory'), false);
});

test.run();
