// The ExecutorDriver's update path: an update() goes into the backlog, then durably into the outbox,
// is sent once durable (in the order updates were made, never ahead of one that is not durable
// yet), and its promise resolves when the agent acknowledges it. A full backlog (backlog.ts) makes
// update() wait, in call order, for an acknowledgement to make room: nothing is dropped.
import type { TaskStatus } from '../protocol/common.js';
import type { ExecutorCall } from '../protocol/executor.js';
import { Backlog } from './backlog.js';
import type { Deferred } from './driver-link.js';
import type { Outbox } from './outbox.js';

/** Where updates go: the link to the agent. */
export interface UpdateSender {
  /** Updates may be sent now (the connection is SUBSCRIBED). */
  subscribed(): boolean;
  send(call: ExecutorCall): boolean;
}

export interface UpdateQueueOptions {
  /** The backlog's bound (default BACKLOG_MAX_UPDATES / BACKLOG_MAX_BYTES of backlog.ts). */
  maxBacklogUpdates?: number;
  maxBacklogBytes?: number;
}

export class UpdateQueue {
  /** What the agent has not acknowledged: every SUBSCRIBE carries it (subscription.ts). */
  readonly backlog = new Backlog();
  readonly #sender: UpdateSender;
  #options: UpdateQueueOptions;
  /** The promise of each unacknowledged update, by uuid. */
  readonly #pending = new Map<string, Deferred>();
  /** Updates waiting for room in a full backlog, in call order. */
  #waitingForRoom: Array<{ status: TaskStatus; admit: () => void }> = [];
  /** The last update (by seq) sent on the current connection, in SUBSCRIBE or as UPDATE. */
  #sentUpTo = 0;
  #outbox: Outbox | undefined;
  #stopped = false;

  constructor(sender: UpdateSender, options: UpdateQueueOptions = {}) {
    this.#sender = sender;
    this.#options = { ...options };
  }

  /** The bound the agent set (LIFELINE_BACKLOG_MAX_*), where the constructor's options left it open. */
  boundBy(fallback: Required<UpdateQueueOptions>): void {
    this.#options = { maxBacklogUpdates: this.#options.maxBacklogUpdates ?? fallback.maxBacklogUpdates, maxBacklogBytes: this.#options.maxBacklogBytes ?? fallback.maxBacklogBytes };
  }

  /** The outbox every update is recorded in, and every acknowledgement; set before the first add(). */
  attach(outbox: Outbox): void {
    this.#outbox = outbox;
  }

  /**
   * Queues an update; resolves when the agent has acknowledged it, rejects when stop() comes first.
   * Made durable first (updates added in the same turn share one fdatasync), then sent.
   */
  add(status: TaskStatus): Promise<void> {
    const acknowledged = new Promise<void>((resolve, reject) => this.#pending.set(status.uuid, { resolve, reject }));
    const admit = () => {
      const entry = this.backlog.addUpdate(status);
      // Durable after as many retries as the disk needs (outbox.ts); rejected only when stopped.
      this.#outbox!.appendUpdate(status).then(
        () => {
          entry.durable = true;
          this.pump();
        },
        () => {},
      );
    };
    if (this.#waitingForRoom.length > 0 || this.#full(status)) this.#waitingForRoom.push({ status, admit });
    else admit();
    return acknowledged;
  }

  /** The SUBSCRIBE of a new connection carried the updates up to `seq`. */
  sentUpTo(seq: number): void {
    this.#sentUpTo = seq;
  }

  /** Sends, in order, every durable update not yet sent on this connection; stops at the first that is not durable. */
  pump(): void {
    if (!this.#sender.subscribed()) return;
    for (const entry of this.backlog.entries()) {
      if (entry.seq <= this.#sentUpTo) continue;
      if (!entry.durable) break;
      this.#sender.send({ type: 'UPDATE', status: entry.status });
      this.#sentUpTo = entry.seq;
    }
  }

  /** The agent acknowledged `uuid`: recorded in the outbox, its promise resolves, and a waiting update may go. Unknown uuids are ignored. */
  acknowledge(uuid: string): void {
    if (!this.backlog.acknowledge(uuid)) return;
    this.#outbox?.appendAck(uuid);
    const deferred = this.#pending.get(uuid);
    this.#pending.delete(uuid);
    deferred?.resolve();
    this.#admitWaiting();
  }

  /** Rejects every update not acknowledged yet (waiting for room or not) with `reason`. */
  stop(reason: Error): void {
    this.#stopped = true;
    for (const deferred of this.#pending.values()) deferred.reject(reason);
    this.#pending.clear();
    this.#waitingForRoom = [];
  }

  #full(status: TaskStatus): boolean {
    return this.backlog.isFull(status, this.#options.maxBacklogUpdates, this.#options.maxBacklogBytes);
  }

  /** After an acknowledgement: the updates waiting for room go, in order, while there is room. */
  #admitWaiting(): void {
    while (this.#waitingForRoom.length > 0 && !this.#stopped) {
      const next = this.#waitingForRoom[0]!;
      if (this.#full(next.status)) return;
      this.#waitingForRoom.shift();
      next.admit();
    }
  }
}
