// The formats of the checkpoint's small files (DESIGN §5), in one place, so that the writer
// (Checkpointer) and the reader (recoverState) cannot drift apart: each file has a schema that the
// writer validates against before writing and the reader validates against after reading.
import * as v from 'valibot';
import { AgentInfo, ExecutorInfo, FrameworkInfo, Id, TaskInfo, validate } from '../protocol/index.js';
import { ProcessIdentity } from '../process/index.js';

/** `agent.json`: AgentInfo with its id. */
export const AgentFile = v.object({ ...AgentInfo.entries, id: Id });
export type AgentFile = v.InferOutput<typeof AgentFile>;

/** `framework.json`: FrameworkInfo with its id. */
export const FrameworkFile = v.object({ ...FrameworkInfo.entries, id: Id });
export type FrameworkFile = v.InferOutput<typeof FrameworkFile>;

/** `executor.json`: ExecutorInfo plus whether the agent generated it for a command task. */
export const ExecutorFile = v.object({ ...ExecutorInfo.entries, generated: v.optional(v.boolean(), false) });
export type ExecutorFile = v.InferOutput<typeof ExecutorFile>;

// JSON has no bytes: a TaskInfo's `data` is stored as base64 text and read back as a Buffer.
const Base64Bytes = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
  v.check((text) => text.length % 4 === 0, 'must be base64 (length a multiple of 4)'),
  v.transform((text): Uint8Array => Buffer.from(text, 'base64')),
);

/** `task.json`: the TaskInfo as launched (`data` as base64). */
export const TaskFile = v.object({ ...TaskInfo.entries, data: v.optional(Base64Bytes) });

/** `forked.json`: the executor process as the agent spawned it. */
export const ForkedFile = ProcessIdentity;

/** `token.sha256`: a SHA-256 as 64 lowercase hex digits (a trailing newline is tolerated). */
export const TOKEN_HASH_PATTERN = /^[0-9a-f]{64}$/;

/** `meta/boot_id`: the host's boot id (a UUID; anything ID-like up to 128 characters is accepted). */
export const BOOT_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** The JSON value written to `task.json` for `info` (validated first; `data` as base64). */
export function taskFileValue(info: TaskInfo): Record<string, unknown> {
  const checked = validate(TaskInfo, info, 'task.json');
  const { data, ...rest } = checked;
  return data === undefined ? rest : { ...rest, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
}

/** The TaskInfo that `task.json` holds, from its validated file value. */
export function taskInfoFromFile(file: v.InferOutput<typeof TaskFile>): TaskInfo {
  return file as unknown as TaskInfo;
}
