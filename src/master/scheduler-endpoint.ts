// /api/v1/scheduler: frameworks subscribe, receive offers, launch and kill tasks, acknowledge
// updates. A framework whose scheduler disconnects is removed after its failoverTimeoutMs
// (default 0: at once) unless it re-subscribes with its framework ID in time.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  answerVersion,
  shapeStatus,
  formatDuration,
  IllegalStateError,
  isTerminal,
  LifelineError,
  newId,
  SchedulerCall,
  type RoutedTaskStatus,
  type SchedulerEvent,
} from '../protocol/index.js';
import { planAccept } from './accept.js';
import { longTimeout, type LongTimer } from './long-timer.js';
import { SCHEDULER_FRAME_LIMIT, schedulerOutgoing } from './outgoing.js';
import { DEFAULT_REFUSE_SECONDS } from './allocator.js';
import type { ConnectionLimit } from '../session/connection-limit.js';
import { Endpoint, type EndpointAuthentication, type EndpointSession as Session } from '../session/endpoint.js';
import { ownership } from './ownership.js';
import { negotiateFirstFrame } from '../session/handshake.js';
import type { MasterContext } from './context.js';
import { masterStatus, rememberMasterUuid, type FrameworkRecord, type TaskRecord } from './registry.js';

type Call = SchedulerCall;
type SchedulerSession = Session<SchedulerEvent>;

export interface SchedulerEndpointOptions {
  maxFrameBytes: number;
  heartbeatIntervalMs: number;
  registrationTimeoutMs: number;
  /** Issue 13: open connections, shared with the other endpoint. */
  connections?: ConnectionLimit;
  /** Issue 13: bytes that may wait unsent to one peer before it is closed as a slow reader. */
  maxBufferedBytes?: number;
  /** Issue 14: who may subscribe (--credentials, --authenticate_frameworks). Default: anyone. */
  authentication?: EndpointAuthentication;
}

type Subscribe = Extract<Call, { type: 'SUBSCRIBE' }>;

export class SchedulerEndpoint {
  #ctx: MasterContext;
  #options: SchedulerEndpointOptions;
  #endpoint: Endpoint<typeof SchedulerCall, SchedulerEvent>;
  /** frameworkId → its scheduler's current connection. */
  #sessions = new Map<string, SchedulerSession>();
  /** frameworkId → the timer that removes it if its scheduler does not come back. */
  #failoverTimers = new Map<string, LongTimer>();
  /** Connections whose SUBSCRIBE waits for the registry write of its principal. */
  #recording = new WeakSet<SchedulerSession>();

