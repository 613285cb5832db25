import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { AllocationLoop, type AllocationLoopOptions } from '../../src/master/allocation-loop.js';
import { Allocator } from '../../src/master/allocator.js';
import { Registry } from '../../src/master/registry.js';
import { IllegalStateError, MAX_OFFERS_PER_EVENT, type SchedulerEvent } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';

const RESOURCES = { cpus: 4, mem: 4096, disk: 10_000 };

interface Fixture {
  loop: AllocationLoop;
  registry: Registry;
  allocator: Allocator;
  sent: Array<[string, SchedulerEvent]>;
  frameworkId: string;
}

const loops: AllocationLoop[] = [];

/** A loop over a real Registry and Allocator, with `agents` agents and one framework; what it sends is recorded. */
function fixture(agents = 1, overrides: Partial<AllocationLoopOptions> = {}): Fixture {
  const registry = new Registry();
  const allocator = new Allocator();
  for (let i = 0; i < agents; i++) registry.addAgent({ hostname: `node-${i}`, resources: RESOURCES, checkpoint: true });
  const frameworkId = registry.addFramework({ name: 'f', checkpoint: false }).id;
  const sent: Array<[string, SchedulerEvent]> = [];
  const loop = new AllocationLoop({
    registry,
    allocator,
    logger: silentLogger,
    intervalMs: 3_600_000,
    offerTimeoutMs: 3_600_000,
    connected: () => true,
    send: (id, event) => (sent.push([id, event]), true),
    leading: () => true,
    ...overrides,
  });
  loops.push(loop);
  return { loop, registry, allocator, sent, frameworkId };
}

const offersIn = (sent: Array<[string, SchedulerEvent]>) => sent.flatMap(([, event]) => (event.type === 'OFFERS' ? event.offers : []));
/** One turn of the event loop: an immediate queued by soon() before this one has run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

const Loop = suite('AllocationLoop');

Loop.after.each(() => {
  for (const loop of loops.splice(0)) loop.stop();
});

Loop('offers each connected ACTIVE agent to an ACTIVE framework on the turn after soon()', async () => {
  const { loop, registry, sent, frameworkId } = fixture(2, { connected: (agentId) => agentId === registry.agents()[0]!.id });
  loop.start();
  loop.soon();
  loop.soon(); // one round, not two
  assert.equal(sent, []);
  await turn();
  assert.is(sent.length, 1);
  assert.is(sent[0]![0], frameworkId);
  assert.equal(offersIn(sent).map((offer) => [offer.agentId, offer.hostname, offer.resources]), [[registry.agents()[0]!.id, 'node-0', RESOURCES]]);
});

Loop('offers nothing while the master does not lead, before start() or after stop()', async () => {
  let leading = false;
  const { loop, sent } = fixture(1, { leading: () => leading });
  loop.soon();
  await turn();
  loop.start();
  loop.soon();
  await turn();
  assert.equal(sent, []);
  leading = true;
  loop.stop();
  loop.soon();
  await turn();
  assert.equal(sent, []);
  assert.is(loop.state, 'STOPPED');
  loop.stop(); // a second stop is harmless
});

Loop('runs a round every interval without being asked', async () => {
  const { loop, sent } = fixture(1, { intervalMs: 10 });
  loop.start();
  await waitFor(() => offersIn(sent).length === 1, { message: 'an offer from the interval round' });
});

Loop('sends a framework its offers in OFFERS events of at most MAX_OFFERS_PER_EVENT', async () => {
  const { loop, sent } = fixture(MAX_OFFERS_PER_EVENT + 1);
  loop.start();
  loop.soon();
  await turn();
  assert.equal(sent.map(([, event]) => (event.type === 'OFFERS' ? event.offers.length : event.type)), [MAX_OFFERS_PER_EVENT, 1]);
});

Loop('withdraws the offers of a framework whose scheduler cannot be sent to', async () => {
  const { loop, registry, allocator } = fixture(1, { send: () => false });
  loop.start();
  loop.soon();
  await turn();
  assert.equal(allocator.offered(registry.agents()[0]!.id), { cpus: 0, mem: 0, disk: 0 });
});

Loop('rescinds an offer held past the offer timeout, and offers its resources again', async () => {
  const { loop, sent, frameworkId } = fixture(1, { offerTimeoutMs: 1 });
  loop.start();
  loop.soon();
  await turn();
  const [first] = offersIn(sent);
  await waitFor(
    () => {
      loop.soon();
      return sent.some(([, event]) => event.type === 'RESCIND');
    },
    { message: 'a RESCIND' },
  );
  const rescind = sent.find(([, event]) => event.type === 'RESCIND')!;
  assert.equal(rescind, [frameworkId, { type: 'RESCIND', offerId: first!.id }]);
  await waitFor(() => (loop.soon(), offersIn(sent).length >= 2), { message: 'the resources offered again' });
});

Loop('refuses to start twice, naming its states', () => {
  const { loop } = fixture();
  loop.start();
  assert.throws(() => loop.start(), (error: unknown) => error instanceof IllegalStateError && /the allocation loop from RUNNING to RUNNING/.test((error as Error).message));
});

Loop.run();
