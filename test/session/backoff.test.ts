import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBackoff, firstDelayMs, pause, pRetryBackoff } from '../../src/session/backoff.js';

const test = suite('session backoff');

test('refuses a backoff that makes no sense, naming the option and the value', () => {
  assert.throws(() => checkBackoff({ minMs: -1, maxMs: 10 }), /backoff\.minMs.*-1/);
  assert.throws(() => checkBackoff({ minMs: 20, maxMs: 10 }), /backoff\.maxMs.*10/);
  assert.throws(() => checkBackoff({ minMs: 1, maxMs: 10, factor: 0.5 }), /backoff\.factor.*0\.5/);
  checkBackoff({ minMs: 0, maxMs: 0 });
});

test('gives p-retry an endless, capped, randomized series that keeps the process alive', () => {
  assert.equal(pRetryBackoff({ minMs: 20, maxMs: 500 }), { retries: Number.POSITIVE_INFINITY, minTimeout: 20, maxTimeout: 500, factor: 2, randomize: true, unref: false });
  assert.is(pRetryBackoff({ minMs: 20, maxMs: 500, factor: 3, randomize: false }).factor, 3);
});

test('the first delay is the minimum, randomized within [min, 2·min), and never over the cap', () => {
  assert.is(firstDelayMs({ minMs: 100, maxMs: 1_000, randomize: false }), 100);
  for (let i = 0; i < 200; i++) {
    const delay = firstDelayMs({ minMs: 100, maxMs: 1_000 });
    assert.ok(delay >= 100 && delay <= 200, `delay ${delay}`);
  }
  assert.is(firstDelayMs({ minMs: 100, maxMs: 120, randomize: false }), 100);
  assert.ok(firstDelayMs({ minMs: 100, maxMs: 120 }) <= 120);
});

test('pause() resolves after its time, or at once when its signal aborts', async () => {
  const started = performance.now();
  await pause(20, new AbortController().signal);
  assert.ok(performance.now() - started >= 15);
  const aborted = new AbortController();
  const waiting = pause(60_000, aborted.signal);
  aborted.abort();
  await waiting;
  const already = new AbortController();
  already.abort();
  await pause(60_000, already.signal);
});

test.run();
