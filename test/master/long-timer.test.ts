import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { longTimeout } from '../../src/master/long-timer.js';
import { waitFor } from '../helpers.js';

test('fires once after a short delay', async () => {
  let fired = 0;
  longTimeout(() => void fired++, 10);
  await waitFor(() => fired === 1, { message: 'the timer firing' });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.is(fired, 1);
});

test('does not fire early for a delay past setTimeout range (2^40 ms), and clear() stops it', async () => {
  let fired = false;
  const timer = longTimeout(() => (fired = true), 2 ** 40);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(fired, false);
  timer.clear();
});

test('clear() before the delay means it never fires', async () => {
  let fired = false;
  longTimeout(() => (fired = true), 20).clear();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(fired, false);
});

test.run();
