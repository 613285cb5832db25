// The executor side's validation of the agent's events (DESIGN §1: "the executor side, which must
// stay small, may check the few events it receives with a lighter one"). The agent and the master
// validate with valibot; loading valibot and every schema of the protocol costs each executor
// megabytes and milliseconds (§10), for eight event types. This checks exactly what the
// `ExecutorEvent` schema of protocol/executor.ts checks, and returns the same output (unknown keys
// dropped, `frameworkInfo.checkpoint` defaulting to false); test/executor/events.test.ts holds the
// two to the same verdicts on valid and mutated frames.
import type { ExecutorEvent } from '../protocol/executor.js';
import { ProtocolError, show } from '../protocol/errors.js';
import { ID_PATTERN } from '../protocol/ids.js';
import { decode } from '../protocol/msgpack.js';

/** A field that does not hold what it should: its path and what was expected. */
class Mismatch extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly value: unknown,
  ) {
    super(expected);
  }
}

type Check<T> = (value: unknown, path: string) => T;

const MAX_TEXT = 64 * 1024;
const MAX_NAME = 1024;
const MAX_MILLIS = 2 ** 47;
const UUID_PATTERN = /^[0-9a-fA-F-]{8,64}$/;

const fail = (path: string, expected: string, value: unknown): never => {
  throw new Mismatch(path, expected, value);
};

const string = (min: number, max: number): Check<string> => (value, path) =>
  typeof value === 'string' && value.length >= min && value.length <= max
    ? value
    : fail(path, min > 0 ? `must be a string of ${min} to ${max} characters` : `must be a string of at most ${max} characters`, value);

const pattern = (regex: RegExp, expected: string): Check<string> => (value, path) =>
  typeof value === 'string' && regex.test(value) ? value : fail(path, expected, value);

const id = pattern(ID_PATTERN, 'must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$');
const uuid = pattern(UUID_PATTERN, 'must be a UUID');

const integer = (min: number, max = Number.POSITIVE_INFINITY): Check<number> => (value, path) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
    ? value
    : fail(path, max === Number.POSITIVE_INFINITY ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`, value);

const millis = integer(0, MAX_MILLIS);

const nonNegative: Check<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fail(path, 'must be a finite number >= 0', value);

const boolean: Check<boolean> = (value, path) => (typeof value === 'boolean' ? value : fail(path, 'must be a boolean', value));

const bytes: Check<Uint8Array> = (value, path) => (value instanceof Uint8Array ? value : fail(path, 'must be bytes (a msgpack bin)', value));

/** Optional like valibot's: a missing key stays missing, a present undefined stays undefined, else checked. */
type Shape = Record<string, { check: Check<unknown>; optional?: boolean; fallback?: unknown }>;

const required = (check: Check<unknown>) => ({ check });
const optional = (check: Check<unknown>, fallback?: unknown) => ({ check, optional: true, fallback });

/** An object with the shape's keys only (others are dropped, as valibot's `object` does). */
const object = <T>(shape: Shape): Check<T> => (value, path) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(path, 'must be an object', value);
  const input = value as Record<string, unknown>;
  const output: Record<string, unknown> = {};
  for (const key in shape) {
    const { check, optional: isOptional, fallback } = shape[key]!;
    const field = path ? `${path}.${key}` : key;
    const item = input[key];
    if (item === undefined) {
      if (!isOptional) fail(field, 'is missing', item);
      if (fallback !== undefined) output[key] = fallback;
      else if (key in input) output[key] = undefined;
      continue;
    }
    output[key] = check(item, field);
  }
  return output as T;
};

const command = object({ value: required(string(1, MAX_TEXT)) });

const executorInfo = object({
  executorId: required(id),
  frameworkId: required(id),
  command: required(command),
  name: optional(string(0, MAX_NAME)),
  shutdownGracePeriodMs: optional(millis),
});

const taskInfo = object({
  taskId: required(id),
  name: required(string(0, MAX_NAME)),
  agentId: required(id),
  resources: required(object({ cpus: required(nonNegative), mem: required(nonNegative), disk: optional(nonNegative) })),
  command: optional(command),
  executor: optional(executorInfo),
  killPolicy: optional(object({ gracePeriodMs: required(millis) })),
  data: optional(bytes),
});

const frameworkInfo = object({
  id: optional(id),
  name: required(string(0, MAX_NAME)),
  checkpoint: optional(boolean, false),
  failoverTimeoutMs: optional(millis),
});

const EVENTS: Record<ExecutorEvent['type'], Check<ExecutorEvent>> = {
  SUBSCRIBED: object({
    type: required(literal('SUBSCRIBED')),
    agentId: required(id),
    containerId: required(id),
    executorInfo: required(executorInfo),
    frameworkInfo: required(frameworkInfo),
    heartbeatIntervalMs: required(integer(1)),
  }),
  LAUNCH: object({ type: required(literal('LAUNCH')), task: required(taskInfo) }),
  KILL: object({ type: required(literal('KILL')), taskId: required(id), gracePeriodMs: optional(integer(0)) }),
  ACKNOWLEDGED: object({ type: required(literal('ACKNOWLEDGED')), taskId: required(id), uuid: required(uuid) }),
  MESSAGE: object({ type: required(literal('MESSAGE')), data: required(bytes) }),
  SHUTDOWN: object({ type: required(literal('SHUTDOWN')), gracePeriodMs: required(integer(0)) }),
  HEARTBEAT: object({ type: required(literal('HEARTBEAT')) }),
  ERROR: object({ type: required(literal('ERROR')), code: required(string(0, 64)), message: required(string(0, MAX_TEXT)) }),
};

function literal(expected: string): Check<string> {
  return (value, path) => (value === expected ? expected : fail(path, `must be ${JSON.stringify(expected)}`, value));
}

/**
 * Decodes one frame from the agent and checks it; throws a ProtocolError that names the event type,
 * the field and the bad value (the same errors as the agent's valibot check: answer with 1008).
 */
export function decodeEvent(bytes: Uint8Array): ExecutorEvent {
  const value = decode(bytes);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError(`frame must be an object with a string field "type", got ${show(value)}`);
  }
  const type = (value as { type?: unknown }).type;
  const check = typeof type === 'string' && Object.hasOwn(EVENTS, type) ? EVENTS[type as ExecutorEvent['type']] : undefined;
  if (!check) throw new ProtocolError(`frame has unknown or missing type ${show(type)}`);
  try {
    return check(value, '');
  } catch (error) {
    if (!(error instanceof Mismatch)) throw error;
    throw new ProtocolError(`invalid ${type as string} frame: field ${error.path || '(root)'} ${error.expected}: ${show(error.value)}`);
  }
}
