// A framework as the master records it, with its tasks and its lifecycle: ACTIVE while a
// scheduler is connected, DISCONNECTED while none is, REMOVED for good. Pure state.
import { IllegalStateError, type FrameworkInfo } from '../protocol/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import type { TaskRecord } from './registry-tasks.js';

export type FrameworkStatus = 'ACTIVE' | 'DISCONNECTED' | 'REMOVED';

// ACTIVE: a scheduler is connected. DISCONNECTED: none is (failing over, or known only from an
// agent's report). REMOVED: torn down or failed over too late; kept in completedFrameworks.
const FRAMEWORK_MOVES: Transitions<FrameworkStatus> = {
  ACTIVE: ['DISCONNECTED', 'REMOVED'],
  DISCONNECTED: ['ACTIVE', 'REMOVED'],
  REMOVED: [],
};

/** Unacknowledged master-generated uuids kept per framework (a scheduler that never acks). */
const MAX_MASTER_UUIDS = 10_000;

/** A framework as the master records it: always with its ID. */
export type RegisteredFrameworkInfo = FrameworkInfo & { id: string };

export class FrameworkRecord {
  readonly id: string;
  #info: RegisteredFrameworkInfo;
  readonly #status: StateMachine<FrameworkStatus>;
  readonly tasks = new Map<string, TaskRecord>();
  /** uuids of updates the master generated itself: their acknowledgements end at the master. */
  readonly masterUuids = new Set<string>();
  /** Tasks in the order they became terminal, so that the oldest can be forgotten. */
  readonly completedTasks: TaskRecord[] = [];

  constructor(info: RegisteredFrameworkInfo, status: FrameworkStatus) {
    this.id = info.id;
    this.#info = info;
    this.#status = new StateMachine<FrameworkStatus>(`framework ${info.id}`, status, FRAMEWORK_MOVES);
  }

  get info(): RegisteredFrameworkInfo {
    return this.#info;
  }

  get status(): FrameworkStatus {
    return this.#status.state;
  }

  get checkpoint(): boolean {
    return this.#info.checkpoint;
  }

  /** Failover timeout in milliseconds (default 0: removed as soon as its scheduler disconnects). */
  get failoverTimeoutMs(): number {
    return this.#info.failoverTimeoutMs ?? 0;
  }

  /** A re-subscribing scheduler may rename the framework or change its failover timeout, never `checkpoint`. */
  updateInfo(info: RegisteredFrameworkInfo): void {
    if (info.checkpoint !== this.#info.checkpoint) {
      throw new IllegalStateError(
        `framework ${this.id} registered with checkpoint: ${this.#info.checkpoint}; FrameworkInfo.checkpoint cannot change after registration (got ${info.checkpoint})`,
      );
    }
    this.#info = info;
  }

  /** Throws IllegalStateError ("cannot mark framework f1 ACTIVE in REMOVED state") for a move outside the table. */
  transition(to: FrameworkStatus): void {
    if (!this.#status.tryTransition(to)) throw new IllegalStateError(`cannot mark framework ${this.id} ${to} in ${this.#status.state} state`);
  }
}

/** Remembers a master-generated uuid so its acknowledgement stops at the master (bounded). */
export function rememberMasterUuid(framework: FrameworkRecord, uuid: string): void {
  framework.masterUuids.add(uuid);
  if (framework.masterUuids.size > MAX_MASTER_UUIDS) {
    framework.masterUuids.delete(framework.masterUuids.values().next().value!);
  }
}
