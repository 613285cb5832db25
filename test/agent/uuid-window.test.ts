import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { forgetOldUuids, UUID_WINDOW } from '../../src/agent/uuid-window.js';

const Window = suite('forgetOldUuids');

const map = (...keys: string[]) => new Map(keys.map((key) => [key, true]));

Window('forgets the oldest until at most max are left', () => {
  const uuids = map('a', 'b', 'c', 'd', 'e');
  assert.is(forgetOldUuids(uuids, undefined, 3), 2);
  assert.equal([...uuids.keys()], ['c', 'd', 'e']);
});

Window('never forgets the head in flight, nor anything after it', () => {
  const uuids = map('a', 'b', 'c', 'd', 'e');
  assert.is(forgetOldUuids(uuids, 'b', 2), 1);
  assert.equal([...uuids.keys()], ['b', 'c', 'd', 'e']);
});

Window('leaves a map under the bound alone', () => {
  const uuids = map('a', 'b');
  assert.is(forgetOldUuids(uuids, undefined, 2), 0);
  assert.equal([...uuids.keys()], ['a', 'b']);
});

Window('the default window is the executor backlog bound, 10,000', () => {
  assert.is(UUID_WINDOW, 10_000);
  const uuids = new Map(Array.from({ length: UUID_WINDOW + 3 }, (_, i) => [`u${i}`, i]));
  assert.is(forgetOldUuids(uuids, undefined), 3);
  assert.is(uuids.keys().next().value, 'u3');
});

Window.run();
