import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Random } from '../../../harness/lib/random.js';

const test = suite('scripts/lib/random');

test('repeats the same sequence for the same seed and differs for another', () => {
  const draw = (seed: number) => {
    const random = new Random(seed);
    return Array.from({ length: 20 }, () => random.int(0, 1_000_000));
  };
  assert.equal(draw(42), draw(42));
  assert.not.equal(draw(42), draw(43));
});

test('stays within its ranges', () => {
  const random = new Random(7);
  for (let i = 0; i < 10_000; i++) {
    const x = random.next();
    assert.ok(x >= 0 && x < 1, `next() gave ${x}`);
    const n = random.int(3, 5);
    assert.ok(n >= 3 && n <= 5 && Number.isInteger(n), `int(3, 5) gave ${n}`);
  }
  assert.is(random.bytes(33).length, 33);
});

test('refuses a seed that is not an integer', () => {
  assert.throws(() => new Random(1.5), /seed must be an integer, got 1\.5/);
});

test.run();
