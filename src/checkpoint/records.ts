// What a record log holds (DESIGN §5): the status updates of a task stream and the
// acknowledgements they received. The same two records serve the agent's `task.updates` and the
// executor's `outbox.log`; both are validated when read back, since disk content is untrusted.
import * as v from 'valibot';
import { validate } from '../protocol/codec.js';
import { TaskStatus, Uuid } from '../protocol/common.js';
import { REASONS, SOURCES, TASK_STATES, type Reason, type Source, type TaskState } from '../protocol/constants.js';
import { boolean, bytes, id, literal, MAX_TEXT, millis, Mismatch, object, openName, optional, required, string, uuid, type Output, type Same } from '../protocol/light-check.js';

export const UpdateRecord = v.object({ kind: v.literal('UPDATE'), status: TaskStatus });
export type UpdateRecord = v.InferOutput<typeof UpdateRecord>;

export const AckRecord = v.object({ kind: v.literal('ACK'), uuid: Uuid });
export type AckRecord = v.InferOutput<typeof AckRecord>;

/** One record of a record log. (Not `Record`, which TypeScript already has.) */
export const LogRecord = v.variant('kind', [UpdateRecord, AckRecord]);
export type LogRecord = v.InferOutput<typeof LogRecord>;

// The same two records in the light check (protocol/light-check.ts): every record written and
// every record read back is checked, tens of thousands at a recovery, and valibot costs several
// microseconds each. The light check's output types are inferred from its shapes and must be
// identical to valibot's (the `Same` assertions below: drift does not compile);
// test/checkpoint/records.test.ts holds the two to the same verdicts.
const taskStatus = object({
  taskId: required(id),
  state: required(openName<TaskState>(TASK_STATES, 'TASK_')),
  uuid: required(uuid),
  timestamp: required(millis),
  source: optional(openName<Source>(SOURCES, 'SOURCE_')),
  reason: optional(openName<Reason>(REASONS, 'REASON_')),
  message: optional(string(0, MAX_TEXT)),
  data: optional(bytes),
  healthy: optional(boolean),
  agentId: optional(id),
  executorId: optional(id),
});
const CHECKS = {
  UPDATE: object({ kind: required(literal('UPDATE')), status: required(taskStatus) }),
  ACK: object({ kind: required(literal('ACK')), uuid: required(uuid) }),
};

// Compile-time only: each light check returns exactly its valibot schema's output type.
true satisfies Same<Output<typeof taskStatus>, TaskStatus>;
true satisfies Same<Output<typeof CHECKS.UPDATE>, UpdateRecord>;
true satisfies Same<Output<typeof CHECKS.ACK>, AckRecord>;
true satisfies Same<keyof typeof CHECKS, LogRecord['kind']>;

/**
 * Validates one record (read back, or about to be written): the light check, and when it fails,
 * valibot's, whose ProtocolError names the field and the value.
 */
export function checkRecord(value: unknown): LogRecord {
  const kind = (value as { kind?: unknown } | null | undefined)?.kind;
  const check = kind === 'UPDATE' || kind === 'ACK' ? CHECKS[kind] : undefined;
  if (check) {
    try {
      return check(value, '');
    } catch (error) {
      if (!(error instanceof Mismatch)) throw error;
    }
  }
  return validate(LogRecord, value, 'record');
}
