// The master's picture of the cluster: agents, frameworks and their tasks, each with an explicit
// lifecycle. Pure state (no sockets, no timers): an operation returns the status updates it
// generates, and the master sends them. State lives in memory; a restarted master starts empty.
import { IllegalStateError, isTerminal, newId, type AgentInfo, type FrameworkInfo, type Reason, type RoutedTaskStatus, type TaskInfo, type TaskState } from '../protocol/index.js';
import { AgentRecord, type AgentEventEntry, type AgentStatus } from './registry-agents.js';
import { FrameworkRecord, rememberMasterUuid, type FrameworkStatus } from './registry-frameworks.js';
import { executorIdOf, firstStatus, masterStatus, recordStatus, type GeneratedUpdate, type StatusEntry, type TaskRecord } from './registry-tasks.js';
import { add, EMPTY, subtract, type Amounts } from './resources.js';

// The records live in modules of their own; they are imported from here too.
export { AgentRecord, type AgentStatus } from './registry-agents.js';
export { FrameworkRecord, rememberMasterUuid, type FrameworkStatus, type RegisteredFrameworkInfo } from './registry-frameworks.js';
export { executorIdOf, masterStatus, type GeneratedUpdate, type TaskRecord } from './registry-tasks.js';

export interface MasterState {
  agents: Array<{ id: string; hostname: string; checkpoint: boolean; status: AgentStatus; resources: Amounts; protocol: number | null; release: string | null } & AgentViewFields>;
  frameworks: FrameworkState[];
  completedFrameworks: FrameworkState[];
}

export interface FrameworkState {
  id: string;
  name: string;
  checkpoint: boolean;
  status: FrameworkStatus;
  tasks: Array<{ id: string; state: TaskState; agentId: string; executorId: string } & TaskViewFields>;
}

/** Issue 15: what the web view, `lifeline agents` and `lifeline logs` need of an agent. */
export interface AgentViewFields {
  address: string | null;
  lastSeen: number | null;
  events: AgentEventEntry[];
}

/** Issue 15: a task's name, sandbox and status history. */
export interface TaskViewFields {
  name: string;
  sandbox: string | null;
  statuses: StatusEntry[];
}

export interface RegistryOptions {
  /** How many removed frameworks /state keeps (Mesos: --max_completed_frameworks). */
  maxCompletedFrameworks?: number;
  /** How many terminal tasks a framework keeps (Mesos: --max_completed_tasks_per_framework). */
  maxCompletedTasksPerFramework?: number;
  /** How many removed agents (and gone framework IDs) are remembered (Mesos: --registry_max_agent_count). */
  maxRemembered?: number;
}

export class Registry {
  #agents = new Map<string, AgentRecord>();
  #frameworks = new Map<string, FrameworkRecord>();
  #completed: FrameworkRecord[] = [];
  #completedIds = new Set<string>();
  /** Agents removed by an earlier master (from the registry). */
  #removedIds = new Set<string>();
  #tasksByAgent = new Map<string, Set<TaskRecord>>();
  /** Issue 14: the principal each agent ID and framework ID belongs to (none: registered unauthenticated). */
  #owners = { agent: new Map<string, string>(), framework: new Map<string, string>() };
  #maxCompleted: number;
  #maxCompletedTasks: number;
  #maxRemembered: number;
  /** Removed agents and gone frameworks, oldest first: past #maxRemembered the oldest is forgotten. */
  #removedOrder: string[] = [];
  #goneOrder: string[] = [];

  constructor({ maxCompletedFrameworks = 50, maxCompletedTasksPerFramework = 1000, maxRemembered = 102_400 }: RegistryOptions = {}) {
    this.#maxCompleted = maxCompletedFrameworks;
    this.#maxCompletedTasks = maxCompletedTasksPerFramework;
    this.#maxRemembered = maxRemembered;
  }

  /** How many removed agents are remembered now (a bounded number). */
  get removedAgentCount(): number {
    return this.#removedOrder.length;
  }

