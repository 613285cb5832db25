// /api/v1/agent: agents register and re-register, are pinged, report status updates, and are
// marked DISCONNECTED when their connection breaks and REMOVED when they do not come back within
// --agent_reregister_timeout. A removed agent that comes back is told to shut down. The parts it
// stands on are modules of their own: the held split REREGISTERs (reregister-hold.ts), what a
// whole one does to the registry (reregister-apply.ts), the PINGs (agent-pings.ts) and the
// removal of agents for good (agent-removal.ts); this class owns the connections and the order.
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
import { agentSeen, noticeAgent } from './agent-notices.js';
import { AGENT_FRAME_LIMIT, agentOutgoing } from './outgoing.js';
import { ReregisterHold } from './reregister-hold.js';
import { applyReregistration } from './reregister-apply.js';
import { AgentPings } from './agent-pings.js';
import { AgentRemoval, registryFailed } from './agent-removal.js';

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

export class AgentEndpoint {
  #ctx: MasterContext;
  #options: AgentEndpointOptions;
  #endpoint: Endpoint<typeof AgentCall, AgentEvent>;
  /** agentId → its current connection. */
  #sessions = new Map<string, AgentSession>();
  #pings = new WeakMap<AgentSession, AgentPings>();
  /** Unfinished split REREGISTERs, per connection, within --max_reregister_bytes (issue 13). */
  #held: ReregisterHold;
  /** Agents removed for good, the timers that remove them, and those being removed. */
  #removal: AgentRemoval;
  /** Connections whose (re-)registration waits for the registry write that admits the agent. */
  #admitting = new WeakSet<AgentSession>();

