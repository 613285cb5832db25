// AgentRemoval on a real Registry: removal recorded first (a registry file in a temp dir), then the
// agent REMOVED and its tasks TASK_LOST; the re-registration timer; and a refused write that
// leaves the agent in place and deposes a master no longer the leader.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { AgentRemoval } from '../../src/master/agent-removal.js';
import { Allocator } from '../../src/master/allocator.js';
import type { MasterContext } from '../../src/master/context.js';
import { MasterMetrics } from '../../src/master/metrics.js';
import type { GeneratedUpdate } from '../../src/master/registry.js';
import { Registry } from '../../src/master/registry.js';
import { FileRegistryStore, readRegistryFile } from '../../src/master/registry-store-file.js';
import { NotLeaderError, Registrar, type RegistryStore } from '../../src/master/registry-store.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';

interface Ctx {
  registry: Registry;
  updates: GeneratedUpdate[];
  detached: string[];
  deposed: Error[];
  removals: AgentRemoval[];
  dirs: string[];
}

const Removal = suite<Ctx>('master/agent-removal: AgentRemoval');

Removal.before.each((ctx) => {
  ctx.registry = new Registry();
  ctx.updates = [];
  ctx.detached = [];
  ctx.deposed = [];
  ctx.removals = [];
  ctx.dirs = [];
});
Removal.after.each((ctx) => {
  for (const removal of ctx.removals) removal.close();
  for (const dir of ctx.dirs) removeDir(dir);
});

const INFO = { hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

function removal(ctx: Ctx, registrar?: Registrar, reregisterTimeoutMs = 60_000): AgentRemoval {
  const allocator = new Allocator();
  const master: MasterContext = {
    registry: ctx.registry,
    allocator,
    metrics: new MasterMetrics(ctx.registry, allocator),
    logger: silentLogger,
    toAgent: () => true,
    toFramework: () => true,
    sendUpdates: (updates) => void ctx.updates.push(...updates),
    allocateSoon: () => {},
    deposed: (error) => void ctx.deposed.push(error),
    ...(registrar && { registrar }),
  };
  const made = new AgentRemoval(master, { reregisterTimeoutMs, detach: (agentId) => void ctx.detached.push(agentId) });
  ctx.removals.push(made);
  return made;
}

function withTask(ctx: Ctx, agentId: string): void {
  ctx.registry.addAgent(INFO, agentId);
  ctx.registry.addFramework({ id: 'f1', name: 'one', checkpoint: true });
  ctx.registry.addTask('f1', { taskId: 't1', name: 't1', agentId, resources: { cpus: 1, mem: 16 }, command: { value: 'sleep 1' } }, 'TASK_RUNNING');
}

Removal('the removal is in the registry file before the agent is REMOVED; meanwhile it counts as removed', async (ctx) => {
  const dir = tempDir('ll-agent-removal-');
  ctx.dirs.push(dir);
  const store = new FileRegistryStore(dir);
  await store.load();
  withTask(ctx, 'a1');
  const removing = removal(ctx, new Registrar(store));
  removing.remove(['a1'], 'it unregistered', 'agent unregistered');
  assert.ok(removing.isRemoved('a1'), 'a returning agent is told to shut down while the write is under way');
  assert.is(ctx.registry.agent('a1')?.status, 'ACTIVE');
  await waitFor(() => ctx.registry.agent('a1')?.status === 'REMOVED', { message: 'the agent to be removed' });
  assert.equal((await readRegistryFile(dir)).removedAgents.map((agent) => agent.id), ['a1']);
  assert.equal(ctx.detached, ['a1']);
  assert.equal(ctx.updates.map((update) => [update.status.taskId, update.status.state, update.status.reason, update.status.message]), [['t1', 'TASK_LOST', 'REASON_AGENT_REMOVED', 'agent a1: it unregistered']]);
  assert.ok(removing.isRemoved('a1'));
  await store.close();
});

Removal('a disconnected agent that does not come back in time is removed; one whose timer is cancelled is not', async (ctx) => {
  ctx.registry.addAgent(INFO, 'gone');
  ctx.registry.addAgent(INFO, 'back');
  ctx.registry.disconnectAgent('gone');
  ctx.registry.disconnectAgent('back');
  const removing = removal(ctx, undefined, 20);
  removing.removeUnlessBack('gone');
  removing.removeUnlessBack('back');
  removing.cancel('back');
  await waitFor(() => ctx.registry.agent('gone')?.status === 'REMOVED', { message: 'the timed-out agent to be removed' });
  assert.is(ctx.registry.agent('back')?.status, 'DISCONNECTED');
  assert.equal(ctx.detached, ['gone']);
});

Removal('a refused write leaves the agent as it was, and a master no longer the leader is deposed', async (ctx) => {
  const fenced = new NotLeaderError('another master leads now');
  const store: RegistryStore = { kind: 'etcd', durable: true, load: async () => ({ epoch: 1, agents: [], removedAgents: [], goneFrameworks: [], frameworkOwners: [] }), apply: async () => Promise.reject(fenced), close: async () => {} };
  withTask(ctx, 'a1');
  const removing = removal(ctx, new Registrar(store));
  removing.remove(['a1'], 'it unregistered');
  await waitFor(() => ctx.deposed.length > 0, { message: 'the master to be deposed' });
  assert.is(ctx.deposed[0], fenced);
  assert.is(ctx.registry.agent('a1')?.status, 'ACTIVE');
  assert.not.ok(removing.isRemoved('a1'), 'no longer being removed');
  assert.equal([ctx.detached, ctx.updates], [[], []]);
});

Removal.run();
