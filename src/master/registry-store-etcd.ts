// The registry on etcd, and the leadership it is fenced on (issue 12): a master campaigns with a
// lease (--leader_lease_ttl) by putting `<prefix>/election/<lease>` = its HOST:PORT; the key created
// first leads. Every registry write is one etcd transaction that commits only while this master's
// election key still has the create revision it won with, so a deposed leader can write nothing.
// A lease lost (or not renewed for a whole TTL) deposes the leader at once.
import type { Etcd3, Lease } from 'etcd3';
import * as v from 'valibot';
import type { Address } from '../protocol/index.js';
import { electionPrefix, etcdClient, readLeader } from '../session/etcd-leader.js';
import { AdmittedAgent, FrameworkOwner, GoneFramework, NotLeaderError, RegistryError, type RegistryOp, type RegistrySnapshot, type RegistryStore } from './registry-store.js';

/** etcd refuses a transaction of more than 128 operations by default (--max-txn-ops). */
const OPS_PER_TXN = 100;

export interface EtcdRegistryOptions {
  endpoints: readonly Address[];
  prefix: string;
  /** What this master campaigns with: its HOST:PORT as clients reach it (read when campaigning: the port may be chosen at listen). */
  address: () => string;
  leaseTtlMs: number;
  /** Leadership is gone (lease lost, etcd unreachable for a TTL, a fenced write). Called once. */
  onDeposed(error: Error): void;
  /** The leader changed (standby: who to name in the ERROR it refuses connections with). */
  onLeader?(leader: string | undefined): void;
}

const Removed = v.object({ removedAt: v.number() });

export class EtcdRegistryStore implements RegistryStore {
  readonly kind = 'etcd';
  readonly durable = true;
  readonly #options: EtcdRegistryOptions;
  #client!: Etcd3;
  #lease: Lease | undefined;
  #key: string | undefined;
  #revision: number | undefined;
  #lastRenewal = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #deposed = false;
  #closed = false;
  #leader: string | undefined;

  constructor(options: EtcdRegistryOptions) {
    this.#options = options;
  }

  /** The leader as last read from etcd (while campaigning: the one to name). */
  get leader(): string | undefined {
    return this.#leader;
  }

