// Checks the tasks of an ACCEPT against the offers they use, as Mesos does: invalid offers drop
// every task (TASK_DROPPED/REASON_INVALID_OFFERS); a bad task is refused on its own
// (TASK_ERROR/REASON_TASK_INVALID, the message saying why) and the others still launch.
import type { NewTaskInfo, Reason, TaskInfo } from '../protocol/index.js';
import type { InvalidOffer, OutstandingOffer } from './allocator.js';
import { add, EMPTY, fits, format, subtract, type Amounts } from './resources.js';

export interface Refusal {
  task: NewTaskInfo;
  /** The agent the task would have run on, when the offers name one. */
  agentId: string | undefined;
  state: 'TASK_ERROR' | 'TASK_DROPPED';
  reason: Reason;
  message: string;
}

export interface AcceptPlan {
  /** Tasks to launch, with `agentId` filled in from the offers. */
  launch: TaskInfo[];
  refused: Refusal[];
}

export interface AcceptInput {
  frameworkId: string;
  /** The offers the ACCEPT names that exist and belong to the framework (already taken). */
  offers: readonly OutstandingOffer[];
  invalidOffers: readonly InvalidOffer[];
  tasks: readonly NewTaskInfo[];
  /** Does the framework already have a non-terminal task with this ID? */
  taskIdInUse(taskId: string): boolean;
  /**
   * The command of the executor the framework already runs under this ID on the agent: a string
   * for a custom executor, null for a command task's executor, undefined when there is none.
   */
  runningExecutor(agentId: string, executorId: string): string | null | undefined;
}

/** A message names at most this many offers or agents (600 stale offers once made a 66 KB message). */
const MAX_NAMED = 10;

/** The first MAX_NAMED items joined, and how many more there are. */
function some(items: readonly string[], separator: string): string {
  const named = items.slice(0, MAX_NAMED).join(separator);
  return items.length > MAX_NAMED ? `${named}${separator}and ${items.length - MAX_NAMED} more` : named;
}

export function planAccept(input: AcceptInput): AcceptPlan {
  const { frameworkId, offers, tasks } = input;
  const agentIds = [...new Set(offers.map((offer) => offer.agentId))];
  const agentId = agentIds.length === 1 ? agentIds[0] : undefined;

  const offerProblem = input.invalidOffers.length > 0
    ? some(input.invalidOffers.map((offer) => offer.why), '; ')
    : agentIds.length > 1
      ? `offers ${some(offers.map((offer) => offer.id), ', ')} are for different agents (${some(agentIds, ', ')}); one ACCEPT uses the offers of one agent`
      : offers.length === 0
        ? 'no offers'
        : undefined;
  if (offerProblem !== undefined) {
    return {
      launch: [],
      refused: tasks.map((task) => ({ task, agentId, state: 'TASK_DROPPED', reason: 'REASON_INVALID_OFFERS', message: `task ${task.taskId} dropped: ${offerProblem}` })),
    };
  }

  let remaining: Amounts = offers.reduce<Amounts>((sum, offer) => add(sum, offer.resources), { ...EMPTY });
  const seen = new Set<string>();
  /** Executors launched by this ACCEPT: executorId → command (null for a command task). */
  const executors = new Map<string, string | null>();
  const launch: TaskInfo[] = [];
  const refused: Refusal[] = [];
  for (const task of tasks) {
    const problem = taskProblem(task);
    if (problem !== undefined) {
      refused.push({ task, agentId, state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID', message: `task ${task.taskId} is invalid: ${problem}` });
      continue;
    }
    seen.add(task.taskId);
    remaining = subtract(remaining, task.resources);
    const executorId = task.executor?.executorId ?? task.taskId;
    executors.set(executorId, task.executor ? task.executor.command.value : null);
    launch.push({ ...task, agentId: agentId! });
  }
  return { launch, refused };

  function taskProblem(task: NewTaskInfo): string | undefined {
    if ((task.command === undefined) === (task.executor === undefined)) {
      return 'a task must have exactly one of command and executor';
    }
    if (seen.has(task.taskId) || input.taskIdInUse(task.taskId)) {
      return `task ID ${task.taskId} is already in use in framework ${frameworkId}`;
    }
    if (task.agentId !== undefined && task.agentId !== agentId) {
      return `it names agent ${task.agentId} but the offers are for agent ${agentId}`;
    }
    if (task.executor && task.executor.frameworkId !== frameworkId) {
      return `executor ${task.executor.executorId} has frameworkId ${task.executor.frameworkId}, expected ${frameworkId}`;
    }
    const executorId = task.executor?.executorId ?? task.taskId;
    const command = task.executor ? task.executor.command.value : null;
    const running = executors.has(executorId) ? executors.get(executorId) : input.runningExecutor(agentId!, executorId);
    if (running !== undefined && (running === null || command === null || running !== command)) {
      return `executor ID ${executorId} is already in use on agent ${agentId} by a different executor`;
    }
    if (!fits(task.resources, remaining)) {
      return `it needs ${format(task.resources)} but the offers have only ${format(remaining)} left`;
    }
    return undefined;
  }
}
