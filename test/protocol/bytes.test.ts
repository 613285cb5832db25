import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBytes, InvalidSizeError, parseBytes } from '../../src/protocol/index.js';

const bytes = suite('protocol/bytes');

bytes('parses Mesos sizes as binary multiples, and kubelet\'s Mi/Gi forms', () => {
  assert.is(parseBytes('10MB'), 10 * 1024 * 1024);
  assert.is(parseBytes('512KB'), 512 * 1024);
  assert.is(parseBytes('1GB'), 1024 ** 3);
  assert.is(parseBytes('10Mi'), 10 * 1024 * 1024);
  assert.is(parseBytes('2gi'), 2 * 1024 ** 3);
  assert.is(parseBytes('1.5KB'), 1536);
  assert.is(parseBytes('100B'), 100);
  assert.is(parseBytes('4096'), 4096);
});

bytes('refuses what is not a size, naming the value', () => {
  for (const text of ['', 'MB', '-1MB', '10 parsecs', '1e3KB', '99999999999TB']) {
    assert.throws(() => parseBytes(text), (error: unknown) => error instanceof InvalidSizeError && (error as Error).message.includes(JSON.stringify(text)), text);
  }
});

bytes('formats with the largest exact unit, and round-trips', () => {
  assert.is(formatBytes(10 * 1024 * 1024), '10MB');
  assert.is(formatBytes(1536), '1536B');
  assert.is(formatBytes(0), '0B');
  for (const n of [1, 1024, 3 * 1024 ** 3, 5 * 1024 ** 4]) assert.is(parseBytes(formatBytes(n)), n);
});

bytes.run();
