// Reliable delivery of task status updates to the master (DESIGN §2, §7.6; Mesos's
// TaskStatusUpdateManager). Per task stream: every update is recorded before the executor gets its
// ACKNOWLEDGED, forwarded in order with one in flight, resent with exponential backoff until the
// master relays the framework's acknowledgement, then the next one goes. Recording goes through an
// UpdateStore in batches gathered over one turn of the event loop, so that a durable store (the
// recovery issue) can group-commit its fsyncs; the in-memory store just keeps the records.
// A record the disk refused (ENOSPC, EIO: a DiskError) is not lost and not acknowledged: its stream
// stalls, and its records are tried again, in order, on a backoff of their own; a framework's ACK
// that could not be recorded leaves its update in flight, resent on its usual backoff.
// This module decides what happens when; the parts it drives live next to it: the records and
// stores (update-store.ts), the batches into the store (record-batcher.ts), a stream's data and
// bound (update-stream.ts), and the doubling timers of resends and disk retries (backoff-timer.ts).
import { DISK_RETRY_MAX_MS, DISK_RETRY_MIN_MS } from '../checkpoint/disk-health.js';
import { IllegalStateError, isTerminal, type TaskStatus } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { BackoffTimer, REAL_TIMERS, type Timers } from './backoff-timer.js';
import { isDiskError, RecordBatcher } from './record-batcher.js';
import { MemoryUpdateStore, type ForwardedStatus, type StatusOrigin, type StatusUpdate, type UpdateStore } from './update-store.js';
import {
  admitNext,
  approximateBytes,
  DURABLE,
  MAX_STREAM_BYTES,
  MAX_STREAM_UPDATES,
  newStream,
  removeEntry,
  streamKey,
  unadmit,
  type Entry,
  type Stream,
  type StreamBound,
} from './update-stream.js';
import { forgetOldUuids, UUID_TRIM_EVERY } from './uuid-window.js';

// Importers keep taking these from here.
export { MemoryUpdateStore, type ForwardedStatus, type StatusOrigin, type StatusUpdate, type UpdateRecord, type UpdateStore } from './update-store.js';
export { MAX_STREAM_BYTES, MAX_STREAM_UPDATES } from './update-stream.js';
export type { Timers } from './backoff-timer.js';

export type UpdateOutcome = 'recorded' | 'duplicate' | 'ignored';

export interface UpdateReceipt {
  readonly outcome: UpdateOutcome;
  /** Settles when the update (or, for a duplicate, its first copy) is durably recorded. */
  readonly recorded: Promise<void>;
}

export interface StatusUpdateManagerOptions {
  /**
   * Sends one update to the master. Returns false when there is no registered connection (the
   * update stays in flight and goes again on the next retry or on `resume()`).
   */
  forward(update: StatusUpdate, resend: boolean): boolean;
  /** Type: UpdateStore. Default: a MemoryUpdateStore. */
  store?: UpdateStore;
  /** First resend interval (--status_update_retry_interval_min). */
  retryIntervalMinMs: number;
  /** Largest resend interval (--status_update_retry_interval_max). */
  retryIntervalMaxMs: number;
  /** Called after the master's acknowledgement of an update has been recorded. */
  onAcknowledged?(update: StatusUpdate): void;
  logger?: Logger;
  /** For tests: where resend timers come from. */
  timers?: Timers;
  /** First wait before records the disk refused are tried again (doubling up to the max). */
  diskRetryMinMs?: number;
  diskRetryMaxMs?: number;
  /**
   * The most updates (and bytes of them, roughly) of one task stream recorded and not yet
   * acknowledged by the framework. Past it, further updates wait unrecorded — so unacknowledged to
   * their executor, whose own bounded backlog then makes `update()` wait — until the framework
   * acknowledges. Nothing is refused or dropped. Defaults: 10,000 and 16 MiB.
   */
  maxStreamUpdates?: number;
  maxStreamBytes?: number;
}

export class StatusUpdateManager {
  readonly #forward: StatusUpdateManagerOptions['forward'];
  readonly #batcher: RecordBatcher;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #onAcknowledged: StatusUpdateManagerOptions['onAcknowledged'];
  readonly #logger: Logger;
  readonly #timers: Timers;
  readonly #diskMinMs: number;
  readonly #diskMaxMs: number;
  readonly #bound: StreamBound;
  readonly #streams = new Map<string, Stream>();
  #drainWaiters: Array<() => void> = [];
  #closed = false;

