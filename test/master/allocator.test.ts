import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Allocator, satisfiesCheckpointRule, type AgentSlot } from '../../src/master/allocator.js';

const NOW = 1_000_000;

function agent(id: string, checkpoint = true, cpus = 4, mem = 4096): AgentSlot {
  return { id, hostname: `host-${id}`, checkpoint, unused: { cpus, mem, disk: 1000 } };
}

const Allocation = suite('Allocator.allocate');

Allocation('offers all of an agent’s unused resources to one framework', () => {
  const allocator = new Allocator();
  const offers = allocator.allocate([agent('a1')], [{ id: 'f1', checkpoint: false }], NOW);
  assert.is(offers.length, 1);
  assert.is(offers[0]!.frameworkId, 'f1');
  assert.is(offers[0]!.agentId, 'a1');
  assert.is(offers[0]!.hostname, 'host-a1');
  assert.equal(offers[0]!.resources, { cpus: 4, mem: 4096, disk: 1000 });
});

Allocation('does not offer resources that are already offered', () => {
  const allocator = new Allocator();
  allocator.allocate([agent('a1')], [{ id: 'f1', checkpoint: false }], NOW);
  assert.equal(allocator.allocate([agent('a1')], [{ id: 'f1', checkpoint: false }, { id: 'f2', checkpoint: false }], NOW), []);
  assert.equal(allocator.offered('a1'), { cpus: 4, mem: 4096, disk: 1000 });
});

Allocation('goes round-robin over frameworks, one framework per agent', () => {
  const allocator = new Allocator();
  const frameworks = [{ id: 'f1', checkpoint: false }, { id: 'f2', checkpoint: false }];
  const offers = allocator.allocate([agent('a1'), agent('a2'), agent('a3')], frameworks, NOW);
  assert.equal(offers.map((offer) => [offer.agentId, offer.frameworkId]), [['a1', 'f1'], ['a2', 'f2'], ['a3', 'f1']]);
  // The next round starts where this one stopped.
  allocator.withdrawAgent('a1');
  const next = allocator.allocate([agent('a1')], frameworks, NOW);
  assert.is(next[0]!.frameworkId, 'f2');
});

Allocation('offers nothing when no framework is connected or nothing is free', () => {
  const allocator = new Allocator();
  assert.equal(allocator.allocate([agent('a1')], [], NOW), []);
  assert.equal(allocator.allocate([agent('a1', true, 0, 0)], [{ id: 'f1', checkpoint: false }], NOW), []);
  // Below Mesos's minimum (0.01 cpus or 32 MB) is not worth an offer either.
  assert.equal(allocator.allocate([agent('a1', true, 0.001, 16)], [{ id: 'f1', checkpoint: false }], NOW), []);
});

Allocation('offers a checkpointing framework only agents that checkpoint', () => {
  const allocator = new Allocator();
  const offers = allocator.allocate([agent('plain', false), agent('durable', true)], [{ id: 'ckpt', checkpoint: true }], NOW);
  assert.equal(offers.map((offer) => offer.agentId), ['durable']);
});

Allocation('gives a checkpoint:false agent to the non-checkpointing framework instead', () => {
  const allocator = new Allocator();
  const frameworks = [{ id: 'ckpt', checkpoint: true }, { id: 'plain', checkpoint: false }];
  const offers = allocator.allocate([agent('a1', false)], frameworks, NOW);
  assert.equal(offers.map((offer) => offer.frameworkId), ['plain']);
});

Allocation('states the checkpoint rule as a predicate', () => {
  assert.ok(satisfiesCheckpointRule({ checkpoint: true }, { checkpoint: true }));
  assert.not.ok(satisfiesCheckpointRule({ checkpoint: true }, { checkpoint: false }));
  assert.ok(satisfiesCheckpointRule({ checkpoint: false }, { checkpoint: false }));
  assert.ok(satisfiesCheckpointRule({ checkpoint: false }, { checkpoint: true }));
});

Allocation.run();

const Decline = suite('Allocator.decline');

