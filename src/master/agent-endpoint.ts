// /api/v1/agent: agents register and re-register, are pinged, report status updates, and are
// marked DISCONNECTED when their connection breaks and REMOVED when they do not come back within
// --agent_reregister_timeout. A removed agent that comes back is told to shut down.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  AgentCall,
  answerVersion,
  formatDuration,
  isTerminal,
  LifelineError,
  newId,
  ProtocolError,
  type AgentEvent,
  type AgentInfo,
} from '../protocol/index.js';
import type { ConnectionLimit } from '../session/connection-limit.js';
import { Endpoint, type EndpointAuthentication, type EndpointSession as Session } from '../session/endpoint.js';
import { notItsTask, ownership } from './ownership.js';
import { negotiateFirstFrame } from '../session/handshake.js';
import type { MasterContext } from './context.js';
import type { GeneratedUpdate } from './registry.js';
import { ReregisterParts } from './reregistration.js';
import { NotLeaderError } from './registry-store.js';
import { agentSeen, noticeAgent } from './agent-notices.js';
import { AGENT_FRAME_LIMIT, agentOutgoing } from './outgoing.js';

/** The protocol agreed with an agent at its first frame (issue 11). */
type Agreed = ReturnType<typeof negotiateFirstFrame>;

type Call = AgentCall;
type AgentSession = Session<AgentEvent>;

export interface AgentEndpointOptions {
  maxFrameBytes: number;
  /** PING every this long; the agent is told it as pingIntervalMs. */
  pingTimeoutMs: number;
  /** This many PINGs in a row without a PONG count as a disconnection. */
  maxPingTimeouts: number;
  reregisterTimeoutMs: number;
  registrationTimeoutMs: number;
  /** Issue 13: open connections, shared with the other endpoint. */
  connections?: ConnectionLimit;
  /** Issue 13: bytes that may wait unsent to one peer before it is closed as a slow reader. */
  maxBufferedBytes?: number;
  /** Bytes of unfinished split REREGISTERs held across all connections. */
  maxReregisterBytes: number;
  /** Issue 14: who may register (--credentials, --authenticate_agents). Default: anyone. */
  authentication?: EndpointAuthentication;
}

interface Pings {
  awaitingPong: boolean;
  missed: number;
}

export class AgentEndpoint {
  #ctx: MasterContext;
  #options: AgentEndpointOptions;
  #endpoint: Endpoint<typeof AgentCall, AgentEvent>;
  /** agentId → its current connection. */
  #sessions = new Map<string, AgentSession>();
  #pings = new WeakMap<AgentSession, Pings>();
  /** A connection's REREGISTER parts received so far (a large REREGISTER comes in several frames). */
  #parts = new WeakMap<AgentSession, ReregisterParts>();
  /** Bytes of REREGISTER parts held, per connection and in all (issue 13: --max_reregister_bytes). */
  #partBytes = new WeakMap<AgentSession, number>();
  #heldBytes = 0;
  /** agentId → the timer that removes it if it does not re-register. */
  #removalTimers = new Map<string, NodeJS.Timeout>();
  /** Connections whose (re-)registration waits for the registry write that admits the agent. */
  #admitting = new WeakSet<AgentSession>();
  /** Agents whose removal is being recorded: one that comes back meanwhile is told to shut down. */
  #removing = new Set<string>();