  constructor(ctx: MasterContext, options: SchedulerEndpointOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#endpoint = new Endpoint({
      path: '/api/v1/scheduler',
      label: ' on /api/v1/scheduler',
      schema: SchedulerCall,
      maxFrameBytes: options.maxFrameBytes,
      registrationCalls: ['SUBSCRIBE'],
      registrationTimeoutMs: options.registrationTimeoutMs,
      logger: ctx.logger,
      onCall: (session, call) => this.#onCall(session, call),
      onClose: (session, wasRegistered) => {
        if (wasRegistered) this.#onClose(session);
      },
      onRejected: (error) => ctx.metrics.framesRejected.inc({ endpoint: 'scheduler', code: error.code }),
      onUnknown: () => ctx.metrics.unknownMessages.inc({ endpoint: 'scheduler' }),
      ...(options.connections && { connections: options.connections }),
      outgoing: { ...(options.maxBufferedBytes !== undefined && { maxBufferedBytes: options.maxBufferedBytes }), prepare: schedulerOutgoing(ctx.logger), maxSendBytes: SCHEDULER_FRAME_LIMIT },
      ...(options.authentication && { authentication: options.authentication }),
    });
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#endpoint.handleUpgrade(request, socket, head);
  }

  send(frameworkId: string, event: SchedulerEvent): boolean {
    return this.#sessions.get(frameworkId)?.send(event) ?? false;
  }

  close(): void {
    for (const timer of this.#failoverTimers.values()) timer.clear();
    this.#failoverTimers.clear();
    this.#sessions.clear();
    void this.#endpoint.close();
  }

  #onCall(session: SchedulerSession, call: Call): void {
    if (call.type === 'SUBSCRIBE') return this.#subscribe(session, call);
    const framework = this.#ctx.registry.framework(session.peerId!);
    if (!framework || this.#sessions.get(framework.id) !== session) return; // removed or failed over
    switch (call.type) {
      case 'ACCEPT':
        return this.#accept(session, framework, call);
      case 'DECLINE':
        this.#ctx.allocator.decline(framework.id, call.offerIds, call.refuseSeconds ?? DEFAULT_REFUSE_SECONDS, Date.now());
        this.#ctx.allocateSoon();
        return;
      case 'KILL':
        return this.#kill(framework, call.taskId);
      case 'ACKNOWLEDGE':
        return this.#acknowledge(framework, call);
      case 'RECONCILE':
        return this.#reconcile(session, framework, call.taskIds);
      case 'MESSAGE':
        this.#ctx.toAgent(call.agentId, { type: 'FRAMEWORK_MESSAGE', frameworkId: framework.id, executorId: call.executorId, data: call.data });
        return;
      case 'TEARDOWN':
        this.#remove(framework.id, 'torn down by its scheduler');
        session.close(1000, 'framework torn down');
        return;
    }
  }

  #subscribe(session: SchedulerSession, call: Subscribe): void {
    const { registry, registrar } = this.#ctx;
    const given = call.frameworkInfo;
    // Throws ProtocolVersionError naming both ranges: the endpoint answers ERROR and closes.
    const agreed = negotiateFirstFrame(call, `framework ${given.id ?? given.name}`);
    if (given.id !== undefined && registry.isCompleted(given.id)) {
      throw new IllegalStateError(`framework ${given.id} was removed (torn down, or its scheduler did not come back within its failover timeout); subscribe without an id to register a new framework`);
    }
    // The principal is the connection's, never what the scheduler writes into its FrameworkInfo.
    const { principal: _claimed, ...rest } = given;
    const principal = session.principal;
    const id = given.id ?? newId();
    const info = { ...rest, id, ...(principal !== undefined && { principal }) };
    // Throws UnauthorizedError for another principal's framework ID: the endpoint answers ERROR and closes.
    if (ownership(registry, 'framework', id, principal, 'subscribe as') === 'claim' && registrar?.store.durable) {
      // Durable before acted on: the framework is told its ID only once the registry ties it to its principal.
      if (this.#recording.has(session)) return;
      this.#recording.add(session);
      registrar.record({ op: 'frameworkOwner', owner: { id, principal: principal! } }).then(
        () => {
          this.#recording.delete(session);
          if (session.state === 'CONNECTED') session.guarded('SUBSCRIBE', () => this.#subscribed(session, info, given.id !== undefined, agreed));
        },
        (error: unknown) => {
          this.#recording.delete(session);
          session.reject(new LifelineError('ERR_CONNECTION', `the master could not record framework ${id} in its registry: ${(error as Error).message}; try again`), 1011);
          this.#ctx.logger.error({ err: (error as Error).message, frameworkId: id }, 'registry write failed: could not record a framework\'s principal');
        },
      );
      return;
    }
    this.#subscribed(session, info, given.id !== undefined, agreed);
  }

  #subscribed(session: SchedulerSession, info: Subscribe['frameworkInfo'] & { id: string }, withId: boolean, agreed: ReturnType<typeof negotiateFirstFrame>): void {
    const { registry, allocator, logger } = this.#ctx;
    const principal = session.principal;
    // Checked again: another connection of another principal may have claimed the ID meanwhile.
    if (ownership(registry, 'framework', info.id, principal, 'subscribe as') === 'claim') {
      registry.setOwner('framework', info.id, principal!);
      if (withId) logger.info({ frameworkId: info.id, principal }, 'a framework registered without authentication is now claimed by its principal');
    }
    let framework: FrameworkRecord;
    const known = withId ? registry.framework(info.id) : undefined;
    if (known) {
      known.updateInfo({ ...info, id: known.id }); // refuses a change of checkpoint
      const old = this.#sessions.get(known.id);
      if (old && old !== session) {
        this.#sessions.delete(known.id);
        old.reject(new LifelineError('ERR_CONNECTION', `framework ${known.id} failed over to a newer scheduler connection`), 1000);
      }
      this.#cancelFailover(known.id);
      if (known.status === 'DISCONNECTED') known.transition('ACTIVE');
      allocator.withdrawFramework(known.id); // offers made to the old connection
      framework = known;
    } else {
      // A new framework, or one with an ID this master does not know (it restarted): accepted.
      framework = registry.addFramework(info, 'ACTIVE');
      // Its tasks may be on agents that have not re-registered yet: calls for them are held.
      if (withId) this.#ctx.recovery?.markRecovered(framework.id);
    }
    session.registered(framework.id);
    this.#sessions.set(framework.id, session);
    if (agreed.protocol < 2) session.shapeWith((event) => (event.type === 'UPDATE' ? { ...event, status: shapeStatus(event.status, agreed.protocol) } : event));
    session.send({ type: 'SUBSCRIBED', frameworkId: framework.id, heartbeatIntervalMs: this.#options.heartbeatIntervalMs, ...answerVersion(agreed.protocol), epoch: this.#ctx.epoch?.() ?? 0 });
    session.every(this.#options.heartbeatIntervalMs, () => session.send({ type: 'HEARTBEAT' }));
    logger.info({ frameworkId: framework.id, frameworkName: framework.info.name, checkpoint: framework.checkpoint, resubscribed: Boolean(known), principal, protocol: agreed.protocol, release: agreed.peer.release }, 'framework subscribed');
    this.#ctx.allocateSoon();
  }

  #accept(session: SchedulerSession, framework: FrameworkRecord, call: Extract<Call, { type: 'ACCEPT' }>): void {
    const { registry, allocator, logger } = this.#ctx;
    const { taken, invalid } = allocator.take(framework.id, call.offerIds);
    const plan = planAccept({
      frameworkId: framework.id,
      offers: taken,
      invalidOffers: invalid,
      tasks: call.tasks,
      taskIdInUse: (taskId) => {
        const task = registry.task(framework.id, taskId);
        return task !== undefined && !isTerminal(task.state);
      },
      runningExecutor: (agentId, executorId) => {
        const task = registry.executorTask(framework.id, agentId, executorId);
        if (!task) return undefined;
        return task.info.executor ? task.info.executor.command.value : null;
      },
    });
    for (const refusal of plan.refused) {
      const status = masterStatus(
        { taskId: refusal.task.taskId, agentId: refusal.agentId, executorId: refusal.task.executor?.executorId ?? refusal.task.taskId },
        refusal.state,
        refusal.reason,
        refusal.message,
      );
      rememberMasterUuid(framework, status.uuid!);
      logger.info({ frameworkId: framework.id, taskId: refusal.task.taskId, state: refusal.state, message: refusal.message }, 'task refused');
      this.#ctx.metrics.statusUpdates.inc({ source: 'SOURCE_MASTER' });
      this.#ctx.metrics.taskEnded(refusal.state, refusal.reason);
      session.send({ type: 'UPDATE', status });
    }
    for (const task of plan.launch) {
      registry.addTask(framework.id, task, 'TASK_STAGING');
      // If the agent's connection is gone, the task stays STAGING until the agent re-registers
      // without it (TASK_LOST) or is removed (TASK_LOST).
      this.#ctx.toAgent(task.agentId, { type: 'RUN_TASK', frameworkInfo: framework.info, task });
      logger.info({ frameworkId: framework.id, taskId: task.taskId, agentId: task.agentId }, 'launching task');
    }
    this.#ctx.allocateSoon(); // what the tasks did not use goes back to the pool
  }

  #kill(framework: FrameworkRecord, taskId: string): void {
    const { registry } = this.#ctx;
    const task = registry.task(framework.id, taskId);
    if (!task && this.#ctx.recovery?.hold(framework.id, taskId, 'KILL')) return;
    this.killKnown(framework.id, taskId, task);
  }

  /** A KILL of a task as the master knows it now (undefined: unknown, answered TASK_LOST). */
  killKnown(frameworkId: string, taskId: string, task: TaskRecord | undefined): void {
    const { registry } = this.#ctx;
    const framework = registry.framework(frameworkId);
    const session = this.#sessions.get(frameworkId);
    if (!framework) return;
    if (!task) {
      session?.send({ type: 'UPDATE', status: masterStatus({ taskId }, 'TASK_LOST', 'REASON_RECONCILIATION', `cannot kill task ${taskId}: it is unknown to the master`, { withUuid: false }) });
      return;
    }
    if (isTerminal(task.state)) {
      session?.send({ type: 'UPDATE', status: this.#latest(task, `task ${taskId} is already ${task.state}`) });
      return;
    }
    const agent = registry.agent(task.agentId);
    if (agent?.status === 'ACTIVE' && this.#ctx.toAgent(task.agentId, { type: 'KILL_TASK', frameworkId: framework.id, taskId })) return;
    // The agent is disconnected: the kill is sent when it re-registers.
    agent?.pendingKills.set(taskId, framework.id);
  }

  #acknowledge(framework: FrameworkRecord, call: Extract<Call, { type: 'ACKNOWLEDGE' }>): void {
    if (framework.masterUuids.delete(call.uuid)) return; // an update the master made: nothing to relay
    this.#ctx.registry.acknowledge(framework.id, call.taskId, call.uuid);
    const agent = this.#ctx.registry.agent(call.agentId);
    // To a disconnected agent the ack is lost; the agent resends the update after re-registering.
    if (agent?.status === 'ACTIVE') {
      this.#ctx.toAgent(call.agentId, { type: 'ACKNOWLEDGE', frameworkId: framework.id, taskId: call.taskId, uuid: call.uuid });
    }
  }

  #reconcile(session: SchedulerSession, framework: FrameworkRecord, taskIds: string[] | undefined): void {
    // No task IDs (or an empty list): implicit reconciliation, every task the master knows.
    const ids = taskIds && taskIds.length > 0 ? taskIds : [...framework.tasks.keys()];
    for (const taskId of ids) {
      const task = framework.tasks.get(taskId);
      // A restarted master does not guess: a task it does not know yet may be on an agent still to come.
      if (!task && this.#ctx.recovery?.hold(framework.id, taskId, 'RECONCILE')) continue;
      session.send({ type: 'UPDATE', status: this.#reconciled(taskId, task) });
    }
  }

  /** Answers a held RECONCILE once the task is known (or known to be unknown). */
  answerHeld(frameworkId: string, taskId: string, task: TaskRecord | undefined): void {
    this.#sessions.get(frameworkId)?.send({ type: 'UPDATE', status: this.#reconciled(taskId, task) });
  }

  #reconciled(taskId: string, task: TaskRecord | undefined): RoutedTaskStatus {
    return task
      ? this.#latest(task, 'reconciliation: latest task state')
      : masterStatus({ taskId }, 'TASK_LOST', 'REASON_RECONCILIATION', `reconciliation: task ${taskId} is unknown to the master`, { withUuid: false });
  }

  /** The task's latest state, as reconciliation reports it (no uuid: nothing to acknowledge). */
  #latest(task: TaskRecord, message: string): RoutedTaskStatus {
    return masterStatus({ taskId: task.id, agentId: task.agentId, executorId: task.executorId }, task.state, 'REASON_RECONCILIATION', message, { withUuid: false });
  }

  #onClose(session: SchedulerSession): void {
    const frameworkId = session.peerId!;
    if (this.#sessions.get(frameworkId) !== session) return; // failed over, or torn down
    this.#sessions.delete(frameworkId);
    const framework = this.#ctx.registry.framework(frameworkId);
    if (!framework || framework.status !== 'ACTIVE') return;
    framework.transition('DISCONNECTED');
    this.#ctx.allocator.withdrawFramework(frameworkId);
    const timeoutMs = framework.failoverTimeoutMs;
    if (timeoutMs === 0) {
      this.#remove(frameworkId, 'its scheduler disconnected (failover timeout 0)');
      return;
    }
    this.#ctx.logger.warn({ frameworkId, failoverTimeout: formatDuration(timeoutMs) }, 'scheduler disconnected; waiting for it to re-subscribe');
    this.#failoverTimers.set(frameworkId, longTimeout(() => {
      this.#failoverTimers.delete(frameworkId);
      if (this.#ctx.registry.framework(frameworkId)?.status === 'DISCONNECTED') {
        this.#remove(frameworkId, `its scheduler did not re-subscribe within ${formatDuration(timeoutMs)}`);
      }
    }, timeoutMs));
    this.#ctx.allocateSoon();
  }

  /** Removes the framework: its tasks are killed and its executors shut down on every agent. */
  #remove(frameworkId: string, why: string): void {
    const { registry, allocator, logger } = this.#ctx;
    this.#cancelFailover(frameworkId);
    this.#sessions.delete(frameworkId);
    allocator.removeFramework(frameworkId);
    const name = registry.framework(frameworkId)?.info.name ?? '';
    const agentIds = registry.removeFramework(frameworkId);
    this.#ctx.recovery?.frameworkGone(frameworkId);
    // Recorded so that a later master refuses the ID too (after the fact: see docs/high-availability.md).
    this.#ctx.registrar?.record({ op: 'frameworkGone', framework: { id: frameworkId, name, removedAt: Date.now() } }).catch((error: unknown) => {
      logger.error({ frameworkId, err: (error as Error).message }, 'could not record the removed framework in the registry');
      if ((error as { name?: string }).name === 'NotLeaderError') this.#ctx.deposed?.(error as Error);
    });
    for (const agentId of agentIds) this.#ctx.toAgent(agentId, { type: 'SHUTDOWN_FRAMEWORK', frameworkId });
    logger.info({ frameworkId, agents: agentIds }, `framework removed: ${why}`);
    this.#ctx.allocateSoon();
  }

  #cancelFailover(frameworkId: string): void {
    const timer = this.#failoverTimers.get(frameworkId);
    timer?.clear();
    this.#failoverTimers.delete(frameworkId);
  }
}
