// The executor's outbox on its own: durable updates with group commit, lazy ACKs, a torn tail left
// by an earlier writer, and a disk that fails (reported once per episode, retried, nothing lost).
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRecordLog, encodeRecords } from '../../src/checkpoint/record-log.js';
import { OUTBOX_TRANSITIONS, Outbox, type OutboxState } from '../../src/executor/outbox.js';
import { StateMachine } from '../../src/lifecycle/state-machine.js';
import { IllegalStateError, type LifelineError, type TaskStatus } from '../../src/protocol/index.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';

interface Context {
  dir: string;
  outboxes: Outbox[];
}

const OutboxSuite = suite<Context>('Outbox', { dir: '', outboxes: [] });

OutboxSuite.before.each((context) => {
  context.dir = tempDir('ll-outbox-');
  context.outboxes = [];
});

OutboxSuite.after.each(async (context) => {
  for (const outbox of context.outboxes) await outbox.close();
  removeDir(context.dir);
});

function status(n: number): TaskStatus {
  return { taskId: 'task-1', state: 'TASK_RUNNING', uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, timestamp: 1, source: 'SOURCE_EXECUTOR', message: `update ${n}` };
}

function open(context: Context, file = path.join(context.dir, 'outbox.log'), failures: Error[] = []): Outbox {
  const outbox = new Outbox(file, { onFailure: (error) => void failures.push(error) });
  context.outboxes.push(outbox);
  return outbox;
}

OutboxSuite('creates the log and makes an update durable before appendUpdate() resolves', async (context) => {
  const outbox = open(context);
  await outbox.opened;
  await outbox.appendUpdate(status(1));
  const { records } = await readRecordLog(outbox.path);
  assert.equal(records, [{ kind: 'UPDATE', status: status(1) }]);
  assert.is(outbox.stats.syncs, 1);
});

OutboxSuite('updates appended in one turn share one fdatasync; later ones form the next batch', async (context) => {
  const outbox = open(context);
  await outbox.opened;
  await Promise.all(Array.from({ length: 20 }, (_, i) => outbox.appendUpdate(status(i))));
  assert.is(outbox.stats.syncs, 1, 'one fdatasync for twenty updates');
  assert.is(outbox.stats.records, 20);
  await outbox.appendUpdate(status(20));
  assert.is(outbox.stats.syncs, 2);
  const { records } = await readRecordLog(outbox.path);
  assert.equal(
    records.map((record) => record.kind === 'UPDATE' && record.status.message),
    Array.from({ length: 21 }, (_, i) => `update ${i}`),
    'in the order they were appended',
  );
});

OutboxSuite('ACK records are written without a sync of their own, batched, after their updates', async (context) => {
  const outbox = open(context);
  await outbox.appendUpdate(status(1));
  await outbox.appendUpdate(status(2));
  const syncs = outbox.stats.syncs;
  outbox.appendAck(status(2).uuid);
  outbox.appendAck(status(1).uuid);
  await outbox.close();
  assert.is(outbox.stats.syncs, syncs, 'no fdatasync for ACKs');
  const { records } = await readRecordLog(outbox.path);
  assert.equal(
    records.map((record) => (record.kind === 'ACK' ? `ACK ${record.uuid.slice(-1)}` : `UPDATE ${record.status.uuid.slice(-1)}`)),
    ['UPDATE 1', 'UPDATE 2', 'ACK 2', 'ACK 1'],
  );
});

OutboxSuite('flush() resolves once every update appended so far is durable', async (context) => {
  const outbox = open(context);
  void outbox.appendUpdate(status(1));
  void outbox.appendUpdate(status(2));
  await outbox.flush();
  assert.is((await readRecordLog(outbox.path)).records.length, 2);
});

OutboxSuite('a log whose last record was torn by a crash is cut back before appending, so it stays readable', async (context) => {
  const file = path.join(context.dir, 'outbox.log');
  const good = encodeRecords([{ kind: 'UPDATE', status: status(1) }]);
  const torn = encodeRecords([{ kind: 'UPDATE', status: status(2) }]).subarray(0, 20);
  fs.writeFileSync(file, Buffer.concat([good, torn]));
  const outbox = open(context, file);
  await outbox.appendUpdate(status(3));
  const contents = await readRecordLog(file);
  assert.is(contents.tornTail, false);
  assert.equal(
    contents.records.map((record) => record.kind === 'UPDATE' && record.status.message),
    ['update 1', 'update 3'],
  );
});

