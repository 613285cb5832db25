// Compaction of a record log (issue 13 point 1): `task.updates` and `outbox.log` only grew, so a
// chatty task made recovery read (and one day refuse) its whole history. What recovery needs of a
// stream is what is not acknowledged yet, the latest acknowledged state, and the uuids recent
// enough to be resent (a lost ACKNOWLEDGED): the compacted log keeps the last `keepAcked`
// acknowledged updates with their ACKs, then every unacknowledged update, in order. It is written
// with writeFileAtomic (temp file, fsync, rename, fsync of the directory): a crash leaves the old
// log or the new one, never neither, and the temp name is one recovery removes as stray.
import { writeFileAtomic } from './atomic-write.js';
import { encodeRecords } from './record-frame.js';
import { readRecordLog } from './record-log-read.js';
import type { LogRecord } from './records.js';

/** A log is compacted once it is this big (default). */
export const COMPACT_AT_BYTES = 1024 * 1024;
/** Acknowledged updates kept (with their ACKs) after a compaction: the latest state, and a dedup window. */
export const KEEP_ACKED = 64;

/** The records a compacted log keeps, in order (see the module header). */
export function compactRecords(records: readonly LogRecord[], keepAcked = KEEP_ACKED): LogRecord[] {
  const acked = new Set<string>();
  for (const record of records) if (record.kind === 'ACK') acked.add(record.uuid);
  const seen = new Set<string>();
  const ackedUpdates: LogRecord[] = [];
  const unacked: LogRecord[] = [];
  for (const record of records) {
    if (record.kind !== 'UPDATE' || seen.has(record.status.uuid)) continue;
    seen.add(record.status.uuid);
    (acked.has(record.status.uuid) ? ackedUpdates : unacked).push(record);
  }
  const kept: LogRecord[] = [];
  for (const record of ackedUpdates.slice(-keepAcked)) {
    if (record.kind !== 'UPDATE') continue;
    kept.push(record, { kind: 'ACK', uuid: record.status.uuid });
  }
  kept.push(...unacked);
  return kept;
}

export interface CompactionResult {
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Rewrites the record log at `file` compacted. The caller guarantees nobody appends to it
 * meanwhile (its writer is closed). A torn tail is dropped (the reader drops it too); damage
 * before the end throws (CheckpointCorruptError) and leaves the file as it is.
 */
export async function compactLog(file: string, keepAcked = KEEP_ACKED): Promise<CompactionResult> {
  const contents = await readRecordLog(file, { strict: true }); // damage is not ours to hide: no compaction then
  const bytes = encodeRecords(compactRecords(contents.records, keepAcked));
  await writeFileAtomic(file, bytes);
  return { bytesBefore: contents.size, bytesAfter: bytes.length };
}
