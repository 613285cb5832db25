// Compaction of a record log (issue 13 point 1): `task.updates` and `outbox.log` only grew, so a
// chatty task made recovery read (and one day refuse) its whole history. What recovery needs of a
// stream is what is not acknowledged yet, the latest acknowledged state, and the uuids recent
// enough to be resent (a lost ACKNOWLEDGED): the compacted log keeps the last `keepAcked`
// acknowledged updates with their ACKs, then every unacknowledged update, in order. It is written
// with writeFileAtomic (temp file, fsync, rename, fsync of the directory): a crash leaves the old
// log or the new one, never neither, and the temp name is one recovery removes as stray.
import { Fifo } from '../collections/fifo.js';
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
/** One update a KeptRecords holds. */
interface Slot {
  readonly uuid: string;
  readonly record: LogRecord;
  acked: boolean;
}

export class KeptRecords {
  readonly #keepAcked: number;
  /**
   * Every update held, in the order appended: the latest acknowledged ones (at least keepAcked,
   * trimmed to them past 2 × keepAcked) and the ones not acknowledged yet. ACKs nearly always come
   * in order, for the oldest update not acknowledged: that one is found here, at #ackedPrefix,
   * without a lookup by uuid. A Map lookup per ACK (and a delete and a set: the acknowledged were a
   * Map of their own) was an eighth of the agent's CPU in bench-updates at 100 executors, a cache
   * miss or more each (docs/benchmarks.md).
   */
  #order = new Fifo<Slot>();
  /** The same slots by uuid: an UPDATE's duplicate check, and an ACK out of order. */
  readonly #byUuid = new Map<string, Slot>();
  /** How many slots at the front of #order are acknowledged. */
  #ackedPrefix = 0;
  /** How many slots are acknowledged (in the prefix or not). */
  #acked = 0;

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
    if (this.#byUuid.has(uuid)) return;
    const slot: Slot = { uuid, record, acked: false };
    this.#byUuid.set(uuid, slot);
    this.#order.push(slot);
  }

  /** `uuid` was acknowledged. */
  ack(uuid: string): void {
    let slot = this.#order.at(this.#ackedPrefix);
    if (slot === undefined || slot.uuid !== uuid) {
      slot = this.#byUuid.get(uuid);
      if (!slot || slot.acked) return;
    }
    slot.acked = true;
    this.#acked += 1;
    while (this.#order.at(this.#ackedPrefix)?.acked) this.#ackedPrefix += 1;
    // Trimmed now and then, not on every ACK: once per keepAcked ACKs instead of a scan each.
    if (this.#acked > 2 * this.#keepAcked) this.#trim(this.#acked - this.#keepAcked);
  }

  /** Drops the `excess` oldest acknowledged updates (by the order appended). */
  #trim(excess: number): void {
    if (this.#ackedPrefix >= excess) {
      // In order: the oldest acknowledged are the front of the list.
      for (; excess > 0; excess--) this.#byUuid.delete(this.#order.shift()!.uuid);
      this.#ackedPrefix -= this.#acked - this.#keepAcked;
    } else {
      const order = new Fifo<Slot>();
      for (const slot of this.#order) {
        if (slot.acked && excess > 0) {
          excess -= 1;
          this.#byUuid.delete(slot.uuid);
        } else order.push(slot);
      }
      this.#order = order;
      this.#ackedPrefix = 0;
      while (this.#order.at(this.#ackedPrefix)?.acked) this.#ackedPrefix += 1;
    }
    this.#acked = this.#keepAcked;
  }

  /** The records of the compacted log, in order. */
  records(): LogRecord[] {
    const out: LogRecord[] = [];
    let skip = Math.max(0, this.#acked - this.#keepAcked);
    for (const { record, acked, uuid } of this.#order) {
      if (!acked) continue;
      if (skip > 0) {
        skip -= 1;
        continue;
      }
      out.push(record, { kind: 'ACK', uuid });
    }
    for (const { record, acked } of this.#order) if (!acked) out.push(record);
    return out;
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
