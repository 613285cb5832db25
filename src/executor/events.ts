// The executor side's validation of the agent's events (DESIGN §1: "the executor side, which must
// stay small, may check the few events it receives with a lighter one"). The agent and the master
// validate with valibot; loading valibot and every schema of the protocol costs each executor
// megabytes and milliseconds (§10), for eight event types. This checks exactly what the
// `ExecutorEvent` schema of protocol/executor.ts checks, and returns the same output (unknown keys
// dropped, `frameworkInfo.checkpoint` defaulting to false); test/executor/events.test.ts holds the
// two to the same verdicts on valid and mutated frames.
import type { ExecutorEvent } from '../protocol/executor.js';
import { ProtocolError, show } from '../protocol/errors.js';
import { boolean, bytes, id, integer, literal, MAX_NAME, MAX_TEXT, millis, Mismatch, nonNegative, object, optional, required, string, uuid, type Check } from '../protocol/light-check.js';
import { decode } from '../protocol/msgpack.js';

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
