// Reliable delivery of task status updates to the master (DESIGN §2, §7.6; Mesos's
// TaskStatusUpdateManager). Per task stream: every update is recorded before the executor gets its
// ACKNOWLEDGED, forwarded in order with one in flight, resent with exponential backoff until the
// master relays the framework's acknowledgement, then the next one goes. Recording goes through an
// UpdateStore in batches gathered over one turn of the event loop, so that a durable store (the
// recovery issue) can group-commit its fsyncs; the in-memory store here just keeps the records.
// A record the disk refused (ENOSPC, EIO: a DiskError) is not lost and not acknowledged: its stream
// stalls, and its records are tried again, in order, on a backoff of their own; a framework's ACK
// that could not be recorded leaves its update in flight, resent on its usual backoff.
import { DISK_RETRY_MAX_MS, DISK_RETRY_MIN_MS } from '../checkpoint/disk-health.js';
import { IllegalStateError, isTerminal, LifelineError, type TaskStatus } from '../protocol/index.js';
import { silentLogger, type Logger } from '../log.js';
import { forgetOldUuids } from './uuid-window.js';

/** A status as it leaves the node: the agent has filled in its own ID and the executor's. */
export type ForwardedStatus = TaskStatus & { agentId: string; executorId: string };
/** Where a recovered stream's updates come from: they leave the node stamped with it. */
export interface StatusOrigin {
  agentId: string;
  executorId: string;
}

export interface StatusUpdate {
  readonly frameworkId: string;
  readonly status: ForwardedStatus;
}

/** What a store records: an update, or the master's acknowledgement of one. */
export type UpdateRecord =
  | { readonly kind: 'UPDATE'; readonly frameworkId: string; readonly status: ForwardedStatus }
  | { readonly kind: 'ACK'; readonly frameworkId: string; readonly taskId: string; readonly uuid: string };

/**
 * Where records go before anything is acknowledged. `append` resolves once they are durable; it
 * may instead resolve with one entry per record: undefined (durable) or that record's error, so
 * that a failing file refuses only its own records. An error with code ERR_DISK is retried.
 */
export interface UpdateStore {
  append(records: readonly UpdateRecord[]): Promise<void | readonly unknown[]>;
}

/** The skeleton's store: records kept in memory (lost with the agent). */
export class MemoryUpdateStore implements UpdateStore {
  readonly records: UpdateRecord[] = [];
  /** How many `append` calls there were (one per batch). */
  batches = 0;

  async append(records: readonly UpdateRecord[]): Promise<void> {
    this.batches++;
    this.records.push(...records);
  }
}

export type UpdateOutcome = 'recorded' | 'duplicate' | 'ignored';