  /** A removed agent is remembered (told to shut down if it returns) until #maxRemembered newer ones push it out. */
  #rememberRemoved(id: string): void {
    this.#removedIds.add(id);
    this.#removedOrder.push(id);
    while (this.#removedOrder.length > this.#maxRemembered) {
      const old = this.#removedOrder.shift()!;
      this.#removedIds.delete(old);
      if (this.#agents.get(old)?.status === 'REMOVED') {
        this.#agents.delete(old);
        this.#tasksByAgent.delete(old);
        this.#owners.agent.delete(old);
      }
    }
  }

  /** A gone framework's ID is refused until #maxRemembered newer ones push it out. */
  #rememberGone(id: string): void {
    this.#completedIds.add(id);
    this.#goneOrder.push(id);
    while (this.#goneOrder.length > this.#maxRemembered) {
      const old = this.#goneOrder.shift()!;
      this.#completedIds.delete(old);
      this.#owners.framework.delete(old);
    }
  }

  // ── agents ──────────────────────────────────────────────────────────────────────────────

  /** Adds an ACTIVE agent (a fresh ID unless one is given: a re-registering agent keeps its own). */
  addAgent(info: AgentInfo, id: string = newId()): AgentRecord {
    if (this.#agents.has(id)) throw new IllegalStateError(`agent ${id} is already registered`);
    const agent = new AgentRecord(id, info);
    this.#agents.set(id, agent);
    this.#tasksByAgent.set(id, new Set());
    return agent;
  }

  agent(id: string): AgentRecord | undefined {
    return this.#agents.get(id);
  }

  agents(): AgentRecord[] {
    return [...this.#agents.values()];
  }

  tasksOn(agentId: string): TaskRecord[] {
    return [...(this.#tasksByAgent.get(agentId) ?? [])];
  }

  /** The agent's resources not used by its non-terminal tasks. */
  unused(agentId: string): Amounts {
    const agent = this.#agents.get(agentId);
    if (!agent) return { ...EMPTY };
    let used: Amounts = { ...EMPTY };
    for (const task of this.#tasksByAgent.get(agentId) ?? []) {
      if (!isTerminal(task.state)) used = add(used, task.info.resources);
    }
    return subtract(agent.total, used);
  }

  /**
   * The agent's connection broke: it is DISCONNECTED, and the tasks of frameworks that do not
   * checkpoint are lost at once (their executors shut down when the agent connection breaks).
   */
  disconnectAgent(agentId: string): GeneratedUpdate[] {
    const agent = this.#requireAgent(agentId);
    agent.transition('DISCONNECTED');
    const updates: GeneratedUpdate[] = [];
    for (const task of this.tasksOn(agentId)) {
      const framework = this.#frameworks.get(task.frameworkId);
      if (!framework || framework.checkpoint || isTerminal(task.state)) continue;
      updates.push(this.#lose(task, 'REASON_AGENT_DISCONNECTED', `agent ${agentId} disconnected and framework ${framework.id} does not checkpoint`));
    }
    return updates;
  }

  /** The agent is gone for good (re-registration timeout, or it unregistered): its live tasks are lost. */
  removeAgent(agentId: string, message: string): GeneratedUpdate[] {
    const agent = this.#requireAgent(agentId);
    agent.transition('REMOVED');
    agent.pendingKills.clear();
    this.#rememberRemoved(agentId);
    const updates: GeneratedUpdate[] = [];
    for (const task of this.tasksOn(agentId)) {
      if ((isTerminal(task.state) && !task.terminalUnacknowledged) || !this.#frameworks.has(task.frameworkId)) continue;
      updates.push(this.#lose(task, 'REASON_AGENT_REMOVED', message));
    }
    return updates;
  }

  /** A known agent is back (re-registered): ACTIVE again, with the info it reports now. */
  reactivateAgent(agentId: string, info: AgentInfo): AgentRecord {
    const agent = this.#requireAgent(agentId);
    if (agent.status !== 'ACTIVE') agent.transition('ACTIVE');
    agent.updateInfo(info);
    return agent;
  }

  // ── recovery from the durable registry (src/master/registry-store.ts) ─────────────────────

  /** An agent of the registry, expected back: DISCONNECTED until it re-registers (or is removed). */
  recoverAgent(info: AgentInfo, id: string): AgentRecord {
    const agent = this.addAgent(info, id);
    agent.transition('DISCONNECTED');
    return agent;
  }

  /** An agent the registry says was removed: if it comes back it is told to shut down. */
  recoverRemovedAgent(id: string): void {
    if (!this.#removedIds.has(id)) this.#rememberRemoved(id);
  }

  /** A framework the registry says is gone: it never comes back under its ID. */
  recoverGoneFramework(id: string): void {
    if (!this.#completedIds.has(id)) this.#rememberGone(id);
  }

  /** Was this agent removed (by this master, or by one before it, as the registry says)? */
  wasRemoved(agentId: string): boolean {
    return this.#agents.get(agentId)?.status === 'REMOVED' || this.#removedIds.has(agentId);
  }

  // ── owners (issue 14) ──────────────────────────────────────────────────────────────────

  /** The principal the agent or framework ID belongs to; undefined: it registered unauthenticated. */
  owner(kind: 'agent' | 'framework', id: string): string | undefined {
    return this.#owners[kind].get(id);
  }

  setOwner(kind: 'agent' | 'framework', id: string, principal: string): void {
    this.#owners[kind].set(id, principal);
  }

  // ── frameworks ──────────────────────────────────────────────────────────────────────────

  /** Adds a framework with the ID in `info` (a fresh one if it has none). */
  addFramework(info: FrameworkInfo, status: FrameworkStatus = 'ACTIVE'): FrameworkRecord {
    const id = info.id ?? newId();
    if (this.#frameworks.has(id) || this.#completedIds.has(id)) throw new IllegalStateError(`framework ${id} is already registered`);
    const framework = new FrameworkRecord({ ...info, id }, status);
    this.#frameworks.set(id, framework);
    return framework;
  }

  /** A framework that is ACTIVE or DISCONNECTED (not removed). */
  framework(id: string): FrameworkRecord | undefined {
    return this.#frameworks.get(id);
  }

  frameworks(): FrameworkRecord[] {
    return [...this.#frameworks.values()];
  }

  isCompleted(frameworkId: string): boolean {
    return this.#completedIds.has(frameworkId);
  }

  /**
   * Removes a framework: its non-terminal tasks are TASK_KILLED in the master's state (nothing is
   * sent: the framework is gone). Returns the agents that ran its tasks, to be told to shut it down.
   */
  removeFramework(frameworkId: string): string[] {
    const framework = this.#frameworks.get(frameworkId);
    if (!framework) throw new IllegalStateError(`cannot remove framework ${frameworkId}: it is not registered`);
    framework.transition('REMOVED');
    this.#frameworks.delete(frameworkId);
    const agentIds = new Set<string>();
    for (const task of framework.tasks.values()) {
      agentIds.add(task.agentId);
      if (!isTerminal(task.state)) task.state = 'TASK_KILLED';
      this.#tasksByAgent.get(task.agentId)?.delete(task);
      this.#agents.get(task.agentId)?.pendingKills.delete(task.id);
    }
    framework.masterUuids.clear();
    this.#completed.push(framework);
    this.#rememberGone(frameworkId);
    while (this.#completed.length > this.#maxCompleted) this.#completed.shift();
    // The IDs of frameworks that fell off the list are still remembered (up to #maxRemembered): a
    // removed framework never comes back under its old ID.
    return [...agentIds];
  }

  // ── tasks ───────────────────────────────────────────────────────────────────────────────

  /** Records a task the master is launching (TASK_STAGING) or one an agent reports. */
  addTask(frameworkId: string, info: TaskInfo, state: TaskState = 'TASK_STAGING'): TaskRecord {
    const framework = this.#frameworks.get(frameworkId);
    if (!framework) throw new IllegalStateError(`cannot add task ${info.taskId} to framework ${frameworkId}: it is not registered`);
    const previous = framework.tasks.get(info.taskId);
    if (previous) this.#tasksByAgent.get(previous.agentId)?.delete(previous);
    const task: TaskRecord = { id: info.taskId, frameworkId, agentId: info.agentId, executorId: executorIdOf(info), info, state: 'TASK_STAGING' };
    framework.tasks.set(task.id, task);
    this.#tasksByAgent.get(task.agentId)?.add(task);
    this.setState(task, state);
    recordStatus(task, firstStatus(state));
    return task;
  }

  /**
   * Records a task's latest state. A task the master already holds as terminal stays so (a later
   * update is still forwarded, as in Mesos); terminal tasks past the per-framework limit are forgotten.
   */
  setState(task: TaskRecord, state: TaskState): void {
    if (isTerminal(task.state)) return;
    task.state = state;
    if (!isTerminal(state)) return;
    task.terminalUnacknowledged = true;
    const framework = this.#frameworks.get(task.frameworkId);
    if (!framework) return;
    framework.completedTasks.push(task);
    while (framework.completedTasks.length > this.#maxCompletedTasks) {
      const old = framework.completedTasks.shift()!;
      if (framework.tasks.get(old.id) === old) framework.tasks.delete(old.id);
      this.#tasksByAgent.get(old.agentId)?.delete(old);
    }
  }

  task(frameworkId: string, taskId: string): TaskRecord | undefined {
    return this.#frameworks.get(frameworkId)?.tasks.get(taskId);
  }

  /**
   * Records the latest state of a task from an agent's update. A state the master already holds
   * as terminal stays (the update is still forwarded), as in Mesos.
   */
  applyStatus(frameworkId: string, status: RoutedTaskStatus): TaskRecord | undefined {
    const task = this.task(frameworkId, status.taskId);
    if (task) {
      recordStatus(task, status);
      this.setState(task, status.state);
      if (isTerminal(status.state) && task.terminalUnacknowledged) task.terminalUuid = status.uuid;
    }
    return task;
  }

  /** The framework acknowledged an update of a task: once its terminal one, the task's end is known to it. */
  acknowledge(frameworkId: string, taskId: string, uuid: string): void {
    const task = this.task(frameworkId, taskId);
    if (task?.terminalUuid === uuid) task.terminalUnacknowledged = false;
  }

  /** Makes a master-generated update for a recorded task and records its state. */
  generate(task: TaskRecord, state: TaskState, reason: Reason, message: string): GeneratedUpdate {
    this.setState(task, state);
    // The master sends this update itself; a terminal agent update it replaces will never come.
    task.terminalUnacknowledged = false;
    const status = masterStatus({ taskId: task.id, agentId: task.agentId, executorId: task.executorId }, state, reason, message);
    recordStatus(task, status);
    const framework = this.#frameworks.get(task.frameworkId);
    if (framework) rememberMasterUuid(framework, status.uuid!);
    return { frameworkId: task.frameworkId, status };
  }

  /** The executor a framework already runs under this ID on the agent (a task of it), if any. */
  executorTask(frameworkId: string, agentId: string, executorId: string): TaskRecord | undefined {
    for (const task of this.#tasksByAgent.get(agentId) ?? []) {
      if (task.frameworkId === frameworkId && task.executorId === executorId && !isTerminal(task.state)) return task;
    }
    return undefined;
  }

  // ── output ──────────────────────────────────────────────────────────────────────────────

  /** DESIGN §9 /state. */
  toJSON(): MasterState {
    return {
      agents: this.agents().map((agent) => ({
        id: agent.id,
        hostname: agent.hostname,
        checkpoint: agent.checkpoint,
        status: agent.status,
        resources: agent.total,
        protocol: agent.protocol ?? null,
        release: agent.release ?? (agent.protocol === undefined ? null : '0.1.0'),
        address: agent.info.httpAddress ?? null,
        lastSeen: agent.lastSeenAt ?? null,
        events: [...agent.events],
      })),
      frameworks: this.frameworks().map(frameworkState),
      completedFrameworks: this.#completed.map(frameworkState),
    };
  }

  #lose(task: TaskRecord, reason: Reason, message: string): GeneratedUpdate {
    return this.generate(task, 'TASK_LOST', reason, message);
  }

  #requireAgent(agentId: string): AgentRecord {
    const agent = this.#agents.get(agentId);
    if (!agent) throw new IllegalStateError(`agent ${agentId} is not registered`);
    return agent;
  }
}

function frameworkState(framework: FrameworkRecord): FrameworkState {
  return {
    id: framework.id,
    name: framework.info.name,
    checkpoint: framework.checkpoint,
    status: framework.status,
    tasks: [...framework.tasks.values()].map((task) => ({
      id: task.id,
      state: task.state,
      agentId: task.agentId,
      executorId: task.executorId,
      name: task.info.name,
      sandbox: task.sandbox ?? null,
      statuses: [...(task.statuses ?? [])],
    })),
  };
}
