// What the agent and scheduler endpoints share: the cluster state, the allocator, and a way to
// reach the other side (an agent endpoint sends to frameworks and the other way round).
import type { Logger } from '../log.js';
import type { AgentEvent, SchedulerEvent } from '../protocol/index.js';
import type { Allocator } from './allocator.js';
import type { MasterMetrics } from './metrics.js';
import type { RecoveryWindow } from './recovery.js';
import type { GeneratedUpdate, Registry } from './registry.js';
import type { Registrar } from './registry-store.js';

export interface MasterContext {
  readonly registry: Registry;
  readonly allocator: Allocator;
  readonly metrics: MasterMetrics;
  readonly logger: Logger;
  /** Sends to the agent's current connection; false when it has none. */
  toAgent(agentId: string, event: AgentEvent): boolean;
  /** Sends to the framework's current scheduler connection; false when it has none. */
  toFramework(frameworkId: string, event: SchedulerEvent): boolean;
  /** Sends updates the master made up (TASK_LOST, TASK_ERROR, …) to their frameworks, if connected. */
  sendUpdates(updates: readonly GeneratedUpdate[]): void;
  /** Something changed (resources freed, a framework arrived): run the allocator soon. */
  allocateSoon(): void;
  /** The durable registry (absent: nothing is recorded, as before issue 12). */
  readonly registrar?: Registrar;
  /** Calls held while a restarted master waits for its agents (absent: none held). */
  readonly recovery?: RecoveryWindow;
  /** The leader epoch sent in REGISTERED, REREGISTERED and SUBSCRIBED (absent: 0). */
  epoch?(): number;
  /** A registry write was refused because this master is no longer the leader: stop serving. */
  deposed?(error: Error): void;
}
