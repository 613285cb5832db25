// The checkpoint rule end to end (DESIGN §8): a framework with checkpoint: true is offered only
// the resources of agents running with --checkpoint=true. Real master and agent processes; the
// frameworks are SchedulerDrivers in this process.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerDriver } from '../../src/scheduler/index.js';
import type { Offer } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

interface Ctx {
  cluster?: Cluster;
  drivers: SchedulerDriver[];
}

const Offers = suite<Ctx>('checkpoint-aware offers end to end');

Offers.before.each((ctx) => {
  ctx.drivers = [];
});
Offers.after.each(async (ctx) => {
  await Promise.all(ctx.drivers.map((driver) => driver.stop()));
  await ctx.cluster?.stop();
});

/** A framework that records the offers it gets and declines each one for a short while. */
function framework(ctx: Ctx, name: string, checkpoint: boolean): { driver: SchedulerDriver; offers: Offer[] } {
  const offers: Offer[] = [];
  const driver: SchedulerDriver = new SchedulerDriver({
    master: ctx.cluster!.masterAddress,
    frameworkInfo: { name, checkpoint },
    onOffers: (batch) => {
      offers.push(...batch);
      driver.decline(batch.map((offer) => offer.id), 0.1);
    },
  });
  ctx.drivers.push(driver);
  return { driver, offers };
}

Offers('a checkpointing framework gets no offer from a --checkpoint=false agent while a non-checkpointing one does', async (ctx) => {
  ctx.cluster = await startCluster({ agentFlags: ['--checkpoint=false'] });
  const checkpointing = framework(ctx, 'wants-checkpoint', true);
  const plain = framework(ctx, 'plain', false);
  await checkpointing.driver.start();
  await plain.driver.start();
  // Declined offers come back every ~0.1 s; several rounds give the allocator every chance to
  // offer the agent to the checkpointing framework if it were (wrongly) willing to.
  await waitFor(() => plain.offers.length >= 4, { timeoutMs: 15_000, message: 'four offers to the non-checkpointing framework' });
  assert.is(checkpointing.offers.length, 0, JSON.stringify(checkpointing.offers));
  assert.ok(plain.offers.every((offer) => offer.resources.cpus > 0));
});

Offers('a checkpointing framework is offered the resources of a --checkpoint=true agent', async (ctx) => {
  ctx.cluster = await startCluster({ agentFlags: ['--checkpoint=true'] });
  const checkpointing = framework(ctx, 'wants-checkpoint', true);
  await checkpointing.driver.start();
  await waitFor(() => checkpointing.offers.length >= 1, { timeoutMs: 15_000, message: 'an offer to the checkpointing framework' });
  const [offer] = checkpointing.offers;
  const state = await (await fetch(`http://${ctx.cluster.masterAddress}/state`)).json() as { agents: Array<{ id: string; checkpoint: boolean }> };
  assert.equal(state.agents.map((agent) => [agent.id, agent.checkpoint]), [[offer!.agentId, true]]);
});

Offers.run();
