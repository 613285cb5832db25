// What the agent does with its executors' connections (DESIGN §2, §7.4): SUBSCRIBE checked against
// the node model (run, container, token, protocol) and answered, with the replayed tasks and updates
// of a re-subscribing executor reconciled; UPDATEs recorded and ACKNOWLEDGED once durable; MESSAGEs
// relayed to the master; a closed connection of a recovered executor makes the agent look at it.
import { answerVersion, isTerminal, ProtocolVersionError, type ExecutorSubscribe, type TaskStatus } from '../protocol/index.js';
import { negotiateFirstFrame } from '../session/handshake.js';
import type { ExecutorConnection, ExecutorHandler } from './executor-endpoint.js';
import type { MasterSession } from './master-session.js';
import type { NodeModel } from './node-model.js';
import type { RecoveryFlow } from './recovery-flow.js';
import type { RunEnding } from './run-ending.js';
import { verifyToken } from './token.js';

type MessageData = Parameters<ExecutorHandler['message']>[1];

export class ExecutorSessions implements ExecutorHandler {
  readonly #model: NodeModel;
  readonly #recovery: RecoveryFlow;
  readonly #ending: RunEnding;
  readonly #master: MasterSession;

  constructor(model: NodeModel, recovery: RecoveryFlow, ending: RunEnding, master: MasterSession) {
    this.#model = model;
    this.#recovery = recovery;
    this.#ending = ending;
    this.#master = master;
  }

  subscribe(connection: ExecutorConnection, call: ExecutorSubscribe): void {
    const model = this.#model;
    const { config, metrics } = model;
    const log = model.logger.child({ frameworkId: call.frameworkId, executorId: call.executorId, containerId: call.containerId });
    if (model.terminating) {
      connection.close(1001, 'agent stopping');
      return;
    }
    const framework = model.framework(call.frameworkId);
    const run = framework?.executors.get(call.executorId);
    if (!framework || framework.terminating || !run || run.is('TERMINATED') || run.containerId !== call.containerId || this.#recovery.isFoundDead(run)) {
      const why = !framework ? 'unknown framework' : framework.terminating ? 'framework shut down' : !run || run.containerId !== call.containerId ? 'unknown executor run' : 'executor terminated';
      log.info({ why }, 'SUBSCRIBE from an executor this agent does not run: SHUTDOWN');
      connection.shutdownAndClose(config.executorShutdownGracePeriodMs, why);
      return;
    }
    if (!verifyToken(call.token, run.tokenHash)) {
      metrics.frameErrors.inc({ code: 'ERR_UNAUTHORIZED' });
      connection.fail('ERR_UNAUTHORIZED', `wrong token for executor ${call.executorId} (container ${call.containerId})`);
      return;
    }
    let agreed: ReturnType<typeof negotiateFirstFrame>;
    try {
      agreed = negotiateFirstFrame(call, `executor ${call.executorId}`);
    } catch (error) {
      if (!(error instanceof ProtocolVersionError)) throw error;
      metrics.frameErrors.inc({ code: error.code });
      // Refused, never killed: the executor keeps its tasks and retries until its recovery timeout
      // (an agent rolled back serves it again). Logged once per run, not once per retry.
      if (!run.versionRefused) log.error({ protocol: call.protocol, protocolMax: call.protocolMax, release: call.release }, `${error.message}: SUBSCRIBE refused; the executor keeps its tasks and retries`);
      run.versionRefused = true;
      connection.fail(error.code, error.message);
      return;
    }
    run.protocol = agreed.protocol;
    run.release = agreed.peer.release;
    run.versionRefused = false;
    const previous = run.connection;
    if (previous && previous !== connection) {
      log.info('executor subscribed again: closing its previous connection');
      previous.close(1000, 'replaced by a new subscription');
    }
    connection.accept({ frameworkId: call.frameworkId, executorId: call.executorId, containerId: call.containerId });
    model.attach(run, connection);
    const recovering = run.is('RECOVERING');
    if (run.is('LAUNCHING', 'RECOVERING')) run.transition('RUNNING');
    log.info({ replayedUpdates: call.unacknowledgedUpdates.length, replayedTasks: call.unacknowledgedTasks.length, recovering }, 'executor subscribed');
    if (recovering) {
      metrics.executorResubscribed();
      this.#recovery.noteResubscribed(run);
    }
    connection.send({
      type: 'SUBSCRIBED',
      agentId: model.id!,
      containerId: run.containerId,
      executorInfo: run.info,
      frameworkInfo: framework.info,
      heartbeatIntervalMs: config.executorHeartbeatIntervalMs,
      ...answerVersion(agreed.protocol),
    });
    // Tasks the executor already has (its LAUNCH arrived before a broken connection) are not sent again.
    for (const task of call.unacknowledgedTasks) {
      const entry = run.tasks.get(task.taskId);
      if (entry) entry.launched = true;
      else log.warn({ taskId: task.taskId }, 'executor reported a task this agent did not give it');
    }
    for (const status of call.unacknowledgedUpdates) {
      if (!connection.isOpen) return;
      this.update(connection, status);
    }
    if (!connection.isOpen) return;
    // An executor keeps a launched task in unacknowledgedTasks until one of its updates is
    // acknowledged: a task still STAGING that it does not report never reached it.
    const reported = new Set(call.unacknowledgedTasks.map((task) => task.taskId));
    let lostAtRecovery = 0;
    if (recovering) {
      // DESIGN §7.4: a task the agent recorded but the executor never received (the agent died
      // between task.json and LAUNCH) cannot run: it is lost.
      for (const entry of run.liveTasks()) {
        if (entry.state !== 'TASK_STAGING' || reported.has(entry.info.taskId)) continue;
        model.agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_LOST', 'REASON_AGENT_RESTARTED', `executor ${run.id} never received task ${entry.info.taskId}: the agent restarted before launching it`);
        lostAtRecovery++;
      }
      run.settle();
    } else {
      // Its LAUNCH went out on a connection the executor had already given up on (a handshake that
      // timed out on an overloaded node): launch it again on this one.
      const neverReceived = run.liveTasks().filter((entry) => entry.launched && entry.state === 'TASK_STAGING' && !reported.has(entry.info.taskId));
      for (const entry of neverReceived) entry.launched = false;
      if (neverReceived.length > 0) log.info({ tasks: neverReceived.map((entry) => entry.info.taskId) }, 'executor re-subscribed without tasks it was sent: launching them again');
    }
    for (const entry of run.queuedTasks()) model.deliver(run, entry);
    for (const entry of run.tasks.values()) {
      if (!entry.killPending) continue;
      entry.killPending = false;
      if (!isTerminal(entry.state)) {
        connection.send({ type: 'KILL', taskId: entry.info.taskId, gracePeriodMs: entry.info.killPolicy?.gracePeriodMs ?? config.executorShutdownGracePeriodMs });
      }
    }
    if (run.is('TERMINATING')) connection.send({ type: 'SHUTDOWN', gracePeriodMs: model.graceOf(run) });
    // An executor left with nothing to run because its tasks were lost (a command executor, or a
    // custom one that never received its tasks) is shut down: nothing would ever end it otherwise.
    else if (recovering && (run.commandTask || lostAtRecovery > 0) && run.liveTasks().length === 0) this.#ending.shutdown(run);
  }

