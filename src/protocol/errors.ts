// Typed errors with stable codes. Users match on `code`, never on message text; messages say what
// happened, to what (field, value, file) and what to do about it.

export type ErrorCode =
  | 'ERR_INVALID_ID'
  | 'ERR_INVALID_DURATION'
  | 'ERR_INVALID_SIZE'
  | 'ERR_INVALID_FLAG'
  | 'ERR_INVALID_OPTION'
  | 'ERR_PROTOCOL'
  | 'ERR_PROTOCOL_VERSION'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_UNKNOWN_EXECUTOR'
  | 'ERR_SOCKET_PATH_TOO_LONG'
  | 'ERR_AGENT_ALREADY_RUNNING'
  | 'ERR_ILLEGAL_STATE'
  | 'ERR_CONNECTION'
  | 'ERR_NOT_SUBSCRIBED'
  | 'ERR_DRIVER_STOPPED'
  | 'ERR_ENVIRONMENT'
  | 'ERR_CHECKPOINT_CORRUPT'
  | 'ERR_CHECKPOINT_FORMAT'
  | 'ERR_DIRECTORY'
  | 'ERR_DISK'
  | 'ERR_RECOVERY'
  | 'ERR_TIMEOUT'
  | 'ERR_NOT_LEADER';

export class LifelineError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An ID (agent, framework, executor, container, task) that cannot safely become a directory name. */
export class InvalidIdError extends LifelineError {
  constructor(field: string, value: unknown, options?: { cause?: unknown }) {
    super('ERR_INVALID_ID', `invalid ${field}: ${show(value)} (an ID must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$)`, options);
  }
}

/** A frame that is not valid msgpack, is not an object with a known `type`, or fails its schema. */
export class ProtocolError extends LifelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL', message, options);
  }
}

export class UnauthorizedError extends LifelineError {
  constructor(message: string) {
    super('ERR_UNAUTHORIZED', message);
  }
}

/** A peer that did not prove who it is: no credential, an unknown principal, a wrong response. */
export class UnauthenticatedError extends LifelineError {
  constructor(message: string) {
    super('ERR_UNAUTHENTICATED', message);
  }
}

export class InvalidDurationError extends LifelineError {
  constructor(value: unknown) {
    super('ERR_INVALID_DURATION', `invalid duration: ${show(value)} (use e.g. 500ms, 2secs, 15mins, 1hrs, or 2s, 15m)`);
  }
}

/** A size (`10MB`, `512KB`, `10Mi`) that cannot be parsed. */
export class InvalidSizeError extends LifelineError {
  constructor(value: unknown) {
    super('ERR_INVALID_SIZE', `invalid size: ${show(value)} (use e.g. 512KB, 10MB, 1GB, or 10Mi)`);
  }
}

/** A command-line flag or environment variable that is unknown or has a bad value. */
export class FlagError extends LifelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_FLAG', message, options);
  }
}

/** A constructor option of a library class with a bad value. */
export class InvalidOptionError extends LifelineError {
  constructor(option: string, value: unknown, expected: string) {
    super('ERR_INVALID_OPTION', `option ${option} must be ${expected}, got ${show(value)}`);
  }
}

export class SocketPathTooLongError extends LifelineError {
  constructor(socketPath: string, flag: string) {
    super(
      'ERR_SOCKET_PATH_TOO_LONG',
      `socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, over the 107-byte limit of a Unix socket path; choose a shorter ${flag}`,
    );
  }
}

/** A lifecycle `transition()` that is not allowed from the current state. */
export class IllegalStateError extends LifelineError {
  constructor(message: string) {
    super('ERR_ILLEGAL_STATE', message);
  }
}

export class ConnectionError extends LifelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONNECTION', message, options);
  }
}

/** Shows a value in an error message: quoted, control characters escaped, cut at 80 characters. */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 80 ? `${value.slice(0, 80)}…` : value;
    return JSON.stringify(cut);
  }
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  // JSON.stringify would print NaN and ±Infinity as null, naming the wrong value.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
