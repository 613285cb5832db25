// Which registry a master keeps and how it takes up its term (issue 12): none (memory, as before),
// a --work_dir file, or etcd with leader election. Taking up a term = loading the registry and
// putting its agents (expected back), removed agents and gone frameworks into the master's state.
import { InvalidOptionError, parseEtcdUrl } from '../protocol/index.js';
import type { Registry } from './registry.js';
import { EtcdRegistryStore } from './registry-store-etcd.js';
import { FileRegistryStore } from './registry-store-file.js';
import { MemoryRegistryStore, type RegistrySnapshot, type RegistryStore } from './registry-store.js';

export interface StoreChoice {
  workDir?: string;
  registry?: string;
  /** HOST:PORT this master campaigns with. */
  address: () => string;
  leaseTtlMs: number;
  onDeposed(error: Error): void;
  onLeader(leader: string | undefined): void;
}

export function openStore(choice: StoreChoice): RegistryStore {
  if (choice.registry !== undefined) {
    const spec = parseEtcdUrl(choice.registry, 'option registry');
    return new EtcdRegistryStore({ endpoints: spec.endpoints, prefix: spec.prefix, address: choice.address, leaseTtlMs: choice.leaseTtlMs, onDeposed: choice.onDeposed, onLeader: choice.onLeader });
  }
  if (choice.workDir !== undefined) {
    if (typeof choice.workDir !== 'string' || choice.workDir === '') throw new InvalidOptionError('workDir', choice.workDir, 'a directory path');
    return new FileRegistryStore(choice.workDir);
  }
  return new MemoryRegistryStore();
}

/** Puts the registry's contents into the master's state; returns the agents now expected back. */
export function restore(registry: Registry, snapshot: RegistrySnapshot): string[] {
  for (const removed of snapshot.removedAgents) registry.recoverRemovedAgent(removed.id);
  for (const framework of snapshot.goneFrameworks) registry.recoverGoneFramework(framework.id);
  for (const owner of snapshot.frameworkOwners) registry.setOwner('framework', owner.id, owner.principal);
  const expected: string[] = [];
  for (const agent of snapshot.agents) {
    if (registry.wasRemoved(agent.id) || registry.agent(agent.id)) continue;
    registry.recoverAgent({ id: agent.id, hostname: agent.hostname, checkpoint: agent.checkpoint, resources: agent.resources }, agent.id);
    if (agent.principal !== undefined) registry.setOwner('agent', agent.id, agent.principal);
    expected.push(agent.id);
  }
  return expected;
}
