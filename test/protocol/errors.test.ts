import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConnectionError,
  FlagError,
  IllegalStateError,
  InvalidDurationError,
  InvalidIdError,
  InvalidOptionError,
  LifelineError,
  ProtocolError,
  SocketPathTooLongError,
  UnauthorizedError,
  show,
} from '../../src/protocol/errors.js';

const test = suite('protocol errors');

test('every error is a LifelineError with a stable code and its own name', () => {
  const cases: Array<[LifelineError, string, string]> = [
    [new InvalidIdError('taskId', '../x'), 'ERR_INVALID_ID', 'InvalidIdError'],
    [new ProtocolError('bad'), 'ERR_PROTOCOL', 'ProtocolError'],
    [new UnauthorizedError('no'), 'ERR_UNAUTHORIZED', 'UnauthorizedError'],
    [new InvalidDurationError('5 parsecs'), 'ERR_INVALID_DURATION', 'InvalidDurationError'],
    [new FlagError('--x'), 'ERR_INVALID_FLAG', 'FlagError'],
    [new InvalidOptionError('o', 1, 'a string'), 'ERR_INVALID_OPTION', 'InvalidOptionError'],
    [new SocketPathTooLongError('/x', '--runtime_dir'), 'ERR_SOCKET_PATH_TOO_LONG', 'SocketPathTooLongError'],
    [new IllegalStateError('no move'), 'ERR_ILLEGAL_STATE', 'IllegalStateError'],
    [new ConnectionError('gone'), 'ERR_CONNECTION', 'ConnectionError'],
  ];
  for (const [error, code, name] of cases) {
    assert.instance(error, LifelineError);
    assert.instance(error, Error);
    assert.is(error.code, code);
    assert.is(error.name, name);
  }
});

test('messages name the thing and show the bad value', () => {
  assert.is(new InvalidIdError('taskId', '../x').message, 'invalid taskId: "../x" (an ID must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$)');
  assert.is(new InvalidOptionError('backoffMaxMs', -1, 'a non-negative number').message, 'option backoffMaxMs must be a non-negative number, got -1');
  assert.match(new InvalidDurationError('5 parsecs').message, /invalid duration: "5 parsecs"/);
  const long = `/${'d'.repeat(120)}/agent.sock`;
  assert.match(new SocketPathTooLongError(long, '--runtime_dir').message, new RegExp(`is ${Buffer.byteLength(long)} bytes, over the 107-byte limit.*choose a shorter --runtime_dir`));
});

test('the cause is kept', () => {
  const cause = new Error('ECONNREFUSED');
  assert.is(new ConnectionError('cannot connect', { cause }).cause, cause);
});

test('show() quotes strings, escapes control characters, cuts long values and survives cycles', () => {
  assert.is(show('a\nb'), '"a\\nb"');
  assert.is(show(undefined), 'undefined');
  assert.is(show(10n), '10n');
  assert.is(show({ a: 1 }), '{"a":1}');
  assert.is(show('x'.repeat(100)), JSON.stringify(`${'x'.repeat(80)}…`));
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.is(show(cycle), '[object Object]');
});

test.run();
