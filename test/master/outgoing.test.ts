import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentOutgoing, fitSchedulerEvent, fitText, MAX_MESSAGE, pieces, schedulerOutgoing } from '../../src/master/outgoing.js';
import type { Logger } from '../../src/log.js';

function recording(lines: Array<{ obj: unknown; msg: string | undefined }>): Logger {
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (obj, msg) => void lines.push({ obj, msg }), child: () => logger };
  return logger;
}

test('fitText leaves a short text alone and cuts a long one to the limit, saying so', () => {
  assert.is(fitText('short'), 'short');
  const cut = fitText('x'.repeat(MAX_MESSAGE + 10));
  assert.is(cut.length, MAX_MESSAGE);
  assert.match(cut, /… \(cut to fit\)$/);
});

test("the scheduler check cuts an UPDATE's message of 70,000 characters to what the driver's schema accepts", () => {
  const lines: Array<{ obj: unknown; msg: string | undefined }> = [];
  const prepare = schedulerOutgoing(recording(lines));
  const status = { taskId: 't1', state: 'TASK_DROPPED' as const, uuid: 'abcdef0123', timestamp: 1, message: 'm'.repeat(70_000) };
  const ready = prepare({ type: 'UPDATE', status });
  assert.ok(ready && ready.type === 'UPDATE');
  assert.is(ready.status.message!.length, MAX_MESSAGE);
  assert.is(status.message.length, 70_000, 'the event built is not changed in place');
  assert.equal(lines, []);
  assert.is(fitSchedulerEvent({ type: 'HEARTBEAT' }).type, 'HEARTBEAT');
});

test('the scheduler check refuses an OFFERS with cpus Infinity, with a log line naming the code and the field', () => {
  const lines: Array<{ obj: unknown; msg: string | undefined }> = [];
  const prepare = schedulerOutgoing(recording(lines));
  const ready = prepare({ type: 'OFFERS', offers: [{ id: 'o1', agentId: 'a1', hostname: 'h', resources: { cpus: Infinity, mem: 1 } }] });
  assert.is(ready, undefined);
  assert.is(lines.length, 1);
  assert.match(lines[0]!.msg!, /event not sent: it fails the scheduler's schema/);
  assert.equal((lines[0]!.obj as { code: string; field: string }).code, 'ERR_PROTOCOL');
  assert.equal((lines[0]!.obj as { field: string }).field, 'offers.0.resources.cpus');
});

test('the agent check cuts a SHUTDOWN message and refuses a REGISTERED without an agent ID', () => {
  const lines: Array<{ obj: unknown; msg: string | undefined }> = [];
  const prepare = agentOutgoing(recording(lines));
  const shutdown = prepare({ type: 'SHUTDOWN', message: 's'.repeat(MAX_MESSAGE * 2) });
  assert.ok(shutdown && shutdown.type === 'SHUTDOWN' && shutdown.message.length === MAX_MESSAGE);
  assert.is(prepare({ type: 'REGISTERED', agentId: '', pingIntervalMs: 1000 }), undefined);
  assert.is(lines.length, 1);
});

test('pieces splits a list into runs of at most the size, in order', () => {
  assert.equal(pieces([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.equal(pieces([], 3), []);
});

test.run();