Decline('filters the agent for that framework for refuseSeconds, then offers it again', () => {
  const allocator = new Allocator();
  const f1 = [{ id: 'f1', checkpoint: false }];
  const [offer] = allocator.allocate([agent('a1')], f1, NOW);
  assert.equal(allocator.decline('f1', [offer!.id], 5, NOW).map((o) => o.id), [offer!.id]);
  assert.equal(allocator.offered('a1'), { cpus: 0, mem: 0, disk: 0 });
  assert.equal(allocator.allocate([agent('a1')], f1, NOW + 4_999), []);
  assert.is(allocator.allocate([agent('a1')], f1, NOW + 5_000).length, 1);
});

Decline('lets another framework have the declined agent at once', () => {
  const allocator = new Allocator();
  const frameworks = [{ id: 'f1', checkpoint: false }, { id: 'f2', checkpoint: false }];
  const [offer] = allocator.allocate([agent('a1')], frameworks, NOW);
  assert.is(offer!.frameworkId, 'f1');
  allocator.decline('f1', [offer!.id], 5, NOW);
  const again = allocator.allocate([agent('a1')], frameworks, NOW + 1);
  assert.equal(again.map((o) => o.frameworkId), ['f2']);
});

Decline('with refuseSeconds 0 leaves no filter', () => {
  const allocator = new Allocator();
  const f1 = [{ id: 'f1', checkpoint: false }];
  const [offer] = allocator.allocate([agent('a1')], f1, NOW);
  allocator.decline('f1', [offer!.id], 0, NOW);
  assert.is(allocator.allocate([agent('a1')], f1, NOW).length, 1);
});

Decline('ignores offers that are unknown or belong to another framework', () => {
  const allocator = new Allocator();
  const [offer] = allocator.allocate([agent('a1')], [{ id: 'f1', checkpoint: false }], NOW);
  assert.equal(allocator.decline('f2', [offer!.id, 'nope'], 5, NOW), []);
  assert.ok(allocator.offer(offer!.id));
  assert.not.ok(allocator.isFiltered('f2', 'a1', NOW));
});

Decline('filters of a removed framework are forgotten', () => {
  const allocator = new Allocator();
  const [offer] = allocator.allocate([agent('a1')], [{ id: 'f1', checkpoint: false }], NOW);
  allocator.decline('f1', [offer!.id], 60, NOW);
  assert.ok(allocator.isFiltered('f1', 'a1', NOW));
  allocator.removeFramework('f1');
  assert.not.ok(allocator.isFiltered('f1', 'a1', NOW));
});

Decline.run();

const Take = suite('Allocator.take and withdraw');

Take('takes the framework’s own offers and names the invalid ones', () => {
  const allocator = new Allocator();
  const offers = allocator.allocate([agent('a1'), agent('a2')], [{ id: 'f1', checkpoint: false }, { id: 'f2', checkpoint: false }], NOW);
  const mine = offers.find((offer) => offer.frameworkId === 'f1')!;
  const theirs = offers.find((offer) => offer.frameworkId === 'f2')!;
  const { taken, invalid } = allocator.take('f1', [mine.id, theirs.id, 'gone']);
  assert.equal(taken.map((offer) => offer.id), [mine.id]);
  assert.equal(invalid.map((offer) => offer.offerId), [theirs.id, 'gone']);
  assert.match(invalid[0]!.why, /not made to framework f1/);
  assert.match(invalid[1]!.why, /not outstanding/);
  assert.not.ok(allocator.offer(mine.id), 'a taken offer is no longer outstanding');
  assert.ok(allocator.offer(theirs.id), 'another framework’s offer is left alone');
});

Take('withdraws an agent’s offers and a framework’s offers', () => {
  const allocator = new Allocator();
  allocator.allocate([agent('a1'), agent('a2')], [{ id: 'f1', checkpoint: false }, { id: 'f2', checkpoint: false }], NOW);
  assert.equal(allocator.withdrawAgent('a1').map((offer) => offer.agentId), ['a1']);
  assert.equal(allocator.withdrawFramework('f2').map((offer) => offer.agentId), ['a2']);
  assert.equal(allocator.offers(), []);
});

Take.run();
