// turnCorker on its own: one cork per turn, undone once the turn's promise callbacks have run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { turnCorker } from '../../src/session/turn-cork.js';

const test = suite('turn cork');

/** A stand-in socket that records cork and uncork calls (the corker touches nothing else). */
function recorder() {
  const calls: string[] = [];
  return { calls, socket: { cork: () => void calls.push('cork'), uncork: () => void calls.push('uncork') } };
}

test('corks once however many writes a turn makes, and uncorks after the turn\'s promise callbacks', async () => {
  const { calls, socket } = recorder();
  const cork = turnCorker(socket);
  cork();
  cork();
  await Promise.resolve().then(() => {
    cork();
    calls.push('write in a promise callback');
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(calls, ['cork', 'write in a promise callback', 'uncork']);
  cork();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(calls, ['cork', 'write in a promise callback', 'uncork', 'cork', 'uncork'], 'the next turn corks again');
});

test('two sockets are corked apart', async () => {
  const a = recorder();
  const b = recorder();
  turnCorker(a.socket)();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(a.calls, ['cork', 'uncork']);
  assert.equal(b.calls, []);
});

test.run();