  constructor(ctx: MasterContext, options: AgentEndpointOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#held = new ReregisterHold(options.maxReregisterBytes, ctx.logger);
    this.#removal = new AgentRemoval(ctx, { reregisterTimeoutMs: options.reregisterTimeoutMs, detach: (agentId) => this.#detach(agentId) });
    // Every event names this master's term (issue 12): an agent ignores one from an older leader.
    // A master without a registry has no terms (epoch 0): its events say nothing of it.
    const checked = agentOutgoing(ctx.logger);
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
        this.#held.release(session);
        if (wasRegistered) this.#onClose(session);
      },
      onRejected: (error) => ctx.metrics.framesRejected.inc({ endpoint: 'agent', code: error.code }),
      onUnknown: () => ctx.metrics.unknownMessages.inc({ endpoint: 'agent' }),
      ...(options.connections && { connections: options.connections }),
      outgoing: { ...(options.maxBufferedBytes !== undefined && { maxBufferedBytes: options.maxBufferedBytes }), prepare: (event) => checked(event.type === 'CHALLENGE' || this.#epoch === 0 || 'epoch' in event ? event : { ...event, epoch: this.#epoch }), maxSendBytes: AGENT_FRAME_LIMIT },
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
    this.#removal.close();
    this.#sessions.clear();
    void this.#endpoint.close();
  }

  #onCall(session: AgentSession, call: Call, bytes: number): void {
    agentSeen(this.#ctx, session.peerId);
    switch (call.type) {
      case 'REGISTER':
        return this.#register(session, call);
      case 'REREGISTER': {
        const whole = this.#held.add(session, call, bytes);
        if (whole) this.#reregister(session, whole);
        return;
      }
      case 'PONG':
        this.#pings.get(session)?.pong();
        return;
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

  /** Bytes of unfinished split REREGISTERs held now (for tests and /metrics). */
  get heldReregisterBytes(): number {
    return this.#held.heldBytes;
  }

  #register(session: AgentSession, call: Extract<Call, { type: 'REGISTER' }>): void {
    const { registry } = this.#ctx;
    // Throws ProtocolVersionError naming both ranges: the endpoint answers ERROR and closes; the agent retries.
    const agreed = negotiateFirstFrame(call, `agent ${call.agentInfo.hostname}`);
    const previousId = call.agentInfo.id;
    if (previousId !== undefined && this.#removal.isRemoved(previousId)) {
      this.#shutdownRemoved(session, previousId);
      return;
    }
    if (this.#admitting.has(session)) return;
    const id = newId();
    // Durable before acted on: the agent is told its ID only once the registry holds it.
    this.#admit(session, id, call.agentInfo, agreed.peer.release, () => this.#registered(session, id, call, agreed));
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
    if (this.#removal.isRemoved(agentId)) {
      this.#shutdownRemoved(session, agentId);
      return;
    }
    if (this.#admitting.has(session)) return;
    // Throws UnauthorizedError for another principal's agent ID: the endpoint answers ERROR and closes.
    const claim = ownership(registry, 'agent', agentId, session.principal, 're-register as') === 'claim';
    const known = registry.agent(agentId);
    // Recorded again when its facts, its release (an upgrade) or its owner are new to the registry.
    if (!known || changed(known.info, call.agentInfo) || known.release !== agreed.peer.release || claim) {
      // An agent the registry does not hold yet (or holds with other facts): recorded first.
      this.#admit(session, agentId, call.agentInfo, agreed.peer.release, () => this.#reregistered(session, call, agreed));
      return;
    }
    this.#reregistered(session, call, agreed);
  }

  #reregistered(session: AgentSession, call: Extract<Call, { type: 'REREGISTER' }>, agreed: Agreed): void {
    const { registry, logger } = this.#ctx;
    const agentId = call.agentInfo.id;
    if (this.#removal.isRemoved(agentId)) {
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
      this.#removal.cancel(agentId);
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

    const { pendingKills, kills, shutdown, lost } = applyReregistration(this.#ctx, call, session.principal);
    for (const { frameworkId, taskId } of pendingKills) session.send({ type: 'KILL_TASK', frameworkId, taskId });
    for (const { frameworkId, taskId } of kills) session.send({ type: 'KILL_TASK', frameworkId, taskId });
    for (const frameworkId of shutdown) session.send({ type: 'SHUTDOWN_FRAMEWORK', frameworkId });

    noticeAgent(this.#ctx, agentId, known ? 'REREGISTERED' : 'REGISTERED', call.recovery ? { recovery: call.recovery } : {});
    logger.info({ agentId, hostname: registry.agent(agentId)!.hostname, tasks: call.tasks.length, lost: lost.length, killed: kills.length, shutdownFrameworks: [...shutdown] }, 'agent re-registered');
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
    this.#removal.remove(agentIds, why, logMessage);
  }

  /** A removed agent's connection, if it still has one, is closed, and its offers are withdrawn. */
  #detach(agentId: string): void {
    const old = this.#sessions.get(agentId);
    if (old) {
      this.#sessions.delete(agentId);
      old.close(1000, 'agent removed');
    }
    this.#rescindOffers(agentId);
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
    this.#removal.removeUnlessBack(agentId);
  }

  /** Records the agent in the registry, then runs `then` if the connection is still there. */
  #admit(session: AgentSession, agentId: string, info: AgentInfo, release: string | undefined, then: () => void): void {
    const { registrar, registry } = this.#ctx;
    if (!registrar?.store.durable) return then();
    this.#admitting.add(session);
    const { hostname, checkpoint, resources } = info;
    const principal = session.principal ?? registry.owner('agent', agentId);
    registrar.record({ op: 'admit', agent: { id: agentId, hostname, checkpoint, resources: { ...resources }, address: session.remote, ...(release !== undefined && { version: release }), ...(principal !== undefined && { principal }) } }).then(
      () => {
        this.#admitting.delete(session);
        if (session.state === 'CONNECTED') session.guarded('registration', then);
      },
      (error: unknown) => {
        this.#admitting.delete(session);
        session.reject(new LifelineError('ERR_CONNECTION', `the master could not record agent ${agentId} in its registry: ${(error as Error).message}; try again`), 1011);
        registryFailed(this.#ctx, error, `admit agent ${agentId}`);
      },
    );
  }

  get #epoch(): number {
    return this.#ctx.epoch?.() ?? 0;
  }

  #activate(session: AgentSession, agentId: string): void {
    session.registered(agentId);
    this.#sessions.set(agentId, session);
    const { pingTimeoutMs: intervalMs, maxPingTimeouts } = this.#options;
    this.#pings.set(session, new AgentPings(session, agentId, { intervalMs, maxPingTimeouts, logger: this.#ctx.logger }));
  }

  #shutdownRemoved(session: AgentSession, agentId: string): void {
    const message = `agent ${agentId} was removed by the master (it did not re-register within ${formatDuration(this.#options.reregisterTimeoutMs)}, or it unregistered); shut down its executors and register as a new agent`;
    this.#ctx.logger.warn({ agentId }, 'removed agent came back: telling it to shut down');
    session.send({ type: 'SHUTDOWN', message, epoch: this.#epoch });
    session.close(1000, 'agent removed');
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
