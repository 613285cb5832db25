import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentRecord } from '../../src/master/registry-agents.js';
import { IllegalStateError } from '../../src/protocol/index.js';

const AGENT = { hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

const Agent = suite('AgentRecord');

Agent('starts ACTIVE with its ID in its info and its resources as amounts', () => {
  const agent = new AgentRecord('a1', AGENT);
  assert.is(agent.status, 'ACTIVE');
  assert.is(agent.info.id, 'a1');
  assert.is(agent.hostname, 'node-1');
  assert.is(agent.total.cpus, 4);
});

Agent('moves between ACTIVE and DISCONNECTED until it is REMOVED', () => {
  const agent = new AgentRecord('a1', AGENT);
  agent.transition('DISCONNECTED');
  agent.transition('ACTIVE');
  agent.transition('REMOVED');
  assert.is(agent.status, 'REMOVED');
});

Agent('refuses an illegal move by name, and stays where it was', () => {
  const agent = new AgentRecord('a1', AGENT);
  assert.throws(
    () => agent.transition('ACTIVE'),
    (error: unknown) => error instanceof IllegalStateError && (error as Error).message === 'cannot mark agent a1 ACTIVE in ACTIVE state',
  );
  agent.transition('REMOVED');
  assert.throws(
    () => agent.transition('DISCONNECTED'),
    (error: unknown) => error instanceof IllegalStateError && (error as Error).message === 'cannot mark agent a1 DISCONNECTED in REMOVED state',
  );
  assert.is(agent.status, 'REMOVED');
});

Agent('keeps its ID when a re-registration reports new info', () => {
  const agent = new AgentRecord('a1', AGENT);
  agent.updateInfo({ ...AGENT, hostname: 'node-2', id: 'other' });
  assert.is(agent.hostname, 'node-2');
  assert.is(agent.info.id, 'a1');
});

Agent.run();