  constructor(ctx: MasterContext, options: AgentEndpointOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#endpoint = new Endpoint({
      path: '/api/v1/agent',
      label: ' on /api/v1/agent',
      schema: AgentCall,
      maxFrameBytes: options.maxFrameBytes,
      registrationCalls: ['REGISTER', 'REREGISTER'],
      registrationTimeoutMs: options.registrationTimeoutMs,
      logger: ctx.logger,
      onCall: (session, call, bytes) => this.#onCall(session, call, bytes),
      onClose: (session, wasRegistered) => {
        this.#releaseParts(session);
        if (wasRegistered) this.#onClose(session);
      },
      onRejected: (error) => ctx.metrics.framesRejected.inc({ endpoint: 'agent', code: error.code }),
      onUnknown: () => ctx.metrics.unknownMessages.inc({ endpoint: 'agent' }),
      ...(options.connections && { connections: options.connections }),
      outgoing: { ...(options.maxBufferedBytes !== undefined && { maxBufferedBytes: options.maxBufferedBytes }), prepare: agentOutgoing(ctx.logger), maxSendBytes: AGENT_FRAME_LIMIT },
      ...(options.authentication && { authentication: options.authentication }),
    });
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#endpoint.handleUpgrade(request, socket, head);
  }

  send(agentId: string, event: AgentEvent): boolean {
    return this.#sessions.get(agentId)?.send(event) ?? false;
  }

  isConnected(agentId: string): boolean {
    return this.#sessions.get(agentId)?.isOpen ?? false;
  }

  close(): void {
    for (const timer of this.#removalTimers.values()) clearTimeout(timer);
    this.#removalTimers.clear();
    this.#sessions.clear();
    void this.#endpoint.close();
  }

  #onCall(session: AgentSession, call: Call, bytes: number): void {
    agentSeen(this.#ctx, session.peerId);
    switch (call.type) {
      case 'REGISTER':
        return this.#register(session, call);
      case 'REREGISTER': {
        let parts = this.#parts.get(session);
        if (!parts && call.part) this.#parts.set(session, (parts = new ReregisterParts()));
        if (call.part && call.part.index < call.part.count - 1) this.#holdPart(session, bytes);
        const whole = parts ? parts.add(call) : call;
        if (whole) {
          this.#releaseParts(session);
          this.#reregister(session, whole);
        }
        return;
      }
      case 'PONG': {
        const pings = this.#pings.get(session);
        if (pings) {
          pings.awaitingPong = false;
          pings.missed = 0;
        }
        return;
      }
      case 'STATUS_UPDATE':
        return this.#statusUpdate(session, call);
      case 'EXECUTOR_MESSAGE':
        this.#assertRunsExecutor(session, call.frameworkId, call.executorId);
        this.#ctx.toFramework(call.frameworkId, { type: 'MESSAGE', agentId: session.peerId!, executorId: call.executorId, data: call.data });
        return;
      case 'UNREGISTER':
        return this.#unregister(session);
    }
  }

  /** A REREGISTER part is held until its last part: refused (the agent retries later) when all held would pass the cap. */
  #holdPart(session: AgentSession, bytes: number): void {
    const limit = this.#options.maxReregisterBytes;
    if (this.#heldBytes + bytes > limit) {
      this.#ctx.logger.warn({ heldBytes: this.#heldBytes, partBytes: bytes, maxReregisterBytes: limit, remote: session.remote }, 'REREGISTER part refused: --max_reregister_bytes reached');
      this.#releaseParts(session);
      throw new LifelineError('ERR_CONNECTION', `the master holds ${this.#heldBytes} bytes of unfinished REREGISTERs, at its limit of ${limit} (--max_reregister_bytes): try again later`);
    }
    this.#heldBytes += bytes;
    this.#partBytes.set(session, (this.#partBytes.get(session) ?? 0) + bytes);
  }

  #releaseParts(session: AgentSession): void {
    this.#heldBytes -= this.#partBytes.get(session) ?? 0;
    this.#partBytes.delete(session);
  }

  /** Bytes of unfinished split REREGISTERs held now (for tests and /metrics). */
  get heldReregisterBytes(): number {
    return this.#heldBytes;
  }

  #register(session: AgentSession, call: Extract<Call, { type: 'REGISTER' }>): void {
    const { registry } = this.#ctx;
    // Throws ProtocolVersionError naming both ranges: the endpoint answers ERROR and closes; the agent retries.
    const agreed = negotiateFirstFrame(call, `agent ${call.agentInfo.hostname}`);
    const previousId = call.agentInfo.id;
    if (previousId !== undefined && (registry.wasRemoved(previousId) || this.#removing.has(previousId))) {
      this.#shutdownRemoved(session, previousId);
      return;
    }
    if (this.#admitting.has(session)) return;
    const id = newId();
    // Durable before acted on: the agent is told its ID only once the registry holds it.
    this.#admit(session, id, call.agentInfo, () => this.#registered(session, id, call, agreed));
  }

  #registered(session: AgentSession, id: string, call: Extract<Call, { type: 'REGISTER' }>, agreed: Agreed): void {
    const { registry, logger } = this.#ctx;
    const agent = registry.addAgent(call.agentInfo, id);
    if (session.principal !== undefined) registry.setOwner('agent', id, session.principal);
    agent.protocol = agreed.protocol;
    agent.release = agreed.peer.release;
    this.#activate(session, agent.id);
    noticeAgent(this.#ctx, agent.id, 'REGISTERED');
    session.send({ type: 'REGISTERED', agentId: agent.id, pingIntervalMs: this.#pingIntervalMs, ...answerVersion(agreed.protocol), epoch: this.#epoch });
    logger.info({ agentId: agent.id, hostname: agent.hostname, checkpoint: agent.checkpoint, resources: agent.total, principal: session.principal }, 'agent registered');
    this.#ctx.allocateSoon();
  }

  #reregister(session: AgentSession, call: Extract<Call, { type: 'REREGISTER' }>): void {
    const { registry } = this.#ctx;
    const agentId = call.agentInfo.id;
    const agreed = negotiateFirstFrame(call, `agent ${agentId}`);
    if (registry.wasRemoved(agentId) || this.#removing.has(agentId)) {
      this.#shutdownRemoved(session, agentId);
      return;
    }
    if (this.#admitting.has(session)) return;
    // Throws UnauthorizedError for another principal's agent ID: the endpoint answers ERROR and closes.
    const claim = ownership(registry, 'agent', agentId, session.principal, 're-register as') === 'claim';
    const known = registry.agent(agentId);
    if (!known || changed(known.info, call.agentInfo) || claim) {
      // An agent the registry does not hold yet (or holds with other facts): recorded first.
      this.#admit(session, agentId, call.agentInfo, () => this.#reregistered(session, call, agreed));
      return;
    }
    this.#reregistered(session, call, agreed);
  }

  #reregistered(session: AgentSession, call: Extract<Call, { type: 'REREGISTER' }>, agreed: Agreed): void {
    const { registry, logger } = this.#ctx;
    const agentId = call.agentInfo.id;
    if (registry.wasRemoved(agentId) || this.#removing.has(agentId)) {
      this.#shutdownRemoved(session, agentId);
      return;
    }
    // Checked again: the ID may have been claimed by another principal while this one was recorded.
    if (ownership(registry, 'agent', agentId, session.principal, 're-register as') === 'claim') registry.setOwner('agent', agentId, session.principal!);
    const known = registry.agent(agentId);
    if (known) {
      const old = this.#sessions.get(agentId);
      if (old && old !== session) {
        // The agent reconnected before the master noticed its old connection break.
        this.#sessions.delete(agentId);
        old.close(1000, 'superseded by a newer connection of the same agent');
      }
      this.#cancelRemoval(agentId);
      registry.reactivateAgent(agentId, call.agentInfo);
    } else {
      // An agent this master has never seen (the master restarted): accept it with its own ID.
      registry.addAgent(call.agentInfo, agentId);
    }
    const record = registry.agent(agentId)!;
    record.protocol = agreed.protocol;
    record.release = agreed.peer.release;
    this.#activate(session, agentId);
    session.send({ type: 'REREGISTERED', agentId, pingIntervalMs: this.#pingIntervalMs, ...answerVersion(agreed.protocol), epoch: this.#epoch });

    const shutdown = new Set<string>();
    for (const framework of call.frameworks) {
      if (registry.isCompleted(framework.id)) shutdown.add(framework.id);
      // A framework known only from an agent's report waits, DISCONNECTED, for its scheduler.
      else if (!registry.framework(framework.id)) {
        registry.addFramework(framework, 'DISCONNECTED');
        // Its principal, as the master that registered it told the agent (the registry's record wins).
        if (framework.principal !== undefined && registry.owner('framework', framework.id) === undefined) registry.setOwner('framework', framework.id, framework.principal);
        this.#ctx.recovery?.markRecovered(framework.id);
      }
    }
    const reported = new Set<string>();
    // Tasks still running there that the master has already given up on (lost when the agent
    // disconnected, as a non-checkpointing framework's task is): they must not run on (Mesos kills them too).
    const kills: Array<{ frameworkId: string; taskId: string }> = [];
    for (const entry of call.tasks) {
      if (registry.isCompleted(entry.frameworkId)) {
        shutdown.add(entry.frameworkId);
        continue;
      }
      // A task whose framework the agent did not list: it survived a restart, so it checkpoints.
      if (!registry.framework(entry.frameworkId)) {
        registry.addFramework({ id: entry.frameworkId, name: '', checkpoint: true }, 'DISCONNECTED');
        this.#ctx.recovery?.markRecovered(entry.frameworkId);
      }
      const task = registry.task(entry.frameworkId, entry.task.taskId);
      if (task && task.agentId !== agentId && !isTerminal(task.state)) {
        // Another agent's live task (issue 14): not taken over. The copy reported here is not the
        // master's, so it does not run on.
        logger.warn({ agentId, principal: session.principal, frameworkId: entry.frameworkId, taskId: task.id, runsOn: task.agentId }, `agent ${agentId} reported task ${task.id}, which runs on agent ${task.agentId}: not taken over, killed there`);
        kills.push({ frameworkId: entry.frameworkId, taskId: task.id });
        continue;
      }
      reported.add(`${entry.frameworkId}/${entry.task.taskId}`);
      if (task && task.agentId === agentId) {
        if (isTerminal(task.state) && !isTerminal(entry.state)) kills.push({ frameworkId: entry.frameworkId, taskId: task.id });
        registry.setState(task, entry.state);
        if (entry.sandbox !== undefined) task.sandbox = entry.sandbox;
      } else {
        const added = registry.addTask(entry.frameworkId, { ...entry.task, agentId }, entry.state);
        if (entry.sandbox !== undefined) added.sandbox = entry.sandbox;
      }
    }
    // A task the master launched there that the agent does not know any more is lost.
    const lost: GeneratedUpdate[] = [];
    for (const task of registry.tasksOn(agentId)) {
      if (isTerminal(task.state) || reported.has(`${task.frameworkId}/${task.id}`)) continue;
      lost.push(registry.generate(task, 'TASK_LOST', 'REASON_RECONCILIATION', `task ${task.id} is not known to agent ${agentId}, which re-registered`));
    }
    const agent = registry.agent(agentId)!;
    for (const [taskId, frameworkId] of agent.pendingKills) {
      const task = registry.task(frameworkId, taskId);
      if (task && !isTerminal(task.state)) session.send({ type: 'KILL_TASK', frameworkId, taskId });
    }
    agent.pendingKills.clear();
    for (const { frameworkId, taskId } of kills) session.send({ type: 'KILL_TASK', frameworkId, taskId });
    for (const frameworkId of shutdown) session.send({ type: 'SHUTDOWN_FRAMEWORK', frameworkId });

    noticeAgent(this.#ctx, agentId, known ? 'REREGISTERED' : 'REGISTERED', call.recovery ? { recovery: call.recovery } : {});
    logger.info({ agentId, hostname: agent.hostname, tasks: call.tasks.length, lost: lost.length, killed: kills.length, shutdownFrameworks: [...shutdown] }, 'agent re-registered');
    this.#ctx.sendUpdates(lost);
    // Held RECONCILEs and KILLs of the tasks it reported are answered now.
    this.#ctx.recovery?.agentBack(agentId);
    this.#ctx.allocateSoon();
  }

  #statusUpdate(session: AgentSession, call: Extract<Call, { type: 'STATUS_UPDATE' }>): void {
    const { registry, metrics, logger } = this.#ctx;
    const agentId = session.peerId!;
    const { frameworkId, status } = call;
    if (status.agentId !== agentId) {
      throw new ProtocolError(`invalid STATUS_UPDATE frame: field status.agentId is ${status.agentId} but this connection is agent ${agentId}`);
    }
    if (!registry.framework(frameworkId)) {
      // No scheduler will ever acknowledge it (the framework was removed or never existed):
      // the master does, so that the agent stops resending it.
      logger.debug({ agentId, frameworkId, taskId: status.taskId, state: status.state }, 'update for a framework that is gone: acknowledged by the master');
      session.send({ type: 'ACKNOWLEDGE', frameworkId, taskId: status.taskId, uuid: status.uuid });
      return;
    }
    const known = registry.task(frameworkId, status.taskId);
    if (known !== undefined && known.agentId !== agentId) {
      // A forged update (issue 14): an agent speaks only for the tasks the master placed on it or that it reported.
      throw notItsTask(agentId, session.principal, `send STATUS_UPDATE ${status.state} for`, frameworkId, status.taskId, `it runs on agent ${known.agentId}`);
    }
    const before = known?.state;
    const task = registry.applyStatus(frameworkId, status);
    if (task && call.sandbox !== undefined) task.sandbox = call.sandbox;
    metrics.statusUpdates.inc({ source: status.source ?? 'SOURCE_EXECUTOR' });
    if (before !== undefined && !isTerminal(before) && isTerminal(status.state)) metrics.taskEnded(status.state, status.reason);
    logger.info(
      { agentId, frameworkId, executorId: status.executorId, taskId: status.taskId, state: status.state, source: status.source, ...(status.reason && { reason: status.reason }), uuid: status.uuid },
      `status update ${status.state} for task ${status.taskId}`,
    );
    // Not connected: dropped here; the agent resends it until the framework acknowledges it.
    this.#ctx.toFramework(frameworkId, { type: 'UPDATE', status });
    if (task && isTerminal(status.state)) this.#ctx.allocateSoon();
  }

  /** EXECUTOR_MESSAGE only from the agent that runs the executor (issue 14). */
  #assertRunsExecutor(session: AgentSession, frameworkId: string, executorId: string): void {
    const agentId = session.peerId!;
    const runs = this.#ctx.registry.tasksOn(agentId).some((task) => task.frameworkId === frameworkId && task.executorId === executorId);
    if (!runs) throw notItsTask(agentId, session.principal, `send EXECUTOR_MESSAGE from executor ${executorId} about`, frameworkId, '(any)', `no task of that executor runs on agent ${agentId}`);
  }

  #unregister(session: AgentSession): void {
    const agentId = session.peerId!;
    this.#sessions.delete(agentId);
    this.#rescindOffers(agentId);
    session.close(1000, 'unregistered');
    this.removeAgents([agentId], `agent ${agentId} unregistered (shut down)`, 'agent unregistered');
  }

  /**
   * Removes agents for good: recorded in the registry first, then their tasks are TASK_LOST
   * (REASON_AGENT_REMOVED) to their frameworks. One that comes back meanwhile is told to shut down.
   */
  removeAgents(agentIds: readonly string[], why: string, logMessage = 'agent removed'): void {
    const { registry, logger, registrar } = this.#ctx;
    const ids = agentIds.filter((id) => !this.#removing.has(id) && registry.agent(id) && registry.agent(id)!.status !== 'REMOVED');
    for (const id of ids) this.#removing.add(id);
    const at = Date.now();
    const written = Promise.all(ids.map((agentId) => registrar?.record({ op: 'remove', agentId, at })));
    written.then(
      () => {
        for (const agentId of ids) {
          this.#removing.delete(agentId);
          const agent = registry.agent(agentId);
          if (!agent || agent.status === 'REMOVED') continue;
          const old = this.#sessions.get(agentId);
          if (old) {
            this.#sessions.delete(agentId);
            old.close(1000, 'agent removed');
          }
          this.#cancelRemoval(agentId);
          this.#rescindOffers(agentId);
          noticeAgent(this.#ctx, agentId, 'REMOVED');
          const updates = registry.removeAgent(agentId, why.startsWith('agent ') ? why : `agent ${agentId}: ${why}`);
          logger.warn({ agentId, lost: updates.length }, `${logMessage}: ${why}`);
          this.#ctx.sendUpdates(updates);
        }
      },
      (error: unknown) => {
        for (const agentId of ids) this.#removing.delete(agentId);
        this.#registryFailed(error, `remove agents ${ids.join(', ')}`);
      },
    );
  }

  /** The connection of a registered agent closed (or stopped answering pings). */
  #onClose(session: AgentSession): void {
    const agentId = session.peerId!;
    if (this.#sessions.get(agentId) !== session) return; // superseded, or unregistered
    this.#sessions.delete(agentId);
    if (this.#ctx.registry.agent(agentId)?.status !== 'ACTIVE') return;
    noticeAgent(this.#ctx, agentId, 'DISCONNECTED', { reregisterTimeoutMs: this.#options.reregisterTimeoutMs });
    const updates = this.#ctx.registry.disconnectAgent(agentId);
    this.#rescindOffers(agentId);
    this.#ctx.logger.warn(
      { agentId, lost: updates.length, reregisterTimeout: formatDuration(this.#options.reregisterTimeoutMs) },
      'agent disconnected; waiting for it to re-register',
    );
    this.#ctx.sendUpdates(updates);
    const timer = setTimeout(() => this.#removeAfterTimeout(agentId), this.#options.reregisterTimeoutMs);
    this.#removalTimers.set(agentId, timer);
  }

  #removeAfterTimeout(agentId: string): void {
    this.#removalTimers.delete(agentId);
    if (this.#ctx.registry.agent(agentId)?.status !== 'DISCONNECTED') return;
    const timeout = formatDuration(this.#options.reregisterTimeoutMs);
    this.removeAgents([agentId], `agent ${agentId} did not re-register within ${timeout}`, 'agent removed');
  }

  /** Records the agent in the registry, then runs `then` if the connection is still there. */
  #admit(session: AgentSession, agentId: string, info: AgentInfo, then: () => void): void {
    const { registrar, registry } = this.#ctx;
    if (!registrar?.store.durable) return then();
    this.#admitting.add(session);
    const { hostname, checkpoint, resources } = info;
    const principal = session.principal ?? registry.owner('agent', agentId);
    registrar.record({ op: 'admit', agent: { id: agentId, hostname, checkpoint, resources: { ...resources }, address: session.remote, ...(principal !== undefined && { principal }) } }).then(
      () => {
        this.#admitting.delete(session);
        if (session.state === 'CONNECTED') session.guarded('registration', then);
      },
      (error: unknown) => {
        this.#admitting.delete(session);
        session.reject(new LifelineError('ERR_CONNECTION', `the master could not record agent ${agentId} in its registry: ${(error as Error).message}; try again`), 1011);
        this.#registryFailed(error, `admit agent ${agentId}`);
      },
    );
  }

  #registryFailed(error: unknown, what: string): void {
    this.#ctx.logger.error({ err: (error as Error).message }, `registry write failed: could not ${what}`);
    if (error instanceof NotLeaderError) this.#ctx.deposed?.(error);
  }

  get #epoch(): number {
    return this.#ctx.epoch?.() ?? 0;
  }

  #activate(session: AgentSession, agentId: string): void {
    session.registered(agentId);
    this.#sessions.set(agentId, session);
    const pings: Pings = { awaitingPong: false, missed: 0 };
    this.#pings.set(session, pings);
    const { maxPingTimeouts } = this.#options;
    session.every(this.#options.pingTimeoutMs, () => {
      if (pings.awaitingPong && ++pings.missed >= maxPingTimeouts) {
        this.#ctx.logger.warn({ agentId, missed: pings.missed }, 'agent did not answer pings: disconnecting it');
        session.terminate();
        return;
      }
      pings.awaitingPong = true;
      session.send({ type: 'PING' });
    });
  }

  #shutdownRemoved(session: AgentSession, agentId: string): void {
    const message = `agent ${agentId} was removed by the master (it did not re-register within ${formatDuration(this.#options.reregisterTimeoutMs)}, or it unregistered); shut down its executors and register as a new agent`;
    this.#ctx.logger.warn({ agentId }, 'removed agent came back: telling it to shut down');
    session.send({ type: 'SHUTDOWN', message, epoch: this.#epoch });
    session.close(1000, 'agent removed');
  }

  #cancelRemoval(agentId: string): void {
    const timer = this.#removalTimers.get(agentId);
    if (timer) clearTimeout(timer);
    this.#removalTimers.delete(agentId);
  }

  #rescindOffers(agentId: string): void {
    for (const offer of this.#ctx.allocator.withdrawAgent(agentId)) {
      this.#ctx.toFramework(offer.frameworkId, { type: 'RESCIND', offerId: offer.id });
    }
  }

  get #pingIntervalMs(): number {
    return Math.max(1, Math.round(this.#options.pingTimeoutMs));
  }
}

/** Whether a re-registering agent reports other facts than the registry holds (then they are recorded again). */
function changed(before: AgentInfo, now: AgentInfo): boolean {
  const a = before.resources;
  const b = now.resources;
  return before.hostname !== now.hostname || before.checkpoint !== now.checkpoint || a.cpus !== b.cpus || a.mem !== b.mem || a.disk !== b.disk;
}