OutboxSuite('a disk that fails is reported once; the updates wait, are retried on a backoff and become durable in order once it works', async (context) => {
  const file = path.join(context.dir, 'outbox.log');
  fs.symlinkSync('/dev/full', file);
  const failures: Error[] = [];
  const outbox = new Outbox(file, { onFailure: (error) => void failures.push(error), retryMinMs: 5, retryMaxMs: 20 });
  context.outboxes.push(outbox);
  await outbox.opened;
  let durable = 0;
  const appends = [1, 2, 3].map((i) => outbox.appendUpdate(status(i)).then(() => void durable++));
  await outbox.quiet();
  assert.is(outbox.state, 'FAILING');
  outbox.appendAck(status(1).uuid);
  const appendedLater = outbox.appendUpdate(status(4)).then(() => void durable++);
  // Several retries against the full device: still one report, nothing durable, nothing rejected.
  await waitFor(() => outbox.retries >= 3, { message: 'three reopen attempts' });
  assert.is(durable, 0, 'nothing durable while the disk is full');
  assert.is(failures.length, 1, 'reported once');
  assert.match(failures[0]!.message, /cannot write the outbox .*outbox\.log/);
  assert.is((failures[0] as NodeJS.ErrnoException).code, 'ENOSPC');
  // Space again: a regular file where the full device was.
  fs.rmSync(file);
  fs.writeFileSync(file, '');
  await Promise.all([...appends, appendedLater]);
  assert.is(durable, 4);
  assert.is(outbox.state, 'OPEN');
  const { records } = await readRecordLog(file);
  assert.equal(records.filter((r) => r.kind === 'UPDATE').map((r) => r.kind === 'UPDATE' && r.status.message), ['update 1', 'update 2', 'update 3', 'update 4']);
});

OutboxSuite('closing an outbox that waits for its disk rejects the waiting updates', async (context) => {
  const file = path.join(context.dir, 'outbox.log');
  fs.symlinkSync('/dev/full', file);
  const outbox = new Outbox(file, { onFailure: () => {}, retryMinMs: 5, retryMaxMs: 20 });
  await outbox.opened;
  const waiting = outbox.appendUpdate(status(1));
  await outbox.quiet();
  await outbox.close();
  const error = await waiting.then(() => undefined, (e: LifelineError) => e);
  assert.is(error?.code, 'ERR_DRIVER_STOPPED');
  await outbox.appendUpdate(status(2)).then(() => assert.unreachable('closed'), (e: LifelineError) => assert.is(e.code, 'ERR_DRIVER_STOPPED'));
});

OutboxSuite('compacts a log grown past compactAtBytes: acknowledged history goes, what is unacknowledged stays, in order', async (context) => {
  const file = path.join(context.dir, 'outbox.log');
  const outbox = new Outbox(file, { onFailure: () => {}, compactAtBytes: 8 * 1024 });
  context.outboxes.push(outbox);
  await outbox.opened;
  let largest = 0;
  for (let i = 0; i < 600; i++) {
    await outbox.appendUpdate(status(i));
    outbox.appendAck(status(i).uuid);
    largest = Math.max(largest, fs.statSync(file).size);
  }
  const pending = [600, 601, 602].map((i) => status(i));
  await Promise.all(pending.map((s) => outbox.appendUpdate(s)));
  await outbox.close();
  assert.ok(outbox.compactions >= 3, `${outbox.compactions} compactions`);
  // Bounded by what a compaction keeps (64 acknowledged updates) plus compactAtBytes.
  assert.ok(largest < 24 * 1024, `the outbox stayed small: largest ${largest} bytes`);
  const { records } = await readRecordLog(file);
  const acked = new Set(records.flatMap((r) => (r.kind === 'ACK' ? [r.uuid] : [])));
  const unacked = records.flatMap((r) => (r.kind === 'UPDATE' && !acked.has(r.status.uuid) ? [r.status.message] : []));
  assert.equal(unacked, ['update 600', 'update 601', 'update 602']);
  assert.ok(records.length < 300, `${records.length} records left`);
});

OutboxSuite('a directory that cannot hold the log rejects `opened` with the fs error', async (context) => {
  const outbox = open(context, path.join(context.dir, 'missing', 'outbox.log'));
  let error: NodeJS.ErrnoException | undefined;
  await outbox.opened.catch((e: NodeJS.ErrnoException) => (error = e));
  assert.is(error?.code, 'ENOENT');
  await outbox.appendUpdate(status(1));
});

const Lifecycle = suite('Outbox lifecycle');

Lifecycle('moves OPENING → OPEN ⇄ FAILING → CLOSED; a BROKEN one (never opened) is not reopened', () => {
  const machine = new StateMachine<OutboxState>('outbox /x/outbox.log', 'OPENING', OUTBOX_TRANSITIONS);
  machine.transition('OPEN');
  machine.transition('FAILING');
  machine.transition('OPEN');
  machine.transition('CLOSED');
  assert.is(machine.state, 'CLOSED');
  const broken = new StateMachine<OutboxState>('outbox /x/outbox.log', 'OPENING', OUTBOX_TRANSITIONS);
  broken.transition('BROKEN');
  assert.not.ok(broken.can('OPEN'), 'a broken outbox is not reopened');
});

Lifecycle('refuses an illegal move by name', () => {
  const machine = new StateMachine<OutboxState>('outbox /x/outbox.log', 'CLOSED', OUTBOX_TRANSITIONS);
  assert.throws(
    () => machine.transition('OPEN'),
    (error: unknown) => error instanceof IllegalStateError && (error as Error).message === 'cannot move outbox /x/outbox.log from CLOSED to OPEN',
  );
});

OutboxSuite.run();
Lifecycle.run();