export interface UpdateReceipt {
  readonly outcome: UpdateOutcome;
  /** Settles when the update (or, for a duplicate, its first copy) is durably recorded. */
  readonly recorded: Promise<void>;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

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

export const MAX_STREAM_UPDATES = 10_000;
export const MAX_STREAM_BYTES = 16 * 1024 * 1024;

/** An update's size, roughly (a status is ~200 bytes of msgpack besides its message and data). */
function approximateBytes(status: TaskStatus): number {
  return 200 + (status.message?.length ?? 0) + (status.data?.byteLength ?? 0);
}

interface Entry {
  readonly update: StatusUpdate;
  durable: boolean;
  attempts: number;
  /** Its UPDATE record is with the store now. */
  recording?: boolean;
  /** Counted against its stream's bound (recorded, being recorded, or waiting for a disk retry). */
  admitted?: boolean;
  readonly bytes: number;
  /** Settle the receipt's `recorded` (absent for restored entries, durable already). */
  resolve?(): void;
  reject?(error: unknown): void;
}

interface Stream {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly queue: Entry[];
  /** The uuids seen on this stream (those in flight, and a window of acknowledged ones) → settles when durable. */
  readonly uuids: Map<string, Promise<void>>;
  /** A terminal update has been accepted: later (non-duplicate) updates are ignored. */
  terminated: boolean;
  /** The head's acknowledgement is being recorded: the next update waits for it. */
  acking: boolean;
  timer: unknown;
  intervalMs: number;
  /** An UPDATE record of this stream was refused by the disk: later ones wait for its retry (order). */
  stalled: boolean;
  diskTimer: unknown;
  diskDelayMs: number;
  /** Entries admitted (a prefix of `queue`), and their bytes. */
  admitted: number;
  admittedBytes: number;
}

interface Pending {
  readonly record: UpdateRecord;
  readonly stream?: Stream;
  resolve(): void;
  reject(error: unknown): void;
}

const DURABLE: Promise<void> = Promise.resolve();

/** A record that can be tried again: the disk refused it (checkpoint/disk-health.ts DiskError). */
function isDiskError(error: unknown): boolean {
  return error instanceof LifelineError && error.code === 'ERR_DISK';
}

/** What a stalled stream's later records get in its place: they wait for the stream's retry. */
const WAITING = new LifelineError('ERR_DISK', 'waiting for the retry of an earlier record of its stream');

export class StatusUpdateManager {
  readonly #forward: StatusUpdateManagerOptions['forward'];
  readonly #store: UpdateStore;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #onAcknowledged: StatusUpdateManagerOptions['onAcknowledged'];
  readonly #logger: Logger;
  readonly #timers: Timers;
  readonly #diskMinMs: number;
  readonly #diskMaxMs: number;
  readonly #maxStreamUpdates: number;
  readonly #maxStreamBytes: number;
  readonly #streams = new Map<string, Stream>();
  #batch: Pending[] = [];
  #flushScheduled = false;
  #flushing = false;
  #drainWaiters: Array<() => void> = [];
  #closed = false;

