// A task's task.updates as recovery reads it: the intact records of that task, deduplicated by
// uuid, and how far the file is to be cut back (a torn tail, or damage, or a foreign record).
import { show, type TaskStatus } from '../protocol/index.js';
import { parseRecordLog, type RecordLogCorruption } from './record-log-read.js';
import type { LogRecord } from './records.js';

export interface TaskLog {
  /** UPDATE statuses in log order, each uuid once. */
  updates: TaskStatus[];
  /** ACKed uuids in log order, each once. */
  acks: string[];
  /** Bytes of the records kept: the length to truncate the file to when it is repaired. */
  validBytes: number;
  /** Damage before the end (or an UPDATE of another task): the records from its offset on are dropped. */
  corruption?: RecordLogCorruption;
  /** The file ends with an incomplete or damaged last record (when there is no corruption). */
  tornTail: boolean;
}

/** Reads the bytes of task `taskId`'s task.updates (`file` is for messages only); never throws for damage. */
export function readTaskLog(bytes: Uint8Array, file: string, taskId: string): TaskLog {
  const contents = parseRecordLog(bytes, { file, strict: false });
  let { records, validBytes } = contents;
  let corruption = contents.corruption;
  // Intact records of another task are damage too (the writer refuses them).
  const foreign = records.findIndex((record) => record.kind === 'UPDATE' && record.status.taskId !== taskId);
  if (foreign >= 0) {
    const offset = contents.offsets[foreign]!;
    const status = (records[foreign] as Extract<LogRecord, { kind: 'UPDATE' }>).status;
    corruption = { offset, message: `an UPDATE record of task ${show(status.taskId)} in the log of task ${show(taskId)}` };
    records = records.slice(0, foreign);
    validBytes = offset;
  }
  const seenUpdates = new Set<string>();
  const seenAcks = new Set<string>();
  const updates: TaskStatus[] = [];
  const acks: string[] = [];
  for (const record of records) {
    if (record.kind === 'UPDATE') {
      if (seenUpdates.has(record.status.uuid)) continue;
      seenUpdates.add(record.status.uuid);
      updates.push(record.status);
    } else if (!seenAcks.has(record.uuid)) {
      seenAcks.add(record.uuid);
      acks.push(record.uuid);
    }
  }
  const log: TaskLog = { updates, acks, validBytes, tornTail: contents.tornTail };
  if (corruption) log.corruption = corruption;
  return log;
}
