import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fifo } from '../../src/collections/fifo.js';

const test = suite('fifo');

test('takes items off in the order they were pushed, and says undefined when empty', () => {
  const fifo = new Fifo<number>();
  assert.is(fifo.shift(), undefined);
  fifo.push(1);
  fifo.push(2);
  fifo.push(3);
  assert.is(fifo.length, 3);
  assert.is(fifo.at(0), 1);
  assert.is(fifo.at(2), 3);
  assert.is(fifo.at(3), undefined);
  assert.is(fifo.at(-1), undefined);
  assert.is(fifo.shift(), 1);
  assert.is(fifo.at(0), 2);
  assert.equal(fifo.toArray(), [2, 3]);
  assert.equal([...fifo], [2, 3]);
  assert.is(fifo.shift(), 2);
  assert.is(fifo.shift(), 3);
  assert.is(fifo.shift(), undefined);
  assert.is(fifo.length, 0);
});

test('stays in order across its compactions, with a long queue kept under a steady flow', () => {
  const fifo = new Fifo<number>();
  let next = 0;
  let expected = 0;
  for (let i = 0; i < 5_000; i++) fifo.push(next++);
  for (let round = 0; round < 20_000; round++) {
    fifo.push(next++);
    assert.is(fifo.shift(), expected++);
    if (round % 997 === 0) assert.is(fifo.at(4_999), next - 1);
  }
  assert.is(fifo.length, 5_000);
  assert.equal(fifo.toArray(), Array.from({ length: 5_000 }, (_, i) => expected + i));
});

test('removes an item from anywhere, the head included, and says whether it was there', () => {
  const fifo = new Fifo<string>();
  for (const item of ['a', 'b', 'c', 'd']) fifo.push(item);
  fifo.shift();
  assert.ok(fifo.remove('c'));
  assert.not.ok(fifo.remove('a')); // taken already
  assert.not.ok(fifo.remove('x'));
  assert.equal(fifo.toArray(), ['b', 'd']);
  assert.ok(fifo.remove('b'));
  assert.is(fifo.at(0), 'd');
  assert.ok(fifo.some((item) => item === 'd'));
  assert.not.ok(fifo.some((item) => item === 'b'));
});

test.run();
