import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConnectionError,
  FlagError,
  IllegalStateError,
  InvalidDurationError,
  InvalidSizeError,
  InvalidIdError,
  InvalidOptionError,
  LifelineError,
  ProtocolError,
  show,
  SocketPathTooLongError,
  UnauthorizedError,
} from '../../src/protocol/errors.js';

const errors = suite('protocol/errors');

errors('gives every error its stable code, its class name and LifelineError as a base', () => {
  const cases: Array<[LifelineError, string, string]> = [
    [new InvalidIdError('taskId', '../x'), 'ERR_INVALID_ID', 'InvalidIdError'],
    [new ProtocolError('bad'), 'ERR_PROTOCOL', 'ProtocolError'],
    [new UnauthorizedError('no'), 'ERR_UNAUTHORIZED', 'UnauthorizedError'],
    [new InvalidDurationError('5x'), 'ERR_INVALID_DURATION', 'InvalidDurationError'],
    [new InvalidSizeError('5x'), 'ERR_INVALID_SIZE', 'InvalidSizeError'],
    [new FlagError('--x'), 'ERR_INVALID_FLAG', 'FlagError'],
    [new InvalidOptionError('port', -1, 'a port'), 'ERR_INVALID_OPTION', 'InvalidOptionError'],
    [new SocketPathTooLongError('/s', '--runtime_dir'), 'ERR_SOCKET_PATH_TOO_LONG', 'SocketPathTooLongError'],
    [new IllegalStateError('no'), 'ERR_ILLEGAL_STATE', 'IllegalStateError'],
    [new ConnectionError('gone'), 'ERR_CONNECTION', 'ConnectionError'],
  ];
  for (const [error, code, name] of cases) {
    assert.instance(error, LifelineError);
    assert.instance(error, Error);
    assert.is(error.code, code);
    assert.is(error.name, name);
    assert.ok(error.stack?.startsWith(`${name}: `), error.stack);
  }
});

errors('names a subclass declared outside this module after itself', () => {
  class CustomError extends LifelineError {
    constructor() {
      super('ERR_TIMEOUT', 'took too long');
    }
  }
  const error = new CustomError();
  assert.is(error.name, 'CustomError');
  assert.is(error.code, 'ERR_TIMEOUT');
  assert.is(error.message, 'took too long');
});

errors('keeps the cause it was given', () => {
  const cause = new Error('root');
  assert.is(new ProtocolError('bad frame', { cause }).cause, cause);
  assert.is(new ConnectionError('lost', { cause }).cause, cause);
  assert.is(new FlagError('bad flag', { cause }).cause, cause);
  assert.is(new InvalidIdError('taskId', 'x/y', { cause }).cause, cause);
  assert.is(new ProtocolError('no cause').cause, undefined);
});

errors('says which ID is invalid, shows it, and gives the rule', () => {
  const { message } = new InvalidIdError('frameworkId', 'a/b');
  assert.is(message, 'invalid frameworkId: "a/b" (an ID must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$)');
});

errors('shows a bad duration with examples of good ones', () => {
  assert.match(new InvalidDurationError('5 parsecs').message, /^invalid duration: "5 parsecs" \(use e\.g\. 500ms/);
});

errors('names the option, what it must be and the value it got', () => {
  assert.is(new InvalidOptionError('heartbeatIntervalMs', 'soon', 'a positive number').message, 'option heartbeatIntervalMs must be a positive number, got "soon"');
  assert.is(new InvalidOptionError('port', undefined, 'a port').message, 'option port must be a port, got undefined');
});

errors('measures a socket path in bytes, not characters, and names the flag to change', () => {
  const socketPath = `/tmp/${'é'.repeat(60)}/agent.sock`;
  const { message } = new SocketPathTooLongError(socketPath, '--runtime_dir');
  assert.ok(message.includes(`is ${Buffer.byteLength(socketPath)} bytes`), message);
  assert.not.ok(message.includes(`is ${socketPath.length} bytes`), message);
  assert.match(message, /107-byte limit/);
  assert.match(message, /choose a shorter --runtime_dir$/);
});

errors('show quotes strings and escapes control characters', () => {
  assert.is(show('abc'), '"abc"');
  assert.is(show('a\nb\u0000'), '"a\\nb\\u0000"');
});

errors('show cuts long strings and long JSON at 80 characters', () => {
  assert.is(show('x'.repeat(100)), `"${'x'.repeat(80)}…"`);
  const long = show({ list: Array.from({ length: 100 }, (_, i) => i) });
  assert.is(long.length, 81);
  assert.ok(long.endsWith('…'));
});

errors('show prints values that JSON cannot', () => {
  assert.is(show(undefined), 'undefined');
  assert.is(show(12n), '12n');
  assert.is(show(NaN), 'NaN');
  assert.is(show(Infinity), 'Infinity');
  assert.is(show(-Infinity), '-Infinity');
  assert.is(show(() => 1), '() => 1');
  assert.is(show(Symbol('s')), 'Symbol(s)');
  assert.is(show(null), 'null');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.is(show(cyclic), '[object Object]');
  assert.is(show({ big: 1n }), '[object Object]');
});

errors.run();
