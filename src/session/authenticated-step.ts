// Issue 14: a handshake step that authenticates first, wrapped around a link's own step (the
// master link's REGISTER/REREGISTER, the scheduler driver's SUBSCRIBE). Kept apart from
// handshake.ts so that the executor side, which never authenticates this way, loads no crypto.
import type { Authentication } from '../protocol/authentication.js';
import { encode } from '../protocol/msgpack.js';
import { respond, type AuthenticatedLink, type Credential } from './authentication.js';
import type { HandshakeLink, HandshakeStep, HandshakeVerdict } from './handshake.js';

/** A step whose first frame is built at once (the master link's, the scheduler driver's). */
export interface ImmediateHandshakeStep<F, A> extends HandshakeStep<F, A> {
  /** `authentication`, when given, goes into the first frame (the answer to this connection's challenge). */
  open(link: HandshakeLink, authentication?: Authentication): HandshakeVerdict<A> | void;
}

/**
 * Issue 14: authenticates before `step`: AUTHENTICATE first, and once the master's CHALLENGE has
 * come, the step's first frame carrying the answer. Frames before the challenge (an ERROR, a PING)
 * go to the step as usual. Without a credential the step runs as it is.
 */
export function authenticated<F extends { type: string }, A>(step: ImmediateHandshakeStep<F, A>, credential: Credential | undefined, link: AuthenticatedLink): HandshakeStep<F, A> {
  if (credential === undefined) return step;
  let opened: HandshakeLink | undefined;
  let challenged = false;
  return {
    open: (handshakeLink) => {
      opened = handshakeLink;
      handshakeLink.send(encode({ type: 'AUTHENTICATE' }));
    },
    answer: (frame) => {
      if (!challenged && frame.type === 'CHALLENGE') {
        challenged = true;
        const { challenge } = frame as unknown as { challenge: Uint8Array };
        return step.open(opened!, respond(credential, link, challenge)) ?? undefined;
      }
      return step.answer(frame);
    },
  };
}
