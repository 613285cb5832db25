// The wire schemas of authentication (protocol/authentication.ts): a principal's name, the
// {principal, response} a registration call carries, AUTHENTICATE and its CHALLENGE answer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import {
  AgentCall,
  AuthenticateCall,
  Authentication,
  CHALLENGE_BYTES,
  ChallengeEvent,
  Principal,
  PRINCIPAL_PATTERN,
  validate,
} from '../../src/protocol/index.js';
import { refusal } from './refusal.js';

const test = suite('protocol/authentication');

const PRINCIPAL_MESSAGE = 'must be a principal name (letters, digits, _ . @ + = -; 1 to 128)';
const response = () => new Uint8Array(CHALLENGE_BYTES).fill(7);

test('a challenge and its HMAC-SHA256 response are 32 bytes', () => {
  assert.is(CHALLENGE_BYTES, 32);
});

test('accepts a principal of 1 to 128 letters, digits and _ . @ + = -', () => {
  for (const good of ['a', 'ops', 'agent-1', 'svc_deploy.prod', 'alice@example.com', 'a+b=c', 'x'.repeat(128)]) {
    assert.ok(v.is(Principal, good), good);
    assert.ok(PRINCIPAL_PATTERN.test(good), good);
  }
});

test('refuses a principal with a colon (HTTP Basic cannot carry it), a space, a non-ASCII letter, or out of bounds', () => {
  for (const bad of ['', 'x'.repeat(129), 'a:b', ':', 'a b', 'é', 'a/b', 'a\nb', 'a\u0000']) {
    const result = v.safeParse(Principal, bad);
    assert.not.ok(result.success, JSON.stringify(bad));
    assert.is(result.issues?.[0].message, PRINCIPAL_MESSAGE, JSON.stringify(bad));
  }
  assert.not.ok(v.is(Principal, 42));
  assert.not.ok(v.is(Principal, undefined));
});

test('accepts {principal, response} with a 32-byte response, a Buffer too, and drops other keys', () => {
  const checked = validate(Authentication, { principal: 'ops', response: response(), secret: 'never on the wire' }, 'authentication');
  assert.equal(Object.keys(checked).sort(), ['principal', 'response']);
  assert.is(checked.principal, 'ops');
  assert.equal([...checked.response], [...response()]);
  assert.ok(v.is(Authentication, { principal: 'ops', response: Buffer.alloc(32) }));
});

test('names the field of a bad principal or response, with the value', () => {
  assert.is(
    refusal(Authentication, { principal: 'a:b', response: response() }, 'authentication'),
    `invalid authentication: field principal ${PRINCIPAL_MESSAGE}: "a:b"`,
  );
  assert.match(refusal(Authentication, { principal: 'ops', response: new Uint8Array(31) }, 'authentication'), /^invalid authentication: field response must be 32 bytes: /);
  assert.match(refusal(Authentication, { principal: 'ops', response: new Uint8Array(33) }, 'authentication'), /field response must be 32 bytes/);
  // A hex or base64 string is not bytes: the response is a msgpack bin.
  assert.match(refusal(Authentication, { principal: 'ops', response: 'ab'.repeat(16) }, 'authentication'), /field response invalid type: Expected Uint8Array/);
  assert.match(refusal(Authentication, { response: response() }, 'authentication'), /field principal .*undefined/);
  assert.match(refusal(Authentication, { principal: 'ops' }, 'authentication'), /field response .*undefined/);
});

test('AUTHENTICATE is a frame of its type alone', () => {
  assert.equal(validate(AuthenticateCall, { type: 'AUTHENTICATE', extra: 1 }, 'frame'), { type: 'AUTHENTICATE' });
  assert.is(refusal(AuthenticateCall, { type: 'AUTHENTICATED' }), 'frame has unknown or missing type "AUTHENTICATED"');
  assert.is(refusal(AuthenticateCall, {}), 'frame has unknown or missing type undefined');
});

test('CHALLENGE carries exactly 32 bytes of challenge', () => {
  const challenge = new Uint8Array(32).fill(1);
  const checked = validate(ChallengeEvent, { type: 'CHALLENGE', challenge }, 'frame');
  assert.is(checked.type, 'CHALLENGE');
  assert.equal([...checked.challenge], [...challenge]);
  assert.match(refusal(ChallengeEvent, { type: 'CHALLENGE', challenge: new Uint8Array(16) }), /^invalid CHALLENGE frame: field challenge must be 32 bytes: /);
  assert.match(refusal(ChallengeEvent, { type: 'CHALLENGE' }), /^invalid CHALLENGE frame: field challenge /);
  assert.match(refusal(ChallengeEvent, { type: 'CHALLENGE', challenge: [...challenge] }), /field challenge invalid type: Expected Uint8Array/);
});

test('a registration call refuses a bad authentication by its full path', () => {
  const agentInfo = { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true };
  const register = (authentication: unknown) => ({ type: 'REGISTER', agentInfo, authentication });
  assert.is(validate(AgentCall, register({ principal: 'agent', response: response() }), 'frame').type, 'REGISTER');
  assert.is(
    refusal(AgentCall, register({ principal: 'a:b', response: response() })),
    `invalid REGISTER frame: field authentication.principal ${PRINCIPAL_MESSAGE}: "a:b"`,
  );
  assert.match(refusal(AgentCall, register({ principal: 'agent', response: new Uint8Array(8) })), /field authentication\.response must be 32 bytes/);
});

test.run();
