import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { barLine, parseBarLines } from '../../../harness/lib/report.js';

const test = suite('scripts/lib/report');

test('computes the ratio as value / baseline and keeps the issue\'s key order', () => {
  const line = barLine('updates', 100, 'durable-updates', 12_000, 'ops/s', 800);
  assert.is(line.ratio, 15);
  assert.equal(Object.keys(line), ['bench', 'n', 'metric', 'value', 'unit', 'baseline', 'ratio']);
});

test('rounds to three decimals', () => {
  assert.is(barLine('shim-rss', 1, 'peak-rss', 52.123456, 'MiB', 40).ratio, 1.303);
});

test('refuses a figure that is not a finite number, naming it', () => {
  assert.throws(() => barLine('reconnect', 200, 'resubscribe-max', Number.NaN, 'ms', 1), /value must be a finite number, got NaN/);
  assert.throws(() => barLine('reconnect', 200, 'resubscribe-max', 1, 'ms', Infinity), /baseline must be a finite number/);
});

test('reads back the bar lines among other output', () => {
  const line = barLine('launch', 100, 'tasks-per-second', 30, 'ops/s', 40);
  const stdout = `a table\n${JSON.stringify(line)}\n  {"not": "a bar"}\n`;
  assert.equal(parseBarLines(stdout), [line]);
});

test.run();
