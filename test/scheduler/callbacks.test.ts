// The framework's callbacks on one chain: one at a time in event order, an UPDATE acknowledged only
// after onUpdate, a callback that throws reported (its update left unacknowledged), none once stopped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RoutedTaskStatus, SchedulerEvent } from '../../src/protocol/index.js';
import { Callbacks, type Acknowledgement, type CallbacksOptions } from '../../src/scheduler/callbacks.js';
import { waitFor } from '../helpers.js';

interface Context {
  seen: string[];
  acks: Acknowledgement[];
  errors: Error[];
  subscribed: string[];
  stopped: boolean;
}

function callbacks(ctx: Context, fields: Partial<CallbacksOptions> = {}): Callbacks {
  return new Callbacks({
    handlers: {},
    autoAcknowledge: true,
    stopped: () => ctx.stopped,
    subscribed: (id) => void ctx.subscribed.push(id),
    acknowledge: (ack) => void ctx.acks.push(ack),
    report: (error) => void ctx.errors.push(error),
    ...fields,
  });
}

const status = (uuid: string | undefined): RoutedTaskStatus => ({ taskId: 'task-1', state: 'TASK_RUNNING', timestamp: 1, source: 'SOURCE_EXECUTOR', agentId: 'agent-1', ...(uuid !== undefined && { uuid }) });
const update = (uuid?: string): SchedulerEvent => ({ type: 'UPDATE', status: status(uuid) });

const Chain = suite<Context>('scheduler/callbacks');

Chain.before.each((ctx) => {
  ctx.seen = [];
  ctx.acks = [];
  ctx.errors = [];
  ctx.subscribed = [];
  ctx.stopped = false;
});

Chain('runs callbacks one at a time, in event order, each after the previous one has settled', async (ctx) => {
  let release!: () => void;
  const chain = callbacks(ctx, {
    handlers: {
      onRescind: async (offerId) => {
        ctx.seen.push(`rescind ${offerId} start`);
        if (offerId === 'o-1') await new Promise<void>((resolve) => (release = resolve));
        ctx.seen.push(`rescind ${offerId} end`);
      },
      onMessage: (agentId) => void ctx.seen.push(`message ${agentId}`),
    },
  });
  chain.enqueue({ type: 'RESCIND', offerId: 'o-1' });
  chain.enqueue({ type: 'MESSAGE', agentId: 'a-1', executorId: 'e-1', data: new Uint8Array(0) });
  chain.enqueue({ type: 'RESCIND', offerId: 'o-2' });
  await waitFor(() => release !== undefined, { message: 'the first callback to start' });
  assert.equal(ctx.seen, ['rescind o-1 start']);
  release();
  await waitFor(() => ctx.seen.length === 5, { message: () => `all callbacks (${ctx.seen.join(', ')})` });
  assert.equal(ctx.seen, ['rescind o-1 start', 'rescind o-1 end', 'message a-1', 'rescind o-2 start', 'rescind o-2 end']);
});

Chain('acknowledges an UPDATE with a uuid and an agent once onUpdate has resolved', async (ctx) => {
  const chain = callbacks(ctx, { handlers: { onUpdate: async () => void ctx.seen.push(`update, ${ctx.acks.length} acked`) } });
  chain.enqueue(update('u-1'));
  chain.enqueue(update(undefined));
  chain.enqueue({ type: 'HEARTBEAT' });
  await waitFor(() => ctx.seen.length === 2, { message: 'both updates' });
  await waitFor(() => ctx.acks.length === 1, { message: 'the acknowledgement' });
  assert.equal(ctx.seen, ['update, 0 acked', 'update, 1 acked']);
  assert.equal(ctx.acks, [{ agentId: 'agent-1', taskId: 'task-1', uuid: 'u-1' }]);
});

Chain('leaves acknowledgement to the framework with autoAcknowledge false', async (ctx) => {
  const chain = callbacks(ctx, { autoAcknowledge: false, handlers: { onUpdate: () => void ctx.seen.push('update'), onRescind: () => void ctx.seen.push('next') } });
  chain.enqueue(update('u-1'));
  chain.enqueue({ type: 'RESCIND', offerId: 'o-1' });
  await waitFor(() => ctx.seen.length === 2, { message: 'the update and the event after it' });
  assert.equal(ctx.acks, []);
});

Chain('reports a callback that throws, leaves its update unacknowledged and goes on', async (ctx) => {
  const chain = callbacks(ctx, {
    handlers: {
      onUpdate: () => {
        throw new Error('framework bug');
      },
      onRescind: (offerId) => void ctx.seen.push(offerId),
    },
  });
  chain.enqueue(update('u-1'));
  chain.enqueue({ type: 'RESCIND', offerId: 'o-1' });
  await waitFor(() => ctx.seen.length === 1, { message: 'the callback after the one that threw' });
  assert.equal(ctx.errors.map((error) => error.message), ['framework bug']);
  assert.equal(ctx.acks, []);
});

Chain('settles start() after onSubscribed, even when onSubscribed throws', async (ctx) => {
  const chain = callbacks(ctx, {
    handlers: {
      onSubscribed: (id) => {
        ctx.seen.push(`subscribed ${id}, start settled ${ctx.subscribed.length}`);
        throw new Error('onSubscribed failed');
      },
    },
  });
  chain.enqueue({ type: 'SUBSCRIBED', frameworkId: 'fw-1', heartbeatIntervalMs: 1000 });
  await waitFor(() => ctx.errors.length === 1, { message: 'the error of onSubscribed' });
  assert.equal(ctx.seen, ['subscribed fw-1, start settled 0']);
  assert.equal(ctx.subscribed, ['fw-1']);
});

Chain('runs no callback, and acknowledges nothing, once the driver has stopped', async (ctx) => {
  let checks = 0;
  const chain = callbacks(ctx, {
    stopped: () => (checks++, ctx.stopped),
    handlers: {
      onUpdate: () => {
        ctx.seen.push('update');
        ctx.stopped = true;
      },
      onRescind: (offerId) => void ctx.seen.push(offerId),
    },
  });
  chain.enqueue(update('u-1'));
  chain.enqueue({ type: 'RESCIND', offerId: 'o-1' });
  // Before the update, before its acknowledgement, before the RESCIND.
  await waitFor(() => checks === 3, { message: () => `three checks of stopped() (${checks})` });
  assert.equal(ctx.seen, ['update']);
  assert.equal(ctx.acks, []);
});

Chain.run();
