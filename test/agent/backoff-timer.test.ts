import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BackoffTimer, REAL_TIMERS, type Timers } from '../../src/agent/backoff-timer.js';
import { waitFor } from '../helpers.js';

/** Timers the test fires by hand, remembering every delay asked for (unit tests only). */
function manualTimers() {
  const delays: number[] = [];
  let pending: Array<{ callback: () => void }> = [];
  const timers: Timers = {
    setTimeout(callback, ms) {
      const timer = { callback };
      pending.push(timer);
      delays.push(ms);
      return timer;
    },
    clearTimeout(handle) {
      pending = pending.filter((timer) => timer !== handle);
    },
  };
  const fire = () => pending.shift()!.callback();
  return { timers, delays, fire, pending: () => pending.length };
}

const test = suite('BackoffTimer');

test('waits the first delay, then doubles it on every arming up to the max', () => {
  const { timers, delays, fire } = manualTimers();
  const backoff = new BackoffTimer(timers, 100, 500);
  let calls = 0;
  const again = () => {
    calls += 1;
    backoff.arm(again);
  };
  backoff.arm(again);
  for (let i = 0; i < 4; i++) fire();
  assert.equal(delays, [100, 200, 400, 500, 500]);
  assert.is(calls, 4);
});

test('keeps one callback pending: arming again replaces the one before', () => {
  const { timers, fire, pending } = manualTimers();
  const backoff = new BackoffTimer(timers, 10, 100);
  const fired: string[] = [];
  backoff.arm(() => fired.push('first'));
  backoff.arm(() => fired.push('second'));
  assert.is(pending(), 1);
  fire();
  assert.equal(fired, ['second']);
  assert.not.ok(backoff.armed, 'not armed once it has fired');
});

test('clear cancels without resetting the delay; reset starts from the first delay again', () => {
  const { timers, delays, pending } = manualTimers();
  const backoff = new BackoffTimer(timers, 10, 100);
  backoff.arm(() => {});
  assert.ok(backoff.armed);
  backoff.clear();
  assert.not.ok(backoff.armed);
  assert.is(pending(), 0);
  assert.is(backoff.delayMs, 20);
  backoff.reset();
  backoff.arm(() => {});
  assert.equal(delays, [10, 10]);
});

test('runs on real timers by default', async () => {
  const backoff = new BackoffTimer(REAL_TIMERS, 1, 2);
  let fired = false;
  backoff.arm(() => (fired = true));
  await waitFor(() => fired, { timeoutMs: 2_000, message: 'the real timer to fire' });
  assert.not.ok(backoff.armed);
});

test('refuses a delay that is not positive, or a max under the min, naming the option', () => {
  assert.throws(() => new BackoffTimer(REAL_TIMERS, 0, 10), /option minMs must be a positive number, got 0/);
  assert.throws(() => new BackoffTimer(REAL_TIMERS, 10, 5), /option maxMs must be a number ≥ minMs \(10\), got 5/);
});

test.run();