  /** Campaigns; resolves once this master leads (it may wait for as long as another leads). */
  async campaign(signal: AbortSignal): Promise<void> {
    this.#client = await etcdClient(this.#options.endpoints);
    if (this.#closed) throw new NotLeaderError('the master stopped before it campaigned');
    const ttlSeconds = Math.max(1, Math.round(this.#options.leaseTtlMs / 1000));
    const lease = this.#client.lease(ttlSeconds);
    this.#lease = lease;
    lease.on('lost', (error) => this.#depose(new NotLeaderError(`lost the leader lease in etcd: ${error.message}`)));
    lease.on('keepaliveSucceeded', () => (this.#lastRenewal = Date.now()));
    const id = await lease.grant();
    this.#lastRenewal = Date.now();
    // Not renewed for five sixths of the lease's own TTL (whole seconds, as etcd holds it): two
    // keepalives in a row missed (the client sends one every third of the TTL), so stop serving
    // while etcd still holds the lease, and a standby can never lead while this one serves. Waiting
    // a whole TTL left a window as long as the check interval and the rounding of the TTL.
    const deadlineMs = (ttlSeconds * 1000 * 5) / 6;
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastRenewal > deadlineMs) this.#depose(new NotLeaderError(`the leader lease was not renewed for ${Math.round(deadlineMs)} ms, five sixths of its ${ttlSeconds} s TTL (etcd unreachable?)`));
    }, Math.max(50, Math.min(1_000, deadlineMs / 10)));
    const key = `${electionPrefix(this.#options.prefix)}${id}`;
    await lease.put(key).value(this.#options.address()).exec();
    const own = await this.#client.get(key).exec();
    const kv = own.kvs[0];
    if (!kv) throw new RegistryError(`my election key ${key} vanished right after it was written`);
    this.#key = key;
    this.#revision = Number(kv.create_revision);
    await new Promise<void>((resolve, reject) => {
      const check = async () => {
        if (signal.aborted || this.#deposed) {
          clearInterval(this.#poll);
          return reject(signal.reason ?? new NotLeaderError('campaign ended'));
        }
        try {
          const leader = await readLeader(this.#client, this.#options.prefix);
          if (leader?.address !== this.#leader) {
            this.#leader = leader?.address;
            this.#options.onLeader?.(this.#leader);
          }
          if (leader?.key === key) {
            clearInterval(this.#poll);
            resolve();
          }
        } catch {
          // etcd unreachable: the lease watchdog decides; keep polling meanwhile
        }
      };
      this.#poll = setInterval(() => void check(), Math.max(100, Math.min(500, this.#options.leaseTtlMs / 20)));
      void check();
    });
  }

  /** The election key's create revision: the epoch of this term. */
  get epoch(): number {
    return this.#revision ?? 0;
  }

  async load(): Promise<RegistrySnapshot> {
    if (this.#revision === undefined) throw new RegistryError('the etcd registry is read only by the leader (campaign first)');
    const base = `${this.#options.prefix}/registry/`;
    const all = await this.#client.getAll().prefix(base).strings();
    const snapshot: RegistrySnapshot = { epoch: this.#revision, agents: [], removedAgents: [], goneFrameworks: [], frameworkOwners: [] };
    for (const [key, value] of Object.entries(all)) {
      const rest = key.slice(base.length);
      try {
        if (rest.startsWith('agents/')) snapshot.agents.push(v.parse(AdmittedAgent, JSON.parse(value)));
        else if (rest.startsWith('removed/')) snapshot.removedAgents.push({ id: rest.slice('removed/'.length), removedAt: v.parse(Removed, JSON.parse(value)).removedAt });
        else if (rest.startsWith('frameworks/')) snapshot.goneFrameworks.push(v.parse(GoneFramework, JSON.parse(value)));
        else if (rest.startsWith('owners/')) snapshot.frameworkOwners.push(v.parse(FrameworkOwner, JSON.parse(value)));
      } catch (error) {
        throw new RegistryError(`the etcd registry key ${key} holds something unreadable: ${(error as Error).message}`, { cause: error });
      }
    }
    snapshot.removedAgents.sort((a, b) => a.removedAt - b.removedAt);
    return snapshot;
  }

  async apply(ops: readonly RegistryOp[]): Promise<void> {
    if (this.#deposed || this.#key === undefined || this.#revision === undefined) throw new NotLeaderError('this master does not lead: registry writes refused');
    const base = `${this.#options.prefix}/registry/`;
    for (let i = 0; i < ops.length; i += OPS_PER_TXN) {
      const chunk = ops.slice(i, i + OPS_PER_TXN);
      const puts = [];
      for (const op of chunk) {
        if (op.op === 'admit') puts.push(this.#client.put(`${base}agents/${op.agent.id}`).value(JSON.stringify(op.agent)));
        else if (op.op === 'remove') {
          puts.push(this.#client.delete().key(`${base}agents/${op.agentId}`));
          puts.push(this.#client.put(`${base}removed/${op.agentId}`).value(JSON.stringify({ removedAt: op.at })));
        } else if (op.op === 'frameworkOwner') {
          puts.push(this.#client.put(`${base}owners/${op.owner.id}`).value(JSON.stringify(op.owner)));
        } else {
          puts.push(this.#client.put(`${base}frameworks/${op.framework.id}`).value(JSON.stringify(op.framework)));
          puts.push(this.#client.delete().key(`${base}owners/${op.framework.id}`));
        }
      }
      // The history of who wrote: one key rewritten by every write, with the writer's epoch.
      puts.push(this.#client.put(`${base}log`).value(JSON.stringify({ epoch: this.#revision, leader: this.#options.address(), ops: chunk.map((op) => op.op), at: Date.now() })));
      let committed: boolean;
      try {
        const response = await this.#client.if(this.#key, 'Create', '==', this.#revision).then(...puts).commit();
        committed = response.succeeded;
      } catch (error) {
        throw new RegistryError(`cannot write the registry in etcd: ${(error as Error).message}`, { cause: error });
      }
      if (!committed) {
        const error = new NotLeaderError(`registry write refused by etcd: election key ${this.#key} (revision ${this.#revision}) is gone, another master leads`);
        this.#depose(error);
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#deposed = true;
    clearInterval(this.#watchdog);
    clearInterval(this.#poll);
    // Resign: the key goes with the lease, and a standby takes over without waiting for the TTL.
    await this.#lease?.revoke().catch(() => {});
    this.#client?.close();
  }

  #depose(error: Error): void {
    if (this.#deposed) return;
    this.#deposed = true;
    clearInterval(this.#watchdog);
    clearInterval(this.#poll);
    this.#options.onDeposed(error);
  }
}
