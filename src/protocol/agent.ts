// The agent protocol (DESIGN §8): calls an agent sends to its master, and the master's events.
import * as v from 'valibot';
import { AgentInfo, Bytes, Epoch, ErrorEvent, ExecutorInfo, FrameworkInfo, Id, IntervalMillis, TaskInfo, TaskStateName, Text, TaskStatus, Uuid } from './common.js';
import { AnswerVersion, FirstFrameVersion } from './version-fields.js';
import { AuthenticateCall, Authentication, ChallengeEvent } from './authentication.js';

const MAX_LIST = 100_000;
/** An absolute path on the agent's host (a sandbox directory). */
const Sandbox = v.pipe(v.string(), v.maxLength(4096));

/**
 * A REREGISTER too large for one frame is sent as up to this many parts (index 0..count-1), one
 * after another on the same connection; the master acts on the whole once the last has arrived.
 */
export const MAX_REREGISTER_PARTS = 128;
/** Each part of a split REREGISTER is at most this many bytes (half the master's default --max_frame_bytes). */
export const REREGISTER_PART_BYTES = 512 * 1024;
/** Together the parts of one REREGISTER list at most this many items of each kind. */
export const MAX_REREGISTER_ITEMS = MAX_LIST;

export const ReregisterPart = v.pipe(
  v.object({
    index: v.pipe(v.number(), v.integer(), v.minValue(0)),
    count: v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(MAX_REREGISTER_PARTS)),
  }),
  v.check((part) => part.index < part.count, 'index must be below count'),
);

/** One task as a re-registering agent reports it: latest state, and its oldest unacknowledged update. */
export const ReportedTask = v.object({
  frameworkId: Id,
  executorId: Id,
  task: TaskInfo,
  state: TaskStateName,
  unacknowledgedState: v.optional(TaskStateName),
  unacknowledgedUuid: v.optional(Uuid),
  /** The run's sandbox directory on the agent (issue 15: `lifeline logs`, the web view). */
  sandbox: v.optional(Sandbox),
});
export type ReportedTask = v.InferOutput<typeof ReportedTask>;

/** A restarted agent's recovery: when it ended, how long it took, and how many live executors came back. */
export const RecoverySummary = v.object({
  recoveredAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
  durationMs: v.pipe(v.number(), v.integer(), v.minValue(0)),
  executors: v.pipe(v.number(), v.integer(), v.minValue(0)),
  resubscribed: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type RecoverySummary = v.InferOutput<typeof RecoverySummary>;

export const AgentCall = v.variant('type', [
  AuthenticateCall,
  v.object({ type: v.literal('REGISTER'), agentInfo: AgentInfo, ...FirstFrameVersion, authentication: v.optional(Authentication) }),
  v.object({
    type: v.literal('REREGISTER'),
    agentInfo: v.object({ ...AgentInfo.entries, id: Id }),
    frameworks: v.pipe(v.array(v.object({ ...FrameworkInfo.entries, id: Id })), v.maxLength(MAX_LIST)),
    executors: v.pipe(v.array(ExecutorInfo), v.maxLength(MAX_LIST)),
    tasks: v.pipe(v.array(ReportedTask), v.maxLength(MAX_LIST)),
    /** Present when the call is split over several frames (see MAX_REREGISTER_PARTS). */
    part: v.optional(ReregisterPart),
    ...FirstFrameVersion,
    /** On the first frame of an authenticated connection (issue 14). */
    authentication: v.optional(Authentication),
    /** How the agent's last restart went (issue 15: the web view's recovery events); not in split calls. */
    recovery: v.optional(RecoverySummary),
  }),
  v.object({ type: v.literal('STATUS_UPDATE'), frameworkId: Id, status: v.object({ ...TaskStatus.entries, agentId: Id, executorId: Id }), sandbox: v.optional(Sandbox) }),
  v.object({ type: v.literal('EXECUTOR_MESSAGE'), frameworkId: Id, executorId: Id, data: Bytes }),
  v.object({ type: v.literal('UNREGISTER') }),
  v.object({ type: v.literal('PONG') }),
]);
export type AgentCall = v.InferOutput<typeof AgentCall>;
export type ReregisterCall = Extract<AgentCall, { type: 'REREGISTER' }>;
/** The lists of a REREGISTER that a split one spreads over its parts, in this order. */
export const REREGISTER_LISTS = ['frameworks', 'executors', 'tasks'] as const;

/** Issue 12: every event of a master names its leadership term; an agent ignores an older term's. */
const Term = { epoch: v.optional(Epoch) };

export const AgentEvent = v.variant('type', [
  v.object({ type: v.literal('REGISTERED'), agentId: Id, pingIntervalMs: IntervalMillis, ...AnswerVersion, ...Term }),
  v.object({ type: v.literal('REREGISTERED'), agentId: Id, pingIntervalMs: IntervalMillis, ...AnswerVersion, ...Term }),
  v.object({ type: v.literal('RUN_TASK'), frameworkInfo: v.object({ ...FrameworkInfo.entries, id: Id }), task: TaskInfo, ...Term }),
  v.object({ type: v.literal('KILL_TASK'), frameworkId: Id, taskId: Id, ...Term }),
  v.object({ type: v.literal('ACKNOWLEDGE'), frameworkId: Id, taskId: Id, uuid: Uuid, ...Term }),
  v.object({ type: v.literal('FRAMEWORK_MESSAGE'), frameworkId: Id, executorId: Id, data: Bytes, ...Term }),
  v.object({ type: v.literal('SHUTDOWN_FRAMEWORK'), frameworkId: Id, ...Term }),
  v.object({ type: v.literal('SHUTDOWN'), message: Text, ...Term }),
  v.object({ type: v.literal('PING'), ...Term }),
  ChallengeEvent,
  v.object({ ...ErrorEvent.entries, ...Term }),
]);
export type AgentEvent = v.InferOutput<typeof AgentEvent>;
