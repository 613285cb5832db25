import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LifelineError } from '../../src/protocol/index.js';
import type { Logger } from '../../src/log.js';
import { isDiskError, RecordBatcher } from '../../src/agent/record-batcher.js';
import { MemoryUpdateStore, type UpdateRecord, type UpdateStore } from '../../src/agent/update-store.js';

type Line = { level: string; msg: string };

/** A Logger that keeps every line (a stand-in for pino, unit tests only). */
function recordingLogger(lines: Line[]): Logger {
  const keep = (level: string) => (obj: object | string, msg?: string) => lines.push({ level, msg: typeof obj === 'string' ? obj : (msg ?? '') });
  const logger: Logger = { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error'), child: () => logger };
  return logger;
}

function update(taskId = 't1'): UpdateRecord {
  return { kind: 'UPDATE', frameworkId: 'f1', status: { taskId, state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: 0, source: 'SOURCE_EXECUTOR', agentId: 'a1', executorId: 'e1' } };
}

const diskFull = () => new LifelineError('ERR_DISK', 'cannot make records durable in t1/task.updates: ENOSPC');

const test = suite('RecordBatcher');

test('appends the records of one event-loop turn as one batch, in order', async () => {
  const store = new MemoryUpdateStore();
  const batcher = new RecordBatcher(store, recordingLogger([]));
  const records = [update(), update('t2'), { kind: 'ACK', frameworkId: 'f1', taskId: 't1', uuid: 'u' } as const];
  await Promise.all(records.map((r) => batcher.record(r)));
  assert.is(store.batches, 1);
  assert.equal(store.records, records);
  await batcher.record(update());
  assert.is(store.batches, 2);
});

test('idle resolves once every record handed in has been appended', async () => {
  const store = new MemoryUpdateStore();
  const batcher = new RecordBatcher(store, recordingLogger([]));
  void batcher.record(update());
  await batcher.idle();
  assert.is(store.records.length, 1);
});

test('a record the disk refused rejects alone and stalls its stream; the stream\'s later UPDATEs then wait', async () => {
  const lines: Line[] = [];
  const first = update();
  const store: UpdateStore = { append: async (records) => records.map((r) => (r === first ? diskFull() : undefined)) };
  const batcher = new RecordBatcher(store, recordingLogger(lines));
  const stream = { stalled: false };
  const other = update('t2');
  const results = await Promise.allSettled([batcher.record(first, stream), batcher.record(other)]);
  assert.is(results[0].status, 'rejected');
  assert.ok(isDiskError((results[0] as PromiseRejectedResult).reason));
  assert.is(results[1].status, 'fulfilled');
  assert.ok(stream.stalled);
  assert.equal(lines, [{ level: 'debug', msg: 'status update record refused by the disk: retried on a backoff' }]);
  const waiting = await batcher.record(update(), stream).catch((error: unknown) => error);
  assert.instance(waiting, LifelineError);
  assert.match((waiting as Error).message, /waiting for the retry of an earlier record of its stream/);
});

test('any other failure rejects the whole batch and is logged as an error', async () => {
  const lines: Line[] = [];
  const store: UpdateStore = { append: async () => { throw new Error('broken'); } };
  const batcher = new RecordBatcher(store, recordingLogger(lines));
  const stream = { stalled: false };
  const results = await Promise.allSettled([batcher.record(update(), stream), batcher.record(update())]);
  assert.equal(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.not.ok(stream.stalled, 'only the disk stalls a stream');
  assert.equal(lines.map((l) => `${l.level}: ${l.msg}`), ['error: could not record a status update', 'error: could not record a status update']);
});

test.run();
