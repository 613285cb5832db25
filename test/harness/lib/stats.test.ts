import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { median, percentile, summarize } from '../../../harness/lib/stats.js';

const test = suite('scripts/lib/stats');

test('takes percentiles by nearest rank, whatever the input order', () => {
  const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.is(percentile(values, 0), 1);
  assert.is(percentile(values, 50), 5);
  assert.is(percentile(values, 90), 9);
  assert.is(percentile(values, 99), 10);
  assert.is(percentile(values, 100), 10);
  assert.is(median([3, 1, 2]), 2);
});

test('does not reorder the caller\'s array', () => {
  const values = [3, 1, 2];
  percentile(values, 50);
  assert.equal(values, [3, 1, 2]);
});

test('gives NaN for no values and refuses a percentile outside 0..100', () => {
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile([1], 101), /p must be within 0\.\.100, got 101/);
});

test('summarizes count, min, p50, p99 and max', () => {
  const values = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.equal(summarize(values), { n: 200, min: 1, p50: 100, p99: 198, max: 200 });
});

test.run();
