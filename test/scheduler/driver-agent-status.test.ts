// SchedulerDriver and AGENT_STATUS (issue 15): delivered to onAgentStatus, and an event of a type
// the driver does not know (a newer master's) dropped without closing the connection.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerDriver } from '../../src/scheduler/index.js';
import type { AgentStatusEvent } from '../../src/protocol/index.js';
import { waitFor } from '../helpers.js';
import { FakeMaster } from './fake-master.js';

interface Context {
  master: FakeMaster;
  driver?: SchedulerDriver;
}

const Status = suite<Context>('SchedulerDriver and the AGENT_STATUS event');

Status.before.each(async (ctx) => {
  ctx.master = await FakeMaster.start();
});
Status.after.each(async (ctx) => {
  await ctx.driver?.stop();
  await ctx.master.close();
});

Status('hands AGENT_STATUS to onAgentStatus and drops an unknown event type without reconnecting', async (ctx) => {
  const seen: AgentStatusEvent[] = [];
  const errors: Error[] = [];
  ctx.driver = new SchedulerDriver({
    master: ctx.master.address,
    frameworkInfo: { name: 'agent-status' },
    onAgentStatus: (event) => void seen.push(event),
    onError: (error) => void errors.push(error),
  });
  await ctx.driver.start();
  ctx.master.send({ type: 'SOMETHING_NEW', detail: 1 });
  ctx.master.send({ type: 'AGENT_STATUS', agentId: 'a1', hostname: 'h', status: 'DISCONNECTED', timestamp: 1000, reregisterTimeoutMs: 75_000 });
  ctx.master.send({ type: 'AGENT_STATUS', agentId: 'a1', status: 'REREGISTERED', timestamp: 5200, awayMs: 4200 });
  await waitFor(() => seen.length === 2, { message: 'two AGENT_STATUS events' });
  assert.is(seen[0]!.status, 'DISCONNECTED');
  assert.is(seen[0]!.reregisterTimeoutMs, 75_000);
  assert.is(seen[1]!.awayMs, 4200);
  assert.is(ctx.master.connections.length, 1, 'the unknown event did not close the connection');
  assert.equal(errors, []);
});

Status('reports and drops a malformed frame of a known type, and keeps the connection', async (ctx) => {
  const seen: AgentStatusEvent[] = [];
  const errors: Error[] = [];
  ctx.driver = new SchedulerDriver({ master: ctx.master.address, frameworkInfo: { name: 'x' }, backoffMinMs: 20, backoffMaxMs: 50, onAgentStatus: (event) => void seen.push(event), onError: (error) => void errors.push(error) });
  await ctx.driver.start();
  ctx.master.send({ type: 'AGENT_STATUS', agentId: '../bad', status: 'DISCONNECTED', timestamp: 1 });
  ctx.master.send({ type: 'AGENT_STATUS', agentId: 'a1', status: 'REREGISTERED', timestamp: 2, awayMs: 1 });
  await waitFor(() => seen.length === 1, { message: 'the well-formed event after the malformed one' });
  assert.is(seen[0]!.agentId, 'a1', 'the malformed event was not delivered');
  assert.ok(errors.some((error) => /agentId/.test(error.message)), errors.map((e) => e.message).join('\n'));
  assert.is(ctx.master.connections.length, 1, 'the malformed frame did not close the connection');
});

Status.run();
