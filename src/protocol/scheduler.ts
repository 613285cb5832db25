// The scheduler protocol (DESIGN §8): calls a framework sends to the master, and its events.
import * as v from 'valibot';
import { AnswerVersion, FirstFrameVersion } from './version-fields.js';
import { AuthenticateCall, Authentication, ChallengeEvent } from './authentication.js';
import { Bytes, Epoch, ErrorEvent, FrameworkInfo, Id, IntervalMillis, NewTaskInfo, Resources, RoutedTaskStatus, Text, Uuid } from './common.js';

const MAX_LIST = 10_000;
/** DECLINE's refuseSeconds: at most a year (a longer filter is a framework that never wants the agent). */
export const MAX_REFUSE_SECONDS = 365 * 24 * 3600;
/** The master sends at most this many offers in one OFFERS event; more go in further events. */
export const MAX_OFFERS_PER_EVENT = 1_000;

export const Offer = v.object({
  id: Id,
  agentId: Id,
  hostname: v.pipe(v.string(), v.maxLength(1024)),
  resources: Resources,
});
export type Offer = v.InferOutput<typeof Offer>;

export const SchedulerCall = v.variant('type', [
  AuthenticateCall,
  v.object({ type: v.literal('SUBSCRIBE'), frameworkInfo: FrameworkInfo, ...FirstFrameVersion, authentication: v.optional(Authentication) }),
  v.object({ type: v.literal('ACCEPT'), offerIds: v.pipe(v.array(Id), v.minLength(1), v.maxLength(MAX_LIST)), tasks: v.pipe(v.array(NewTaskInfo), v.maxLength(MAX_LIST)) }),
  v.object({ type: v.literal('DECLINE'), offerIds: v.pipe(v.array(Id), v.maxLength(MAX_LIST)), refuseSeconds: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_REFUSE_SECONDS))) }),
  v.object({ type: v.literal('KILL'), taskId: Id }),
  v.object({ type: v.literal('ACKNOWLEDGE'), agentId: Id, taskId: Id, uuid: Uuid }),
  v.object({ type: v.literal('RECONCILE'), taskIds: v.optional(v.pipe(v.array(Id), v.maxLength(MAX_LIST))) }),
  v.object({ type: v.literal('MESSAGE'), agentId: Id, executorId: Id, data: Bytes }),
  v.object({ type: v.literal('TEARDOWN') }),
]);
export type SchedulerCall = v.InferOutput<typeof SchedulerCall>;

/** What happened to an agent that runs tasks of this framework (issue 15): an event drivers that do not know it drop. */
export const AGENT_STATUSES = ['DISCONNECTED', 'REREGISTERED', 'REMOVED'] as const;
export const AgentStatusEvent = v.object({
  type: v.literal('AGENT_STATUS'),
  agentId: Id,
  hostname: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  status: v.picklist(AGENT_STATUSES),
  timestamp: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** DISCONNECTED: how long the master waits for it to re-register. */
  reregisterTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  /** REREGISTERED: how long it was away. */
  awayMs: v.optional(v.pipe(v.number(), v.minValue(0))),
});
export type AgentStatusEvent = v.InferOutput<typeof AgentStatusEvent>;

/** The event types this version knows; a driver drops a frame of any other type instead of closing. */
export const SCHEDULER_EVENT_TYPES: ReadonlySet<string> = new Set(['SUBSCRIBED', 'OFFERS', 'RESCIND', 'UPDATE', 'MESSAGE', 'FAILURE', 'HEARTBEAT', 'AGENT_STATUS', 'CHALLENGE', 'ERROR']);

export const SchedulerEvent = v.variant('type', [
  v.object({ type: v.literal('SUBSCRIBED'), frameworkId: Id, heartbeatIntervalMs: IntervalMillis, ...AnswerVersion, epoch: v.optional(Epoch) }),
  v.object({ type: v.literal('OFFERS'), offers: v.array(Offer) }),
  v.object({ type: v.literal('RESCIND'), offerId: Id }),
  v.object({ type: v.literal('UPDATE'), status: RoutedTaskStatus }),
  v.object({ type: v.literal('MESSAGE'), agentId: Id, executorId: Id, data: Bytes }),
  v.object({ type: v.literal('FAILURE'), agentId: v.optional(Id), executorId: v.optional(Id), message: v.optional(Text) }),
  v.object({ type: v.literal('HEARTBEAT') }),
  AgentStatusEvent,
  ChallengeEvent,
  ErrorEvent,
]);
export type SchedulerEvent = v.InferOutput<typeof SchedulerEvent>;
export { Uuid };
