import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDuration, InvalidDurationError, parseDuration } from '../../src/protocol/index.js';

const duration = suite('duration');

duration('parses the Mesos forms', () => {
  assert.is(parseDuration('15mins'), 900_000);
  assert.is(parseDuration('2secs'), 2_000);
  assert.is(parseDuration('500ms'), 500);
  assert.is(parseDuration('1hrs'), 3_600_000);
  assert.is(parseDuration('1days'), 86_400_000);
  assert.is(parseDuration('1weeks'), 604_800_000);
  assert.is(parseDuration('1500us'), 1.5);
  assert.is(parseDuration('2000000ns'), 2);
  assert.is(parseDuration('1.5secs'), 1_500);
});

duration('parses the short forms', () => {
  assert.is(parseDuration('15m'), 900_000);
  assert.is(parseDuration('2s'), 2_000);
  assert.is(parseDuration('3h'), 10_800_000);
});

duration('rejects what is not a duration, naming the value', () => {
  for (const text of ['', '15', 'mins', '15 lightyears', '-1secs', '1e3ms', 'secs15']) {
    assert.throws(() => parseDuration(text), (error: unknown) => error instanceof InvalidDurationError && (error as Error).message.includes(JSON.stringify(text)), text);
  }
});

duration('formats in Mesos form with the largest exact unit', () => {
  assert.is(formatDuration(900_000), '15mins');
  assert.is(formatDuration(2_000), '2secs');
  assert.is(formatDuration(1_500), '1500ms');
  assert.is(formatDuration(604_800_000), '1weeks');
  assert.is(formatDuration(0), '0ms');
});

duration('round-trips every formatted value', () => {
  for (const ms of [1, 250, 1_000, 61_000, 90_000, 3_600_000, 86_400_000]) assert.is(parseDuration(formatDuration(ms)), ms);
});

duration.run();
