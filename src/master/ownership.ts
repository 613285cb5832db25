// Issue 14: a framework ID and an agent ID belong to the principal that registered them, as Mesos
// ties a framework to its principal and the kubelet's NodeRestriction ties a node to its
// credential. A peer of another principal (or an unauthenticated one) cannot take the ID over. An
// ID registered before authentication was on belongs to no one: the first principal to come back
// with it claims it, so that turning authentication on does not strand running work.
import { UnauthorizedError } from '../protocol/index.js';
import type { Registry } from './registry.js';

export type OwnedKind = 'agent' | 'framework';

/** What a registration may do with an ID: act as its owner, or claim it (record the principal first). */
export type Ownership = 'owner' | 'claim';

function who(principal: string | undefined): string {
  return principal === undefined ? 'an unauthenticated peer' : `principal ${principal}`;
}

/**
 * Whether `principal` may register as `kind id`. Throws UnauthorizedError naming both principals
 * when the ID belongs to another.
 */
export function ownership(registry: Registry, kind: OwnedKind, id: string, principal: string | undefined, action: string): Ownership {
  const owner = registry.owner(kind, id);
  if (owner === undefined) return principal === undefined ? 'owner' : 'claim';
  if (owner === principal) return 'owner';
  throw new UnauthorizedError(`${kind} ${id} belongs to principal ${owner}: ${who(principal)} cannot ${action} it`);
}

/** An agent acting on a task that is not its own. */
export function notItsTask(agentId: string, principal: string | undefined, what: string, frameworkId: string, taskId: string, where: string): UnauthorizedError {
  return new UnauthorizedError(`agent ${agentId} (${who(principal)}) cannot ${what} task ${taskId} of framework ${frameworkId}: ${where}`);
}
