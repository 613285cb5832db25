// The handshake of a client session as a pluggable step: what to send once the connection is open
// (SUBSCRIBE, REGISTER, a REREGISTER in parts) and how to judge each frame until the answer comes.
// A version negotiation or an HMAC challenge becomes a step of its own (or wraps a link's step)
// without the session changing.
import { LifelineError, type ErrorCode } from '../protocol/errors.js';
import type { Authentication } from '../protocol/authentication.js';
import { isVersionRefusal, negotiate, peerVersion, SERVED, type PeerVersion, type ProtocolRange, type VersionFields } from '../protocol/version.js';

/** Heartbeats once accepted: watch the peer for `missed` intervals of silence, and optionally beat. */
export interface HeartbeatPlan {
  intervalMs: number;
  /** Default: MISSED_HEARTBEATS. */
  missed?: number;
  /** Our heartbeat frame, sent every interval (links where only the peer beats leave it out). */
  beat?: () => Uint8Array;
}

/**
 * The verdict on one frame during the handshake:
 * - accept: the handshake is done with `value` (heartbeats start as planned);
 * - refuse: the peer refused us: fatal, do not try again;
 * - fail: this attempt failed, another may succeed;
 * - undefined: not the answer yet (the step handled the frame itself): keep waiting.
 */
export type HandshakeVerdict<A> =
  | { kind: 'accept'; value: A; heartbeat?: HeartbeatPlan }
  | { kind: 'refuse'; error: LifelineError; detail?: unknown }
  | { kind: 'fail'; error: LifelineError }
  | undefined;

export interface HandshakeLink {
  /** Sends one frame; false when the connection is not open. */
  send(frame: Uint8Array): boolean;
}

export interface HandshakeStep<F, A> {
  /**
   * The connection is open: send the first frame(s). May wait (an executor makes its outbox
   * durable first); a verdict returned here ends the handshake at once (a call that cannot be built).
   */
  open(link: HandshakeLink, authentication?: Authentication): HandshakeVerdict<A> | void | Promise<HandshakeVerdict<A> | void>;
  /** One decoded frame before the handshake is done. */
  answer(frame: F): HandshakeVerdict<A>;
}

/** The peer refused the handshake: trying again is pointless. `detail` is what the step attached. */
export class HandshakeRefused extends Error {
  constructor(
    readonly error: LifelineError,
    readonly detail?: unknown,
  ) {
    super(error.message, { cause: error });
    this.name = 'HandshakeRefused';
  }
}

/** A peer's ERROR event as a LifelineError with the peer's code ("the agent reported ERR_X: ..."). */
export function peerError(peer: string, code: string, message: string): LifelineError {
  return new LifelineError(code as ErrorCode, `the ${peer} reported ${code}: ${message}`);
}

/**
 * The verdict on a peer's ERROR answer to a first frame: a refusal of our protocol version fails
 * this attempt only (a peer upgraded or rolled back may serve the next one, and a refused executor
 * must keep its tasks), any other ERROR refuses for good.
 */
export function errorVerdict(peer: string, code: string, message: string): HandshakeVerdict<never> {
  const error = peerError(peer, code, message);
  return isVersionRefusal(code, message) ? { kind: 'fail', error } : { kind: 'refuse', error };
}

/**
 * The receiving side of the negotiation: the peer's range read off its first frame, met with the
 * range this release serves. Throws a ProtocolVersionError naming both (an endpoint handler that
 * lets it through answers ERROR ERR_PROTOCOL_VERSION and closes); returns the version to speak.
 */
export function negotiateFirstFrame(fields: VersionFields, who: string, range: ProtocolRange = SERVED): { protocol: number; peer: PeerVersion } {
  const peer = peerVersion(fields);
  return { protocol: negotiate(peer, who, range), peer };
}
