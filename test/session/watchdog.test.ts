import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MISSED_HEARTBEATS, Watchdog } from '../../src/session/watchdog.js';
import { waitFor } from '../helpers.js';

const test = suite('Watchdog');

test('beats every interval while the peer is heard, and reports silence after the missed intervals', async () => {
  let beats = 0;
  let silent: number | undefined;
  const dog = new Watchdog({ intervalMs: 10, onBeat: () => beats++, onSilent: (ms) => (silent = ms) });
  dog.start();
  await waitFor(() => silent !== undefined, { timeoutMs: 5_000, message: 'the watchdog to report silence' });
  assert.ok(beats >= 1, `beats: ${beats}`);
  assert.ok(silent! > MISSED_HEARTBEATS * 10, `silent for ${silent} ms`);
  assert.is(dog.running, false);
});

test('a touched watchdog does not report silence', async () => {
  let silent = false;
  const dog = new Watchdog({ intervalMs: 20, onSilent: () => (silent = true) });
  dog.start();
  const until = Date.now() + 200;
  await waitFor(() => {
    dog.touch();
    return Date.now() > until;
  }, { timeoutMs: 5_000, message: 'time to pass', intervalMs: 5 });
  dog.stop();
  assert.is(silent, false);
});

test('refuses an interval that is not positive, naming it', () => {
  assert.throws(() => new Watchdog({ intervalMs: 0, onSilent() {} }), /intervalMs must be a positive number of milliseconds, got 0/);
});

test.run();
