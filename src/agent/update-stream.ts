// One task's status update stream, as the status update manager keeps it: the updates not yet
// acknowledged by the framework, in order (the head is the one in flight), the uuids it has seen,
// its two backoff timers, and the bound on what it may hold recorded and unacknowledged. The
// functions here keep the stream's counts consistent; when to record, send or retry is the manager's.
import { isTerminal, type TaskStatus } from '../protocol/index.js';
import type { BackoffTimer } from './backoff-timer.js';
import { Fifo } from '../collections/fifo.js';
import type { StatusUpdate } from './update-store.js';

export const MAX_STREAM_UPDATES = 10_000;
export const MAX_STREAM_BYTES = 16 * 1024 * 1024;

/** How much of a stream may be recorded and not yet acknowledged (maxStreamUpdates, maxStreamBytes). */
export interface StreamBound {
  readonly maxUpdates: number;
  readonly maxBytes: number;
}

/** The uuid map's value of an update known to be durable. */
export const DURABLE: Promise<void> = Promise.resolve();

/** An update's size, roughly (a status is ~200 bytes of msgpack besides its message and data). */
export function approximateBytes(status: TaskStatus): number {
  return 200 + (status.message?.length ?? 0) + (status.data?.byteLength ?? 0);
}

export interface Entry {
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

export interface Stream {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly queue: Fifo<Entry>;
  /** The uuids seen on this stream (those in flight, and a window of acknowledged ones) → settles when durable. */
  readonly uuids: Map<string, Promise<void>>;
  /** A terminal update has been accepted: later (non-duplicate) updates are ignored. */
  terminated: boolean;
  /** The head's acknowledgement is being recorded: the next update waits for it. */
  acking: boolean;
  /** Resends the head until the framework acknowledges it. */
  readonly resend: BackoffTimer;
  /** An UPDATE record of this stream was refused by the disk: later ones wait for its retry (order). */
  stalled: boolean;
  /** Tries the refused records again. */
  readonly diskRetry: BackoffTimer;
  /** ACKs since the uuid window was last trimmed (uuid-window.ts UUID_TRIM_EVERY). */
  untrimmedAcks: number;
  /** Entries admitted (a prefix of `queue`), and their bytes. */
  admitted: number;
  admittedBytes: number;
}

export function newStream(frameworkId: string, taskId: string, resend: BackoffTimer, diskRetry: BackoffTimer): Stream {
  return {
    frameworkId,
    taskId,
    queue: new Fifo(),
    uuids: new Map(),
    terminated: false,
    acking: false,
    resend,
    stalled: false,
    diskRetry,
    untrimmedAcks: 0,
    admitted: 0,
    admittedBytes: 0,
  };
}

export function streamKey(stream: Pick<Stream, 'frameworkId' | 'taskId'>): string {
  return `${stream.frameworkId}/${stream.taskId}`;
}

/** Admits the next entry not admitted yet, if the stream is under its bound (the first always fits its bytes). */
export function admitNext(stream: Stream, bound: StreamBound): Entry | undefined {
  if (stream.admitted >= stream.queue.length) return undefined;
  const entry = stream.queue.at(stream.admitted)!;
  if (stream.admitted >= bound.maxUpdates) return undefined;
  if (stream.admitted > 0 && stream.admittedBytes + entry.bytes > bound.maxBytes) return undefined;
  entry.admitted = true;
  stream.admitted += 1;
  stream.admittedBytes += entry.bytes;
  return entry;
}

/** Counts an entry (acknowledged or dropped) against the bound no more. */
export function unadmit(stream: Stream, entry: Entry): void {
  if (!entry.admitted) return;
  entry.admitted = false;
  stream.admitted -= 1;
  stream.admittedBytes -= entry.bytes;
}

/** Takes an entry out of the stream as if it had never come: its uuid is forgotten, and the stream ends only if a terminal update is left. */
export function removeEntry(stream: Stream, entry: Entry): void {
  stream.queue.remove(entry);
  unadmit(stream, entry);
  stream.uuids.delete(entry.update.status.uuid);
  stream.terminated = stream.queue.some((e) => isTerminal(e.update.status.state));
}
