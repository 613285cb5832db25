// The authenticating wrapper around a link's handshake step, against a fake link that collects the
// frames sent: AUTHENTICATE first, the inner step's first frame only once CHALLENGE has come (with
// an answer the master's Authenticator accepts), and every other frame left to the inner step.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Authentication } from '../../src/protocol/authentication.js';
import { LifelineError } from '../../src/protocol/errors.js';
import { decode, encode } from '../../src/protocol/msgpack.js';
import { authenticated, type ImmediateHandshakeStep } from '../../src/session/authenticated-step.js';
import { Authenticator, newChallenge, Secret, type Credential } from '../../src/session/authentication.js';
import type { HandshakeLink, HandshakeVerdict } from '../../src/session/handshake.js';

type Frame = { type: string; [key: string]: unknown };

const credential: Credential = { principal: 'agent-1', secret: new Secret('the-agents-secret') };

/** A link that records every frame sent, decoded. */
function fakeLink(): HandshakeLink & { frames: Frame[] } {
  const frames: Frame[] = [];
  return { frames, send: (bytes) => (frames.push(decode(bytes) as Frame), true) };
}

/** An inner step that records what it was asked: it sends REGISTER with the authentication it got. */
function innerStep() {
  const opens: Array<{ link: HandshakeLink; authentication: Authentication | undefined }> = [];
  const answers: Frame[] = [];
  const step: ImmediateHandshakeStep<Frame, string> = {
    open(link, authentication) {
      opens.push({ link, authentication });
      link.send(encode({ type: 'REGISTER', authentication }));
    },
    answer(frame): HandshakeVerdict<string> {
      answers.push(frame);
      return frame.type === 'REGISTERED' ? { kind: 'accept', value: 'registered' } : undefined;
    },
  };
  return { step, opens, answers };
}

const test = suite('session authenticated step');

test('without a credential the step itself is returned, untouched', () => {
  const { step } = innerStep();
  assert.is(authenticated(step, undefined, 'agent'), step);
});

test('with a credential, open() sends exactly one AUTHENTICATE frame and does not open the inner step', async () => {
  const inner = innerStep();
  const link = fakeLink();
  const verdict = await authenticated(inner.step, credential, 'agent').open(link);
  assert.is(verdict, undefined);
  assert.equal(link.frames, [{ type: 'AUTHENTICATE' }]);
  assert.is(inner.opens.length, 0);
});

test('an ERROR before the CHALLENGE goes to the inner step, which is never opened', async () => {
  const inner = innerStep();
  const link = fakeLink();
  const wrapped = authenticated(inner.step, credential, 'agent');
  await wrapped.open(link);
  const error = { type: 'ERROR', code: 'ERR_UNAUTHENTICATED', message: 'this master has no --credentials' };
  assert.is(wrapped.answer(error), undefined);
  assert.equal(inner.answers, [error]);
  assert.is(inner.opens.length, 0);
  assert.equal(link.frames, [{ type: 'AUTHENTICATE' }]);
});

test("CHALLENGE opens the inner step on the same link with an answer the master's Authenticator accepts", async () => {
  const inner = innerStep();
  const link = fakeLink();
  const wrapped = authenticated(inner.step, credential, 'agent');
  await wrapped.open(link);
  const challenge = newChallenge();
  assert.is(wrapped.answer({ type: 'CHALLENGE', challenge }), undefined);
  assert.is(inner.opens.length, 1);
  assert.is(inner.opens[0]!.link, link);
  assert.is(inner.answers.length, 0, 'the CHALLENGE itself is not handed to the inner step');
  const authentication = inner.opens[0]!.authentication!;
  assert.is(authentication.principal, 'agent-1');
  const master = new Authenticator([{ principal: 'agent-1', secret: new Secret('the-agents-secret') }]);
  assert.is(master.verify('agent', challenge, authentication), 'agent-1');
  assert.throws(() => master.verify('scheduler', challenge, authentication), /authentication of principal agent-1 failed/, 'it was made for the agent link only');
  // On the wire: AUTHENTICATE, then the inner step's REGISTER carrying the answer.
  assert.equal(link.frames.map((frame) => frame.type), ['AUTHENTICATE', 'REGISTER']);
  const sent = link.frames[1]!.authentication as Authentication;
  assert.is(master.verify('agent', challenge, { principal: sent.principal, response: new Uint8Array(sent.response) }), 'agent-1');
});

test("the inner step's verdict on open is the wrapper's verdict on the CHALLENGE", async () => {
  const refusal: HandshakeVerdict<string> = { kind: 'fail', error: new LifelineError('ERR_PROTOCOL', 'cannot build REGISTER') };
  const step: ImmediateHandshakeStep<Frame, string> = { open: () => refusal, answer: () => undefined };
  const wrapped = authenticated(step, credential, 'scheduler');
  await wrapped.open(fakeLink());
  assert.is(wrapped.answer({ type: 'CHALLENGE', challenge: newChallenge() }), refusal);
});

test('a second CHALLENGE goes to the inner step, which is not opened again', async () => {
  const inner = innerStep();
  const link = fakeLink();
  const wrapped = authenticated(inner.step, credential, 'agent');
  await wrapped.open(link);
  wrapped.answer({ type: 'CHALLENGE', challenge: newChallenge() });
  const again = { type: 'CHALLENGE', challenge: newChallenge() };
  assert.is(wrapped.answer(again), undefined);
  assert.is(inner.opens.length, 1);
  assert.equal(inner.answers, [again]);
  assert.equal(wrapped.answer({ type: 'REGISTERED' }), { kind: 'accept', value: 'registered' }, "later frames are the inner step's to judge");
  assert.equal(link.frames.map((frame) => frame.type), ['AUTHENTICATE', 'REGISTER']);
});

test.run();
