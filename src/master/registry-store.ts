// The master's durable registry (Mesos's Registrar): which agents it admitted, which it removed and
// which frameworks are gone, so that a restarted or failed-over master can tell "an agent I have
// never seen" from "an agent that has not come back yet". One interface, three back ends: memory
// (nothing survives), a --work_dir file, etcd. A change is durable before the master acts on it.
import * as v from 'valibot';
import { LifelineError } from '../protocol/index.js';

export const AdmittedAgent = v.object({
  id: v.string(),
  hostname: v.string(),
  /** The agent's HTTP address as the master saw it (host of the connection). */
  address: v.optional(v.string()),
  /** The lifeline release it ran when admitted (absent for a 0.1.0 agent, which sends none). */
  version: v.optional(v.string()),
  /** The principal it authenticated as (issue 14); absent: it registered unauthenticated. */
  principal: v.optional(v.string()),
  checkpoint: v.boolean(),
  resources: v.object({ cpus: v.number(), mem: v.number(), disk: v.number() }),
});
export type AdmittedAgent = v.InferOutput<typeof AdmittedAgent>;

export const GoneFramework = v.object({ id: v.string(), name: v.string(), removedAt: v.number() });
export type GoneFramework = v.InferOutput<typeof GoneFramework>;

/** Issue 14: a framework ID and the principal that registered it. */
export const FrameworkOwner = v.object({ id: v.string(), principal: v.string() });
export type FrameworkOwner = v.InferOutput<typeof FrameworkOwner>;

export const RegistrySnapshot = v.object({
  /** The leadership term: 1, 2, 3… (a file registry counts its masters' starts; etcd uses the election key's revision). */
  epoch: v.number(),
  agents: v.array(AdmittedAgent),
  removedAgents: v.array(v.object({ id: v.string(), removedAt: v.number() })),
  goneFrameworks: v.array(GoneFramework),
  /** Frameworks of authenticated principals (a registry written before issue 14 has none). */
  frameworkOwners: v.optional(v.array(FrameworkOwner), []),
});
export type RegistrySnapshot = v.InferOutput<typeof RegistrySnapshot>;

export type RegistryOp =
  | { op: 'admit'; agent: AdmittedAgent }
  | { op: 'remove'; agentId: string; at: number }
  | { op: 'frameworkGone'; framework: GoneFramework }
  | { op: 'frameworkOwner'; owner: FrameworkOwner };

/** Removed agents and gone frameworks kept (oldest forgotten first): bounded, like Mesos's registry_max_agent_count. */
export const MAX_REMOVED = 100_000;

/** The registry refused a write: this master is no longer the leader (or never was). */
export class NotLeaderError extends LifelineError {
  constructor(message: string) {
    super('ERR_ILLEGAL_STATE', message);
  }
}

/** The registry cannot be read or written (etcd unreachable, the file unreadable). */
export class RegistryError extends LifelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONNECTION', message, options);
  }
}

export interface RegistryStore {
  /** 'memory', 'file' or 'etcd', for logs and /state. */
  readonly kind: 'memory' | 'file' | 'etcd';
  /** Whether anything survives the master (false for memory). */
  readonly durable: boolean;
  /** Reads what is recorded and starts a new term (its epoch is in the snapshot). Called once. */
  load(): Promise<RegistrySnapshot>;
  /** Records the ops durably; resolves once they are. Rejects with NotLeaderError if fenced off. */
  apply(ops: readonly RegistryOp[]): Promise<void>;
  close(): Promise<void>;
}

export function emptySnapshot(epoch = 0): RegistrySnapshot {
  return { epoch, agents: [], removedAgents: [], goneFrameworks: [], frameworkOwners: [] };
}

/** Applies ops to a snapshot in place (the file back end's state, and the memory one's). */
export function applyOps(snapshot: RegistrySnapshot, ops: readonly RegistryOp[]): void {
  for (const op of ops) {
    switch (op.op) {
      case 'admit': {
        const i = snapshot.agents.findIndex((agent) => agent.id === op.agent.id);
        if (i === -1) snapshot.agents.push(op.agent);
        else snapshot.agents[i] = op.agent;
        break;
      }
      case 'remove': {
        snapshot.agents = snapshot.agents.filter((agent) => agent.id !== op.agentId);
        if (!snapshot.removedAgents.some((agent) => agent.id === op.agentId)) snapshot.removedAgents.push({ id: op.agentId, removedAt: op.at });
        if (snapshot.removedAgents.length > MAX_REMOVED) snapshot.removedAgents.splice(0, snapshot.removedAgents.length - MAX_REMOVED);
        break;
      }
      case 'frameworkGone':
        if (!snapshot.goneFrameworks.some((framework) => framework.id === op.framework.id)) snapshot.goneFrameworks.push(op.framework);
        if (snapshot.goneFrameworks.length > MAX_REMOVED) snapshot.goneFrameworks.splice(0, snapshot.goneFrameworks.length - MAX_REMOVED);
        // A gone framework never comes back under its ID: its owner need not be kept.
        snapshot.frameworkOwners = snapshot.frameworkOwners.filter((owner) => owner.id !== op.framework.id);
        break;
      case 'frameworkOwner': {
        const i = snapshot.frameworkOwners.findIndex((owner) => owner.id === op.owner.id);
        if (i === -1) snapshot.frameworkOwners.push(op.owner);
        else snapshot.frameworkOwners[i] = op.owner;
        break;
      }
    }
  }
}

/** Today's behaviour: nothing on disk, a restarted master starts empty. Epoch 0 (no terms). */
export class MemoryRegistryStore implements RegistryStore {
  readonly kind = 'memory';
  readonly durable = false;

  async load(): Promise<RegistrySnapshot> {
    return emptySnapshot(0);
  }

  async apply(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Group commit in front of a store: ops recorded while a write is under way go together in the
 * next one, so 10,000 agents re-registering cost a few writes, not 10,000. `record()` resolves once
 * its op is durable. After a NotLeaderError every later record() rejects with it too.
 */
export class Registrar {
  readonly #store: RegistryStore;
  #pending: Array<{ op: RegistryOp; resolve: () => void; reject: (error: unknown) => void }> = [];
  /** The write loop under way (undefined: none): it runs until nothing is pending. */
  #writing: Promise<void> | undefined;
  #fenced: Error | undefined;
  #writes = 0;

  constructor(store: RegistryStore) {
    this.#store = store;
  }

  get store(): RegistryStore {
    return this.#store;
  }

  /** Writes made so far (a batch is one). */
  get writes(): number {
    return this.#writes;
  }

  record(op: RegistryOp): Promise<void> {
    if (this.#fenced) return Promise.reject(this.#fenced);
    if (!this.#store.durable) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending.push({ op, resolve, reject });
      this.#writing ??= this.#flush();
    });
  }

  /** Resolves once every op recorded so far is written (or has failed): a stopping master waits for it. */
  async idle(): Promise<void> {
    await this.#writing;
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#store.apply(batch.map((entry) => entry.op));
        this.#writes += 1;
        for (const entry of batch) entry.resolve();
      } catch (error) {
        if (error instanceof NotLeaderError) this.#fenced = error;
        for (const entry of batch) entry.reject(error);
        if (this.#fenced) {
          for (const entry of this.#pending) entry.reject(this.#fenced);
          this.#pending = [];
        }
      }
    }
    // In the same turn as the last look at #pending: an op recorded from here on starts a new loop.
    this.#writing = undefined;
  }
}
