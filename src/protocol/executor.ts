// The executor protocol (DESIGN §2): calls an executor sends to its agent over the Unix socket,
// and the events the agent answers with.
import * as v from 'valibot';
import { Bytes, ErrorEvent, ExecutorInfo, FrameworkInfo, Id, IntervalMillis, TaskInfo, TaskStatus, TimerMillis, Uuid } from './common.js';
import { AnswerVersion, FirstFrameVersion } from './version-fields.js';

export { EXECUTOR_PROTOCOL_VERSION } from './constants.js';

const MAX_BACKLOG = 10_000;

export const ExecutorCall = v.variant('type', [
  v.object({
    type: v.literal('SUBSCRIBE'),
    frameworkId: Id,
    executorId: Id,
    containerId: Id,
    token: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
    protocol: v.pipe(v.number(), v.integer(), v.minValue(1)),
    protocolMax: FirstFrameVersion.protocolMax,
    release: FirstFrameVersion.release,
    unacknowledgedTasks: v.pipe(v.array(TaskInfo), v.maxLength(MAX_BACKLOG)),
    unacknowledgedUpdates: v.pipe(v.array(TaskStatus), v.maxLength(MAX_BACKLOG)),
  }),
  v.object({ type: v.literal('UPDATE'), status: TaskStatus }),
  v.object({ type: v.literal('MESSAGE'), data: Bytes }),
  v.object({ type: v.literal('HEARTBEAT') }),
]);
export type ExecutorCall = v.InferOutput<typeof ExecutorCall>;
export type ExecutorSubscribe = Extract<ExecutorCall, { type: 'SUBSCRIBE' }>;

export const ExecutorEvent = v.variant('type', [
  v.object({
    type: v.literal('SUBSCRIBED'),
    agentId: Id,
    containerId: Id,
    executorInfo: ExecutorInfo,
    frameworkInfo: FrameworkInfo,
    heartbeatIntervalMs: IntervalMillis,
    ...AnswerVersion,
  }),
  v.object({ type: v.literal('LAUNCH'), task: TaskInfo }),
  v.object({ type: v.literal('KILL'), taskId: Id, gracePeriodMs: v.optional(TimerMillis) }),
  v.object({ type: v.literal('ACKNOWLEDGED'), taskId: Id, uuid: Uuid }),
  v.object({ type: v.literal('MESSAGE'), data: Bytes }),
  v.object({ type: v.literal('SHUTDOWN'), gracePeriodMs: TimerMillis }),
  v.object({ type: v.literal('HEARTBEAT') }),
  ErrorEvent,
]);
export type ExecutorEvent = v.InferOutput<typeof ExecutorEvent>;