  update(connection: ExecutorConnection, status: TaskStatus): void {
    const model = this.#model;
    const run = model.runOf(connection);
    if (!run) return;
    const entry = run.tasks.get(status.taskId);
    if (!entry) {
      model.metrics.frameErrors.inc({ code: 'ERR_PROTOCOL' });
      connection.fail('ERR_PROTOCOL', `invalid UPDATE frame: task ${status.taskId} does not belong to executor ${run.id}`);
      return;
    }
    if (status.state === 'TASK_RUNNING' && run.spawnedAt !== undefined) {
      // Executor start-up latency, for operators (and bench-shim): spawn to its first TASK_RUNNING.
      const startupMs = Math.round((performance.now() - run.spawnedAt) * 10) / 10;
      run.spawnedAt = undefined;
      model.logger.info({ executorId: run.id, taskId: status.taskId, executorPid: run.pid, startupMs }, 'executor reported TASK_RUNNING');
    }
    const received = performance.now();
    const receipt = model.record(run.frameworkId, run.id, entry, status);
    // DESIGN §2: ACKNOWLEDGED only once the update is durable (for checkpointing frameworks).
    receipt.recorded.then(
      () => {
        model.metrics.updateAckDuration.observe((performance.now() - received) / 1000);
        connection.send({ type: 'ACKNOWLEDGED', taskId: status.taskId, uuid: status.uuid });
      },
      (error: unknown) => {
        model.logger.error({ err: (error as Error).message, taskId: status.taskId }, 'could not record a status update: closing the executor connection');
        // Not ERROR (which makes an executor give up): a broken connection makes it resend.
        connection.close(1011, 'could not record the update');
      },
    );
  }

  message(connection: ExecutorConnection, data: MessageData): void {
    const run = this.#model.runOf(connection);
    if (!run) return;
    if (!this.#master.send({ type: 'EXECUTOR_MESSAGE', frameworkId: run.frameworkId, executorId: run.id, data })) {
      this.#model.logger.warn({ executorId: run.id }, 'executor message while not registered with the master: dropped');
    }
  }

  closed(connection: ExecutorConnection): void {
    const run = this.#model.runOf(connection);
    if (!run || run.connection !== connection) return;
    run.connection = undefined;
    this.#model.logger.info({ executorId: run.id, state: run.state }, 'executor connection closed');
    // Not our child: the closed connection may mean its process is gone. Look soon (and on every tick).
    if (run.recovered) setTimeout(() => this.#ending.checkLiveness(), 100).unref();
  }
}
