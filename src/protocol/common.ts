// The records shared by every endpoint (DESIGN §2): task and executor descriptions, statuses,
// states and reasons. Types are inferred from the schemas so the two can never disagree.
import * as v from 'valibot';
import { ID_PATTERN } from './ids.js';
import { Principal } from './authentication.js';
import { isOpenName, REASONS, SOURCES, TASK_STATES, type Reason, type Source, type TaskState } from './constants.js';

export { TASK_STATES, SOURCES, REASONS, isTerminal, type TaskState, type Source, type Reason } from './constants.js';

const MAX_TEXT = 64 * 1024;
const MAX_NAME = 1024;

export const Id = v.pipe(v.string(), v.regex(ID_PATTERN, 'must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$'));
export const Uuid = v.pipe(v.string(), v.regex(/^[0-9a-fA-F-]{8,64}$/, 'must be a UUID'));
// Byte payloads are bounded by the frame size limit of the endpoint that receives them.
export const Bytes = v.instance(Uint8Array);
export const Text = v.pipe(v.string(), v.maxLength(MAX_TEXT));
/**
 * The largest amount of one resource (CPUs, MB of memory or disk). It keeps the master's
 * fixed-point arithmetic (three decimals) exact and every sum finite: `cpus: 1e306` once passed
 * the schema and overflowed to Infinity in the master's rounding.
 */
export const MAX_RESOURCE = 1e12;
/** The longest delay a Node.js timer holds (about 24.8 days): grace periods and intervals. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const Amount = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_RESOURCE));
const Millis = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 47));
/** A duration that becomes one timer (grace periods): at most MAX_TIMER_MS. */
export const TimerMillis = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_TIMER_MS));
/** An interval (heartbeats, pings): at least 1 ms, at most MAX_TIMER_MS. */
export const IntervalMillis = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_TIMER_MS));

export const Resources = v.object({
  cpus: Amount,
  mem: Amount,
  disk: v.optional(Amount),
});
export type Resources = v.InferOutput<typeof Resources>;

export const CommandInfo = v.object({ value: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_TEXT)) });

export const ExecutorInfo = v.object({
  executorId: Id,
  frameworkId: Id,
  command: CommandInfo,
  name: v.optional(v.pipe(v.string(), v.maxLength(MAX_NAME))),
  shutdownGracePeriodMs: v.optional(TimerMillis),
});
export type ExecutorInfo = v.InferOutput<typeof ExecutorInfo>;

export const TaskInfo = v.object({
  taskId: Id,
  name: v.pipe(v.string(), v.maxLength(MAX_NAME)),
  agentId: Id,
  resources: Resources,
  command: v.optional(CommandInfo),
  executor: v.optional(ExecutorInfo),
  killPolicy: v.optional(v.object({ gracePeriodMs: TimerMillis })),
  data: v.optional(Bytes),
});
export type TaskInfo = v.InferOutput<typeof TaskInfo>;

/** A TaskInfo as a framework sends it in ACCEPT: the master fills `agentId` from the offer. */
export const NewTaskInfo = v.object({ ...TaskInfo.entries, agentId: v.optional(Id) });
export type NewTaskInfo = v.InferOutput<typeof NewTaskInfo>;

/** A POSIX user name (FrameworkInfo.user): what `useradd` accepts. */
export const USER_PATTERN = /^[A-Za-z_][A-Za-z0-9._-]{0,31}\$?$/;

export const FrameworkInfo = v.object({
  id: v.optional(Id),
  name: v.pipe(v.string(), v.maxLength(MAX_NAME)),
  /** The user the framework's executors and tasks run as, on an agent run as root with --switch_user. */
  user: v.optional(v.pipe(v.string(), v.regex(USER_PATTERN, 'must be a user name (letters, digits, . _ -; at most 32)'))),
  checkpoint: v.optional(v.boolean(), false),
  failoverTimeoutMs: v.optional(Millis),
  /** The principal that registered the framework, as its master authenticated it (set by the master, never by the scheduler). */
  principal: v.optional(Principal),
});
export type FrameworkInfo = v.InferOutput<typeof FrameworkInfo>;

export const AgentInfo = v.object({
  id: v.optional(Id),
  hostname: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_NAME)),
  resources: v.object({ cpus: Amount, mem: Amount, disk: Amount }),
  checkpoint: v.boolean(),
  /** Where the agent's HTTP endpoint (/state, /files) answers, HOST:PORT (issue 15); older agents leave it out. */
  httpAddress: v.optional(v.pipe(v.string(), v.maxLength(MAX_NAME))),
});
export type AgentInfo = v.InferOutput<typeof AgentInfo>;

// Open picklists (issue 11): a known name, or a well-formed one a newer peer added, kept as it is.
export const TaskStateName = v.custom<TaskState>((value) => isOpenName(value, TASK_STATES, 'TASK_'), `must be one of ${TASK_STATES.join(', ')} (or TASK_ and capitals, from a newer release)`);
const SourceName = v.custom<Source>((value) => isOpenName(value, SOURCES, 'SOURCE_'), `must be one of ${SOURCES.join(', ')} (or SOURCE_ and capitals, from a newer release)`);
const ReasonName = v.custom<Reason>((value) => isOpenName(value, REASONS, 'REASON_'), `must be one of ${REASONS.join(', ')} (or REASON_ and capitals, from a newer release)`);

export const TaskStatus = v.object({
  taskId: Id,
  state: TaskStateName,
  uuid: Uuid,
  timestamp: Millis,
  source: v.optional(SourceName),
  reason: v.optional(ReasonName),
  message: v.optional(Text),
  data: v.optional(Bytes),
  healthy: v.optional(v.boolean()),
  // Filled in by the agent when the status leaves the node.
  agentId: v.optional(Id),
  executorId: v.optional(Id),
});
export type TaskStatus = v.InferOutput<typeof TaskStatus>;

/** A status as the master and frameworks see it: a reconciliation answer has no uuid (no ack). */
export const RoutedTaskStatus = v.object({ ...TaskStatus.entries, uuid: v.optional(Uuid) });
export type RoutedTaskStatus = v.InferOutput<typeof RoutedTaskStatus>;

export const ErrorEvent = v.object({
  type: v.literal('ERROR'),
  code: v.pipe(v.string(), v.maxLength(64)),
  message: Text,
  /** With ERR_NOT_LEADER: the leader's HOST:PORT, when the refusing standby knows it. */
  leader: v.optional(v.pipe(v.string(), v.maxLength(300))),
});

/** A master's leadership term (issue 12): higher is newer; 0 is a master without a registry (no terms). */
export const Epoch = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
