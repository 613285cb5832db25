// The in-memory update store: records kept in order, one batch per append, and what it holds is
// what the status update manager gave it (the durable store is checkpoint-store.ts, tested there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryUpdateStore, type UpdateRecord } from '../../src/agent/update-store.js';

const Store = suite('MemoryUpdateStore');

const update = (n: number): UpdateRecord => ({
  kind: 'UPDATE',
  frameworkId: 'f1',
  status: { taskId: 't1', state: 'TASK_RUNNING', uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, timestamp: n, agentId: 'a1', executorId: 'e1' },
});

Store('keeps every record in the order appended, and counts one batch per append', async () => {
  const store = new MemoryUpdateStore();
  const ack: UpdateRecord = { kind: 'ACK', frameworkId: 'f1', taskId: 't1', uuid: '00000000-0000-4000-8000-000000000001' };
  assert.is(await store.append([update(1), update(2)]), undefined, 'resolves with nothing: every record durable');
  await store.append([ack]);
  await store.append([]);
  assert.equal(store.records, [update(1), update(2), ack]);
  assert.is(store.batches, 3);
});

Store.run();
