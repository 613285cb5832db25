// One frame from the master as a SchedulerEvent. A frame of a type this release does not know is
// told apart from a broken one (UnknownEventError), so that the driver can drop it quietly: drivers
// and masters are upgraded one at a time.
import { decode, decodeFrame, ProtocolError, SCHEDULER_EVENT_TYPES, SchedulerEvent } from '../protocol/index.js';

/** A well-formed frame whose type this driver does not know (sent by a newer master): dropped. */
export class UnknownEventError extends ProtocolError {
  constructor(readonly eventType: string) {
    super(`event of unknown type ${JSON.stringify(eventType)}`);
  }
}

/** Throws the schema's error for a bad frame of a known type (or one that is not msgpack at all). */
export function decodeEvent(bytes: Uint8Array): SchedulerEvent {
  try {
    return decodeFrame(SchedulerEvent, bytes);
  } catch (error) {
    let raw: unknown;
    try {
      raw = decode(bytes);
    } catch {
      throw error;
    }
    const type = raw !== null && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
    if (typeof type === 'string' && !SCHEDULER_EVENT_TYPES.has(type)) throw new UnknownEventError(type);
    throw error;
  }
}
