// The ExecutorDriver's handshake step (src/session/handshake.ts): once the socket is open and the
// sandbox files are ready, SUBSCRIBE with what is unacknowledged (what is durable, in a bounded
// piece; the rest, and what was made since, follows as UPDATE); then SUBSCRIBED accepts with its
// heartbeat interval, and ERROR, SHUTDOWN or any other event refuses: before SUBSCRIBED nothing
// is called back.
import { LifelineError } from '../protocol/errors.js';
import type { TaskStatus } from '../protocol/common.js';
import type { ExecutorCall, ExecutorEvent } from '../protocol/executor.js';
import { encode } from '../protocol/msgpack.js';
import { firstFrameVersion } from '../protocol/version.js';
import { errorVerdict, peerError, type HandshakeStep, type HandshakeVerdict } from '../session/handshake.js';
import type { Backlog } from './backlog.js';
import type { ExecutorEnvironment } from './environment.js';

export interface SubscriptionHost {
  env: ExecutorEnvironment;
  backlog: Backlog;
  /** Resolves once shim.json and the outbox are ready and every update made so far is durable. */
  ready(): Promise<void>;
  /** The attempt is still current: it moves to SUBSCRIBING (false: drop it, send nothing). */
  begin(): boolean;
  /** The last update (by seq) the SUBSCRIBE carries. */
  sentUpTo(seq: number): void;
  acknowledge(uuid: string): void;
}

/** The most updates a SUBSCRIBE carries; the rest follow as UPDATE frames after SUBSCRIBED. */
export const SUBSCRIBE_MAX_UPDATES = 1_000;
/** The most bytes (msgpack) of updates a SUBSCRIBE carries: well under the default 1 MiB frame. */
export const SUBSCRIBE_MAX_UPDATE_BYTES = 256 * 1024;

/** The oldest updates that fit in one SUBSCRIBE (at least one, so a large single update still goes). */
export function boundedPiece<T extends { status: TaskStatus }>(entries: readonly T[], maxUpdates = SUBSCRIBE_MAX_UPDATES, maxBytes = SUBSCRIBE_MAX_UPDATE_BYTES): T[] {
  const piece: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (piece.length >= maxUpdates) break;
    bytes += encode(entry.status).length;
    if (piece.length > 0 && bytes > maxBytes) break;
    piece.push(entry);
  }
  return piece;
}

/** An ERROR event of the agent as a LifelineError with its code. */
export function agentError(code: string, message: string): LifelineError {
  return peerError('agent', code, message);
}

/** The SUBSCRIBE → SUBSCRIBED step; its value is the heartbeat interval; a SHUTDOWN refusal carries its grace period. */
export function subscription(host: SubscriptionHost): HandshakeStep<ExecutorEvent, number> {
  const { env, backlog } = host;
  return {
    open: async (link): Promise<HandshakeVerdict<number>> => {
      try {
        await host.ready();
      } catch (error) {
        return { kind: 'refuse', error: error as LifelineError };
      }
      if (!host.begin()) return undefined;
      // Only what is durable goes out, and at most a bounded piece of it (the agent refuses a frame
      // over its --max_frame_bytes or with too many items): the rest follows as UPDATE, in order.
      const carried = boundedPiece(backlog.durableUpdates());
      host.sentUpTo(carried.length > 0 ? carried[carried.length - 1]!.seq : 0);
      link.send(
        encode({
          type: 'SUBSCRIBE',
          frameworkId: env.frameworkId,
          executorId: env.executorId,
          containerId: env.containerId,
          token: env.token,
          // `protocol` is the oldest version we speak: a 0.1.0 agent demands exactly 1 there.
          ...firstFrameVersion(),
          unacknowledgedTasks: backlog.tasks(),
          unacknowledgedUpdates: carried.map((entry) => entry.status),
        } satisfies ExecutorCall),
      );
      return undefined;
    },
    answer: (event): HandshakeVerdict<number> => {
      switch (event.type) {
        case 'SUBSCRIBED':
          return {
            kind: 'accept',
            value: event.heartbeatIntervalMs,
            heartbeat: { intervalMs: event.heartbeatIntervalMs, beat: () => encode({ type: 'HEARTBEAT' } satisfies ExecutorCall) },
          };
        case 'HEARTBEAT':
          return undefined;
        case 'ACKNOWLEDGED':
          host.acknowledge(event.uuid);
          return undefined;
        case 'ERROR':
          // A refusal of our protocol version is retried (an agent rolled back or forward may serve
          // us) until the recovery timeout; the tasks keep running meanwhile. Any other ERROR is final.
          return errorVerdict('agent', event.code, event.message);
        case 'SHUTDOWN':
          return {
            kind: 'refuse',
            error: new LifelineError(
              'ERR_UNKNOWN_EXECUTOR',
              `the agent answered SUBSCRIBE with SHUTDOWN: it does not know executor ${env.executorId} (or its framework is gone)`,
            ),
            detail: event.gracePeriodMs,
          };
        default:
          return { kind: 'refuse', error: new LifelineError('ERR_PROTOCOL', `the agent sent ${event.type} before SUBSCRIBED`) };
      }
    },
  };
}