  constructor(options: StatusUpdateManagerOptions) {
    const { retryIntervalMinMs: min, retryIntervalMaxMs: max } = options;
    if (typeof options.forward !== 'function') throw new TypeError(`option forward must be a function, got ${typeof options.forward}`);
    if (!Number.isFinite(min) || min <= 0) throw new TypeError(`option retryIntervalMinMs must be a positive number, got ${min}`);
    if (!Number.isFinite(max) || max < min) throw new TypeError(`option retryIntervalMaxMs must be a number ≥ retryIntervalMinMs (${min}), got ${max}`);
    this.#forward = options.forward;
    this.#store = options.store ?? new MemoryUpdateStore();
    this.#minMs = min;
    this.#maxMs = max;
    this.#onAcknowledged = options.onAcknowledged;
    this.#logger = options.logger ?? silentLogger;
    this.#timers = options.timers ?? REAL_TIMERS;
    this.#diskMinMs = options.diskRetryMinMs ?? DISK_RETRY_MIN_MS;
    this.#diskMaxMs = options.diskRetryMaxMs ?? DISK_RETRY_MAX_MS;
    if (!Number.isFinite(this.#diskMinMs) || this.#diskMinMs <= 0) throw new TypeError(`option diskRetryMinMs must be a positive number, got ${this.#diskMinMs}`);
    if (!Number.isFinite(this.#diskMaxMs) || this.#diskMaxMs < this.#diskMinMs) throw new TypeError(`option diskRetryMaxMs must be a number ≥ diskRetryMinMs (${this.#diskMinMs}), got ${this.#diskMaxMs}`);
    this.#maxStreamUpdates = options.maxStreamUpdates ?? MAX_STREAM_UPDATES;
    this.#maxStreamBytes = options.maxStreamBytes ?? MAX_STREAM_BYTES;
    if (!Number.isSafeInteger(this.#maxStreamUpdates) || this.#maxStreamUpdates < 1) throw new TypeError(`option maxStreamUpdates must be a positive integer, got ${this.#maxStreamUpdates}`);
    if (!Number.isSafeInteger(this.#maxStreamBytes) || this.#maxStreamBytes < 1) throw new TypeError(`option maxStreamBytes must be a positive integer, got ${this.#maxStreamBytes}`);
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
    while (stream.admitted < stream.queue.length) {
      const entry = stream.queue[stream.admitted]!;
      if (stream.admitted >= this.#maxStreamUpdates) return;
      if (stream.admitted > 0 && stream.admittedBytes + entry.bytes > this.#maxStreamBytes) return;
      entry.admitted = true;
      stream.admitted += 1;
      stream.admittedBytes += entry.bytes;
      this.#recordEntry(stream, entry);
    }
  }

  #unadmit(stream: Stream, entry: Entry): void {
    if (!entry.admitted) return;
    entry.admitted = false;
    stream.admitted -= 1;
    stream.admittedBytes -= entry.bytes;
  }

  /** Hands an entry's UPDATE record to the store; the disk refusing it stalls the stream until its retry. */
  #recordEntry(stream: Stream, entry: Entry): void {
    const { frameworkId, status } = entry.update;
    entry.recording = true;
    this.#record({ kind: 'UPDATE', frameworkId, status }, stream).then(
      () => {
        entry.recording = false;
        entry.durable = true;
        stream.uuids.set(status.uuid, DURABLE);
        stream.diskDelayMs = this.#diskMinMs;
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
    const index = stream.queue.indexOf(entry);
    if (index !== -1) stream.queue.splice(index, 1);
    this.#unadmit(stream, entry);
    stream.uuids.delete(entry.update.status.uuid);
    stream.terminated = stream.queue.some((e) => isTerminal(e.update.status.state));
    entry.reject?.(error);
  }

  #scheduleDiskRetry(stream: Stream): void {
    stream.stalled = true;
    if (stream.diskTimer !== undefined || this.#closed) return;
    const delay = stream.diskDelayMs;
    stream.diskDelayMs = Math.min(delay * 2, this.#diskMaxMs);
    stream.diskTimer = this.#timers.setTimeout(() => {
      stream.diskTimer = undefined;
      this.#retryRecords(stream);
    }, delay);
  }

  /** The stream's unrecorded updates go to the store again, in order (none may be with it still). */
  #retryRecords(stream: Stream): void {
    if (this.#closed || this.#streams.get(streamKey(stream)) !== stream) return;
    if (stream.queue.some((entry) => entry.recording)) {
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
    const head = stream?.queue[0];
    if (!stream || !head || !head.durable || stream.acking || head.update.status.uuid !== uuid) {
      this.#logger.debug({ frameworkId, taskId, uuid, head: head?.update.status.uuid }, 'acknowledgement does not match the update in flight: ignored');
      return false;
    }
    this.#clearTimer(stream);
    stream.acking = true;
    try {
      await this.#record({ kind: 'ACK', frameworkId, taskId, uuid });
    } catch (error) {
      // Not recorded: the update stays in flight and goes again on its backoff, not at once (a
      // full disk must not turn every acknowledgement into an immediate resend).
      stream.acking = false;
      if (!this.#closed && stream.queue[0] === head) this.#armResend(stream, head);
      throw error;
    }
    stream.acking = false;
    stream.queue.shift();
    this.#unadmit(stream, head);
    forgetOldUuids(stream.uuids, stream.queue[0]?.update.status.uuid);
    stream.intervalMs = this.#minMs;
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
    forgetOldUuids(stream.uuids, stream.queue[0]?.update.status.uuid);
  }

  /** How many uuids the task's stream remembers (bounded by UUID_WINDOW plus those in flight). */
  rememberedUuids(frameworkId: string, taskId: string): number {
    return this.#stream(frameworkId, taskId, false)?.uuids.size ?? 0;
  }

  /** Resolves once every record handed to the store so far has been appended (or has failed). */
  async idle(): Promise<void> {
    while (this.#flushing || this.#flushScheduled || this.#batch.length > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** After (re-)registration: every head update goes again at once, with a fresh backoff. */
  resume(): void {
    for (const stream of this.#streams.values()) {
      const head = stream.queue[0];
      if (!head || !head.durable || stream.acking) continue;
      this.#clearTimer(stream);
      stream.intervalMs = this.#minMs;
      this.#send(stream, head);
    }
  }

  /** The updates of a task not yet acknowledged by the framework, oldest (in flight) first. */
  pending(frameworkId: string, taskId: string): readonly ForwardedStatus[] {
    return this.#stream(frameworkId, taskId, false)?.queue.map((entry) => entry.update.status) ?? [];
  }

  /** How many updates wait for an acknowledgement (of one framework, or in all). */
  pendingCount(frameworkId?: string): number {
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
      this.#clearTimer(stream);
      this.#streams.delete(key);
      this.#dropUnrecorded(stream, new IllegalStateError(`the status update stream of task ${stream.taskId} was forgotten before its update was recorded`));
    }
    this.#checkDrained();
  }

  /** Stops every resend timer; later updates are refused. */
  close(): void {
    this.#closed = true;
    for (const stream of this.#streams.values()) {
      this.#clearTimer(stream);
      this.#dropUnrecorded(stream, new IllegalStateError('the status update manager closed before the update was recorded'));
    }
  }

  /** Entries waiting for a disk retry are refused (those with the store are, when it answers). */
  #dropUnrecorded(stream: Stream, error: Error): void {
    if (stream.diskTimer !== undefined) this.#timers.clearTimeout(stream.diskTimer);
    stream.diskTimer = undefined;
    for (const entry of [...stream.queue]) if (!entry.durable && !entry.recording) this.#drop(stream, entry, error);
  }

  #stream(frameworkId: string, taskId: string, create: boolean): Stream | undefined {
    const key = `${frameworkId}/${taskId}`;
    let stream = this.#streams.get(key);
    if (!stream && create) {
      stream = {
        frameworkId,
        taskId,
        queue: [],
        uuids: new Map(),
        terminated: false,
        acking: false,
        timer: undefined,
        intervalMs: this.#minMs,
        stalled: false,
        diskTimer: undefined,
        diskDelayMs: this.#diskMinMs,
        admitted: 0,
        admittedBytes: 0,
      };
      this.#streams.set(key, stream);
    }
    return stream;
  }

  /** Sends the head if it is durable and not yet sent (a sent head is resent by its timer). */
  #sendHead(stream: Stream): void {
    const head = stream.queue[0];
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
    this.#clearTimer(stream);
    const delay = stream.intervalMs;
    stream.intervalMs = Math.min(stream.intervalMs * 2, this.#maxMs);
    stream.timer = this.#timers.setTimeout(() => {
      stream.timer = undefined;
      if (stream.queue[0] === entry && !stream.acking && !this.#closed) this.#send(stream, entry);
    }, delay);
  }

  #clearTimer(stream: Stream): void {
    if (stream.timer !== undefined) this.#timers.clearTimeout(stream.timer);
    stream.timer = undefined;
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || this.pendingCount() !== 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Adds a record to the batch of this turn of the event loop; resolves when the batch is durable. */
  #record(record: UpdateRecord, stream?: Stream): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ record, ...(stream ? { stream } : {}), resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#flushing) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** One append per batch, one batch at a time, so that records become durable in arrival order. */
  async #flush(): Promise<void> {
    const all = this.#batch;
    this.#batch = [];
    // The UPDATEs of a stream stalled since they were handed in wait for its retry, in order.
    const batch: Pending[] = [];
    for (const pending of all) {
      if (pending.stream?.stalled && pending.record.kind === 'UPDATE') pending.reject(WAITING);
      else batch.push(pending);
    }
    if (batch.length === 0) return;
    this.#flushing = true;
    try {
      const failures = await this.#store.append(batch.map((pending) => pending.record));
      batch.forEach((pending, index) => {
        const failure = failures?.[index];
        if (failure === undefined) pending.resolve();
        else this.#refused(pending, failure);
      });
    } catch (error) {
      for (const pending of batch) this.#refused(pending, error);
    } finally {
      this.#flushing = false;
      if (this.#batch.length > 0) this.#scheduleFlush();
    }
  }

  /** A record the store refused. Its stream stalls at once (before the next batch) when the disk refused an UPDATE. */
  #refused(pending: Pending, error: unknown): void {
    if (isDiskError(error)) {
      if (pending.stream && pending.record.kind === 'UPDATE') pending.stream.stalled = true;
      this.#logger.debug({ err: (error as Error).message, kind: pending.record.kind }, 'status update record refused by the disk: retried on a backoff');
    } else {
      this.#logger.error({ err: error }, 'could not record a status update');
    }
    pending.reject(error);
  }
}

function streamKey(stream: Pick<Stream, 'frameworkId' | 'taskId'>): string {
  return `${stream.frameworkId}/${stream.taskId}`;
}
