// The executor side's validation of the agent's events, with the protocol's one schema language:
// the `ExecutorEvent` valibot schema of protocol/executor.ts, the very schema the agent encodes
// against. (A hand-written light check stood here; it saved no memory, since the shim loads valibot
// for its record log anyway, and it could drift from the schema. Issue 10 §4.)
import { validate } from '../protocol/codec.js';
import { ExecutorEvent } from '../protocol/executor.js';
import { decode } from '../protocol/msgpack.js';
import { rejectUnknownType } from '../protocol/tolerant.js';

/**
 * Decodes one frame from the agent and checks it; throws a ProtocolError that names the event type,
 * the field and the bad value (the same errors as the agent's valibot check: answer with 1008).
 */
export function decodeEvent(bytes: Uint8Array): ExecutorEvent {
  const value = decode(bytes);
  // An event type a newer agent added: UnknownTypeError, which the driver ignores (issue 11).
  rejectUnknownType(ExecutorEvent, value);
  return validate(ExecutorEvent, value, 'frame');
}
