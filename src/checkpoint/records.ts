// What a record log holds (DESIGN §5): the status updates of a task stream and the
// acknowledgements they received. The same two records serve the agent's `task.updates` and the
// executor's `outbox.log`; both are validated when read back, since disk content is untrusted.
import * as v from 'valibot';
import { TaskStatus, Uuid } from '../protocol/common.js';

export const UpdateRecord = v.object({ kind: v.literal('UPDATE'), status: TaskStatus });
export type UpdateRecord = v.InferOutput<typeof UpdateRecord>;

export const AckRecord = v.object({ kind: v.literal('ACK'), uuid: Uuid });
export type AckRecord = v.InferOutput<typeof AckRecord>;

/** One record of a record log. (Not `Record`, which TypeScript already has.) */
export const LogRecord = v.variant('kind', [UpdateRecord, AckRecord]);
export type LogRecord = v.InferOutput<typeof LogRecord>;