  constructor(options: StatusUpdateManagerOptions) {
    const { retryIntervalMinMs: min, retryIntervalMaxMs: max } = options;
    if (typeof options.forward !== 'function') throw new TypeError(`option forward must be a function, got ${typeof options.forward}`);
    if (!Number.isFinite(min) || min <= 0) throw new TypeError(`option retryIntervalMinMs must be a positive number, got ${min}`);
    if (!Number.isFinite(max) || max < min) throw new TypeError(`option retryIntervalMaxMs must be a number ≥ retryIntervalMinMs (${min}), got ${max}`);
    this.#forward = options.forward;
    const store: UpdateStore = options.store ?? new MemoryUpdateStore();
    this.#minMs = min;
    this.#maxMs = max;
    this.#onAcknowledged = options.onAcknowledged;
    this.#logger = options.logger ?? silentLogger;
    this.#batcher = new RecordBatcher(store, this.#logger);
    this.#timers = options.timers ?? REAL_TIMERS;
    this.#diskMinMs = options.diskRetryMinMs ?? DISK_RETRY_MIN_MS;
    this.#diskMaxMs = options.diskRetryMaxMs ?? DISK_RETRY_MAX_MS;
    if (!Number.isFinite(this.#diskMinMs) || this.#diskMinMs <= 0) throw new TypeError(`option diskRetryMinMs must be a positive number, got ${this.#diskMinMs}`);
    if (!Number.isFinite(this.#diskMaxMs) || this.#diskMaxMs < this.#diskMinMs) throw new TypeError(`option diskRetryMaxMs must be a number ≥ diskRetryMinMs (${this.#diskMinMs}), got ${this.#diskMaxMs}`);
    const maxUpdates = options.maxStreamUpdates ?? MAX_STREAM_UPDATES;
    const maxBytes = options.maxStreamBytes ?? MAX_STREAM_BYTES;
    if (!Number.isSafeInteger(maxUpdates) || maxUpdates < 1) throw new TypeError(`option maxStreamUpdates must be a positive integer, got ${maxUpdates}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError(`option maxStreamBytes must be a positive integer, got ${maxBytes}`);
    this.#bound = { maxUpdates, maxBytes };
  }

  /**
   * Accepts an update for a task stream, in call order (the order of forwarding). Says at once
   * what it did with it — `recorded` (new: stored, then forwarded), `duplicate` (its uuid was seen
   * before: not stored or forwarded again) or `ignored` (the stream already ended with a terminal
   * update) — and `recorded` settles once the update (or its first copy) is durable: only then may
   * the executor be sent ACKNOWLEDGED.
   */
  update(frameworkId: string, status: ForwardedStatus): UpdateReceipt {
    if (this.#closed) {
      const recorded = Promise.reject(new IllegalStateError('cannot record a status update: the status update manager is closed'));
      recorded.catch(() => {});
      return { outcome: 'ignored', recorded };
    }
    const stream = this.#stream(frameworkId, status.taskId, true)!;
    const seen = stream.uuids.get(status.uuid);
    if (seen) return { outcome: 'duplicate', recorded: seen };
    if (stream.terminated) {
      this.#logger.warn({ frameworkId, taskId: status.taskId, state: status.state, uuid: status.uuid }, 'status update after a terminal one: ignored');
      return { outcome: 'ignored', recorded: DURABLE };
    }
    const entry: Entry = { update: { frameworkId, status }, durable: false, attempts: 0, bytes: approximateBytes(status) };
    const recorded = new Promise<void>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    // A caller that drops the receipt must not cause an unhandled rejection.
    recorded.catch(() => {});
    stream.queue.push(entry);
    if (isTerminal(status.state)) stream.terminated = true;
    stream.uuids.set(status.uuid, recorded);
    // A stalled stream records nothing new until its retry; a full one, until an acknowledgement.
    this.#admit(stream);
    return { outcome: 'recorded', recorded };
  }

  /** Records, in order, the stream's updates not admitted yet, while it is under its bound. */
  #admit(stream: Stream): void {
    if (stream.stalled || this.#closed) return;
    for (let entry = admitNext(stream, this.#bound); entry; entry = admitNext(stream, this.#bound)) this.#recordEntry(stream, entry);
  }

  /** Hands an entry's UPDATE record to the store; the disk refusing it stalls the stream until its retry. */
  #recordEntry(stream: Stream, entry: Entry): void {
    const { frameworkId, status } = entry.update;
    entry.recording = true;
    this.#batcher.record({ kind: 'UPDATE', frameworkId, status }, stream).then(
      () => {
        entry.recording = false;
        entry.durable = true;
        stream.uuids.set(status.uuid, DURABLE);
        stream.diskRetry.reset();
        entry.resolve?.();
        this.#sendHead(stream);
      },
      (error: unknown) => {
        entry.recording = false;
        if (isDiskError(error) && !this.#closed && this.#streams.get(streamKey(stream)) === stream) {
          this.#scheduleDiskRetry(stream);
          return;
        }
        this.#drop(stream, entry, error);
        this.#admit(stream);
      },
    );
  }

  /** Not recorded and not to be retried: forget it, so that the executor's resend is taken as new. */
  #drop(stream: Stream, entry: Entry, error: unknown): void {
    removeEntry(stream, entry);
    entry.reject?.(error);
  }

  #scheduleDiskRetry(stream: Stream): void {
    stream.stalled = true;
    if (stream.diskRetry.armed || this.#closed) return;
    stream.diskRetry.arm(() => this.#retryRecords(stream));
  }

  /** The stream's unrecorded updates go to the store again, in order (none may be with it still). */
  #retryRecords(stream: Stream): void {
    if (this.#closed || this.#streams.get(streamKey(stream)) !== stream) return;
    if (stream.queue.some((entry) => entry.recording === true)) {
      this.#scheduleDiskRetry(stream);
      return;
    }
    stream.stalled = false;
    for (const entry of stream.queue) if (entry.admitted && !entry.durable) this.#recordEntry(stream, entry);
    this.#admit(stream);
  }

  /**
   * The master relayed the framework's acknowledgement. Only the update in flight (the head) can be
   * acknowledged; anything else is stale and ignored. Resolves true when it matched.
   */
  async acknowledge(frameworkId: string, taskId: string, uuid: string): Promise<boolean> {
    const stream = this.#stream(frameworkId, taskId, false);
    const head = stream?.queue.at(0);
    if (!stream || !head || !head.durable || stream.acking || head.update.status.uuid !== uuid) {
      this.#logger.debug({ frameworkId, taskId, uuid, head: head?.update.status.uuid }, 'acknowledgement does not match the update in flight: ignored');
      return false;
    }
    stream.resend.clear();
    stream.acking = true;
    try {
      await this.#batcher.record({ kind: 'ACK', frameworkId, taskId, uuid });
    } catch (error) {
      // Not recorded: the update stays in flight and goes again on its backoff, not at once (a
      // full disk must not turn every acknowledgement into an immediate resend).
      stream.acking = false;
      if (!this.#closed && stream.queue.at(0) === head) this.#armResend(stream, head);
      throw error;
    }
    stream.acking = false;
    stream.queue.shift();
    unadmit(stream, head);
    if (++stream.untrimmedAcks >= UUID_TRIM_EVERY) {
      stream.untrimmedAcks = 0;
      forgetOldUuids(stream.uuids, stream.queue.at(0)?.update.status.uuid);
    }
    stream.resend.reset();
    this.#onAcknowledged?.(head.update);
    this.#admit(stream); // room for an update waiting on the stream's bound
    if (!this.#closed) this.#sendHead(stream);
    this.#checkDrained();
    return true;
  }

  /**
   * Recovery: rebuilds a task stream from its checkpoint. `updates` are the UPDATE records in order
   * (already durable), `acked` the uuids the framework acknowledged (ACK records). Every uuid counts
   * as seen (a replay of it is a duplicate); the unacknowledged ones wait in order, to be sent on
   * `resume()`. Throws if the stream already exists (restore before anything else touches it).
   */
  restore(frameworkId: string, taskId: string, updates: readonly TaskStatus[], acked: ReadonlySet<string>, origin: StatusOrigin): void {
    if (this.#stream(frameworkId, taskId, false)) throw new IllegalStateError(`cannot restore the status update stream of task ${taskId}: it already exists`);
    const stream = this.#stream(frameworkId, taskId, true)!;
    for (const recorded of updates) {
      if (stream.uuids.has(recorded.uuid)) continue;
      stream.uuids.set(recorded.uuid, DURABLE);
      if (isTerminal(recorded.state)) stream.terminated = true;
      if (acked.has(recorded.uuid)) continue;
      // Only what is still to be forwarded is copied (an acknowledged update is kept as its uuid).
      const status: ForwardedStatus = { ...recorded, source: recorded.source ?? 'SOURCE_EXECUTOR', agentId: origin.agentId, executorId: origin.executorId };
      // Restored entries count against the bound (a restored stream over it admits nothing new until acknowledged).
      stream.queue.push({ update: { frameworkId, status }, durable: true, attempts: 0, admitted: true, bytes: approximateBytes(status) });
      stream.admitted += 1;
      stream.admittedBytes += approximateBytes(status);
    }
    forgetOldUuids(stream.uuids, stream.queue.at(0)?.update.status.uuid);
  }

  /** How many uuids the task's stream remembers (bounded by UUID_WINDOW + UUID_TRIM_EVERY - 1 plus those in flight). */
  rememberedUuids(frameworkId: string, taskId: string): number {
    return this.#stream(frameworkId, taskId, false)?.uuids.size ?? 0;
  }

  /** Resolves once every record handed to the store so far has been appended (or has failed). */
  idle(): Promise<void> {
    return this.#batcher.idle();
  }

  /** After (re-)registration: every head update goes again at once, with a fresh backoff. */
  resume(): void {
    for (const stream of this.#streams.values()) {
      const head = stream.queue.at(0);
      if (!head || !head.durable || stream.acking) continue;
      stream.resend.clear();
      stream.resend.reset();
      this.#send(stream, head);
    }
  }

  /** The updates of a task not yet acknowledged by the framework, oldest (in flight) first. */
  pending(frameworkId: string, taskId: string): readonly ForwardedStatus[] {
    return this.#stream(frameworkId, taskId, false)?.queue.toArray().map((entry) => entry.update.status) ?? [];
  }

  /** How many updates wait for an acknowledgement (of one task, of one framework, or in all); one task's without a scan. */
  pendingCount(frameworkId?: string, taskId?: string): number {
    if (frameworkId !== undefined && taskId !== undefined) return this.#stream(frameworkId, taskId, false)?.queue.length ?? 0;
    let count = 0;
    for (const stream of this.#streams.values()) if (frameworkId === undefined || stream.frameworkId === frameworkId) count += stream.queue.length;
    return count;
  }

  /** Resolves once no update waits for an acknowledgement, or after `timeoutMs` (false then). */
  whenDrained(timeoutMs: number): Promise<boolean> {
    if (this.pendingCount() === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#drainWaiters.push(waiter);
    });
  }

  /** Drops the streams of a task, or of a whole framework (removed: nobody will acknowledge them). */
  forget(frameworkId: string, taskId?: string): void {
    for (const [key, stream] of this.#streams) {
      if (stream.frameworkId !== frameworkId || (taskId !== undefined && stream.taskId !== taskId)) continue;
      stream.resend.clear();
      this.#streams.delete(key);
      this.#dropUnrecorded(stream, new IllegalStateError(`the status update stream of task ${stream.taskId} was forgotten before its update was recorded`));
    }
    this.#checkDrained();
  }

  /** Stops every resend timer; later updates are refused. */
  close(): void {
    this.#closed = true;
    for (const stream of this.#streams.values()) {
      stream.resend.clear();
      this.#dropUnrecorded(stream, new IllegalStateError('the status update manager closed before the update was recorded'));
    }
  }

  /** Entries waiting for a disk retry are refused (those with the store are, when it answers). */
  #dropUnrecorded(stream: Stream, error: Error): void {
    stream.diskRetry.clear();
    for (const entry of stream.queue.toArray()) if (!entry.durable && !entry.recording) this.#drop(stream, entry, error);
  }

  #stream(frameworkId: string, taskId: string, create: boolean): Stream | undefined {
    const key = streamKey({ frameworkId, taskId });
    let stream = this.#streams.get(key);
    if (!stream && create) {
      const resend = new BackoffTimer(this.#timers, this.#minMs, this.#maxMs);
      const diskRetry = new BackoffTimer(this.#timers, this.#diskMinMs, this.#diskMaxMs);
      stream = newStream(frameworkId, taskId, resend, diskRetry);
      this.#streams.set(key, stream);
    }
    return stream;
  }

  /** Sends the head if it is durable and not yet sent (a sent head is resent by its timer). */
  #sendHead(stream: Stream): void {
    const head = stream.queue.at(0);
    if (!head || !head.durable || head.attempts > 0 || stream.acking || this.#closed) return;
    this.#send(stream, head);
  }

  #send(stream: Stream, entry: Entry): void {
    const resend = entry.attempts > 0;
    entry.attempts++;
    const delivered = this.#forward(entry.update, resend);
    this.#logger.debug({ taskId: stream.taskId, uuid: entry.update.status.uuid, state: entry.update.status.state, attempt: entry.attempts, delivered }, 'status update forwarded');
    this.#armResend(stream, entry);
  }

  /** The entry goes again after the stream's current interval (which then doubles). */
  #armResend(stream: Stream, entry: Entry): void {
    stream.resend.arm(() => {
      if (stream.queue.at(0) === entry && !stream.acking && !this.#closed) this.#send(stream, entry);
    });
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || this.pendingCount() !== 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
