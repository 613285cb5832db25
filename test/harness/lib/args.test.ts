import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseScriptFlags } from '../../../harness/lib/args.js';

const test = suite('scripts/lib/args');
const DEFAULTS = { rounds: 10, seed: 1, only: 'a,b', quick: false };

test('types flags by their defaults and accepts kebab-case', () => {
  const flags = parseScriptFlags('x', { ...DEFAULTS, max_frames: 3 }, ['--rounds=200', '--only=b', '--quick', '--max-frames=7']);
  assert.equal(flags, { rounds: 200, seed: 1, only: 'b', quick: true, max_frames: 7 });
});

test('keeps the defaults when no flag is given', () => {
  assert.equal(parseScriptFlags('x', DEFAULTS, []), DEFAULTS);
});

test('names the flag and the value when a flag is wrong', () => {
  assert.throws(() => parseScriptFlags('x', DEFAULTS, ['--rounds=many']), (e: Error) => e.message === 'x: --rounds must be a number, got "many"');
  assert.throws(() => parseScriptFlags('x', DEFAULTS, ['--quick=maybe']), /--quick must be true or false, got "maybe"/);
  assert.throws(() => parseScriptFlags('x', DEFAULTS, ['--colour=red']), /unknown flag --colour \(known: --rounds --seed --only --quick\)/);
  assert.throws(() => parseScriptFlags('x', DEFAULTS, ['rounds']), /unexpected argument "rounds"/);
});

test.run();
