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
  for (const record of ackedUpdates.slice(Math.max(0, ackedUpdates.length - keepAcked))) { // not slice(-keepAcked): -0 is everything
    if (record.kind !== 'UPDATE') continue;
    kept.push(record, { kind: 'ACK', uuid: record.status.uuid });
  }
  kept.push(...unacked);
  return kept;
}

/**
 * What a compaction of a log would keep, tracked as its one writer appends (the executor's outbox,
 * the agent's open task.updates): compacting then writes these records instead of reading the whole
 * log back. Reading, checking and decoding a MiB of records in every executor, in step, was what
 * stalled bench-updates' rounds. The rule is compactRecords' applied to every record since it was
 * seeded: the last `keepAcked` acknowledged updates (in the order they were appended) with their
 * ACKs, then every unacknowledged update, in order; an ACK of an uuid it does not hold, or a second
 * UPDATE of one it holds, changes nothing. Across several compactions it keeps the order updates were
 * appended in, where compactRecords of a compacted file would see the acknowledged ones first.
 * (It forgets acknowledged uuids older than the latest keepAcked, at the latest once it holds twice
 * as many, so an UPDATE of such a uuid would count as new; the outbox writes an update again only
 * while it is unacknowledged, after a failed write, and the agent appends none whose uuid its
 * stream still remembers, the last 10,000 acknowledged.)
 */
export class KeptRecords {
  readonly #keepAcked: number;
  #seq = 0;
  /** Updates not acknowledged yet, in the order appended. */
  readonly #unacked = new Map<string, { record: LogRecord; seq: number }>();
  /** The latest acknowledged updates, by uuid: at least the keepAcked latest, trimmed to them past 2 × keepAcked. */
  readonly #acked = new Map<string, { record: LogRecord; seq: number }>();
  /**
   * #acked's insertion order is its seq order: true while every ACK came for an update newer than
   * the ones acknowledged before it (a stream is acknowledged in order, so nearly always). Then
   * trimming drops the first entries and nothing is sorted.
   */
  #ackedInOrder = true;
  #lastAckedSeq = -1;

  constructor(keepAcked = KEEP_ACKED) {
    this.#keepAcked = keepAcked;
  }

  /** Starts from a log's existing records (what compactRecords would keep of them). */
  static of(records: readonly LogRecord[], keepAcked = KEEP_ACKED): KeptRecords {
    const kept = new KeptRecords(keepAcked);
    for (const record of compactRecords(records, keepAcked)) {
      if (record.kind === 'UPDATE') kept.update(record);
      else kept.ack(record.uuid);
    }
    return kept;
  }

  /** An UPDATE record appended (durably) to the log. */
  update(record: LogRecord & { kind: 'UPDATE' }): void {
    const uuid = record.status.uuid;
    if (this.#unacked.has(uuid) || this.#acked.has(uuid)) return;
    this.#unacked.set(uuid, { record, seq: this.#seq++ });
  }

  /** `uuid` was acknowledged. */
  ack(uuid: string): void {
    const entry = this.#unacked.get(uuid);
    if (!entry) return;
    this.#unacked.delete(uuid);
    this.#acked.set(uuid, entry);
    if (entry.seq < this.#lastAckedSeq) this.#ackedInOrder = false;
    else this.#lastAckedSeq = entry.seq;
    // Trimmed now and then, not on every ACK: once per keepAcked ACKs instead of a scan each.
    if (this.#acked.size <= 2 * this.#keepAcked) return;
    let excess = this.#acked.size - this.#keepAcked;
    if (this.#ackedInOrder) {
      for (const key of this.#acked.keys()) {
        if (excess-- === 0) break;
        this.#acked.delete(key);
      }
      return;
    }
    // Out of order: the latest keepAcked are put back in seq order, in order again until the next
    // ACK out of order.
    const byAge = this.#byAge();
    this.#acked.clear();
    for (const [key, value] of byAge.slice(excess)) this.#acked.set(key, value);
    this.#ackedInOrder = true;
    this.#lastAckedSeq = byAge[byAge.length - 1]![1].seq;
  }

  /** The records of the compacted log, in order. */
  records(): LogRecord[] {
    const out: LogRecord[] = [];
    for (const [, { record }] of this.#byAge().slice(Math.max(0, this.#acked.size - this.#keepAcked))) {
      out.push(record, { kind: 'ACK', uuid: (record as LogRecord & { kind: 'UPDATE' }).status.uuid });
    }
    for (const { record } of this.#unacked.values()) out.push(record);
    return out;
  }

  /** Acknowledged updates by the order they were appended (ACKs may come out of order: by seq, not by arrival). */
  #byAge(): Array<[string, { record: LogRecord; seq: number }]> {
    const entries = [...this.#acked];
    return this.#ackedInOrder ? entries : entries.sort((a, b) => a[1].seq - b[1].seq);
  }
}

export interface CompactionResult {
  bytesBefore: number;
  bytesAfter: number;
}

export interface LogCompaction extends CompactionResult {
  /** What the compacted log holds, to go on tracking its appends from. */
  kept: KeptRecords;
}

/**
 * Rewrites the record log at `file` compacted. The caller guarantees nobody appends to it
 * meanwhile (its writer is closed). A torn tail is dropped (the reader drops it too); damage
 * before the end throws (CheckpointCorruptError) and leaves the file as it is.
 */
export async function compactLog(file: string, keepAcked = KEEP_ACKED): Promise<LogCompaction> {
  const contents = await readRecordLog(file, { strict: true }); // damage is not ours to hide: no compaction then
  const kept = KeptRecords.of(contents.records, keepAcked);
  const { bytesAfter } = await compactLogFrom(file, contents.size, kept);
  return { bytesBefore: contents.size, bytesAfter, kept };
}

/**
 * Rewrites the log at `file` (`bytesBefore` long) as `kept` says, without reading it: for its one
 * writer, whose KeptRecords saw every record. The same atomic replacement as compactLog.
 */
export async function compactLogFrom(file: string, bytesBefore: number, kept: KeptRecords): Promise<CompactionResult> {
  const bytes = encodeRecords(kept.records());
  await writeFileAtomic(file, bytes);
  return { bytesBefore, bytesAfter: bytes.length };
}
