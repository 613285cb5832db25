// What the agent does with its master (DESIGN §8): it builds REGISTER or REREGISTER from the node
// model, takes REGISTERED, routes RUN_TASK and KILL_TASK to runs, records acknowledgements, relays
// messages, shuts frameworks down, and forwards status updates. The connection itself is MasterLink.
import { answeredVersion, firstFrameVersion, isTerminal, shapeStatus, type RecoverySummary, type AgentCall, type AgentEvent, type ExecutorInfo, type Reason, type ReportedTask, type TaskInfo, type TaskState } from '../protocol/index.js';
import type { FrameworkRecord } from './executor-run.js';
import { commandExecutorInfo, type ExecutorLauncher } from './launcher.js';
import { MasterLink, type MasterLinkOptions } from './master-link.js';
import type { NodeModel } from './node-model.js';
import type { RunEnding } from './run-ending.js';
import type { StatusUpdate } from './status-update-manager.js';

type RegisteredEvent = Parameters<MasterLinkOptions['onRegistered']>[0];

export interface MasterSessionOptions {
  model: NodeModel;
  launcher: ExecutorLauncher;
  ending: RunEnding;
  /** The master told this agent to shut down (it has removed the agent already). */
  onShutdown(message: string): void;
  /** Where the agent's HTTP endpoint answers, HOST:PORT, told to the master (issue 15). */
  httpAddress?(): string | undefined;
  /** How the last restart's recovery went, once it is over (issue 15). */
  recovery?(): RecoverySummary | undefined;
}

export class MasterSession {
  /** The connection to the master (started and closed by the agent). */
  readonly link: MasterLink;
  readonly #model: NodeModel;
  readonly #launcher: ExecutorLauncher;
  readonly #ending: RunEnding;
  readonly #onShutdown: (message: string) => void;
  /** What the master answered at the last registration: the protocol agreed and its release (0.1.0 says neither: protocol 1). */
  master: { protocol: number; release: string | undefined } | undefined;
  readonly #httpAddress: () => string | undefined;
  readonly #recovery: () => RecoverySummary | undefined;

  constructor(options: MasterSessionOptions) {
    this.#model = options.model;
    this.#launcher = options.launcher;
    this.#ending = options.ending;
    this.#onShutdown = options.onShutdown;
    this.#httpAddress = options.httpAddress ?? (() => undefined);
    this.#recovery = options.recovery ?? (() => undefined);
    const { config, logger } = options.model;
    this.link = new MasterLink({
      master: config.master,
      ...(config.masterCa !== undefined && { ca: config.masterCa }),
      ...(config.credential !== undefined && { credential: config.credential }),
      // The agent's own certificate is also its client certificate, for a master with --ssl_require_cert.
      ...(config.tls !== undefined && { clientCertificate: { cert: config.tls.cert, key: config.tls.key } }),
      backoffFactorMs: config.registrationBackoffFactorMs,
      logger: logger.child({ component: 'master-link' }),
      registration: () => this.registration(),
      onRegistered: (event) => this.#onRegistered(event),
      onEvent: (event) => this.handle(event),
      onDisconnected: () => {
        if (this.#model.lifecycle.is('RUNNING')) this.#model.lifecycle.transition('DISCONNECTED');
      },
      onUnknown: () => this.#model.metrics.unknownMessages.inc({ link: 'master' }),
    });
  }

  /** Sends a call if registered (false: not sent). */
  send(call: AgentCall): boolean {
    return this.link.send(call);
  }

  /** The status update manager's way to the master. */
  forward(update: StatusUpdate, resend: boolean): boolean {
    const sandbox = this.#model.framework(update.frameworkId)?.executors.get(update.status.executorId)?.sandbox;
    // Shaped for the version the master agreed (a 0.1.0 master refuses a name it does not know).
    const status = shapeStatus(update.status, this.master?.protocol ?? 1);
    const sent = this.link.send({ type: 'STATUS_UPDATE', frameworkId: update.frameworkId, status, ...(sandbox !== undefined && { sandbox }) });
    if (sent) this.#model.metrics.statusUpdatesForwarded.inc({ resend: String(resend) });
    return sent;
  }

  /** REGISTER for a new agent; REREGISTER with every framework, live executor and task (and each stream's head) once it has an ID. */
  registration(): AgentCall {
    const model = this.#model;
    const { config } = model;
    const httpAddress = this.#httpAddress();
    const agentInfo = { hostname: config.hostname, resources: { ...config.resources }, checkpoint: config.checkpoint, ...(httpAddress !== undefined && { httpAddress }) };
    if (model.id === undefined) {
      model.metrics.registrations.inc({ type: 'REGISTER' });
      return { type: 'REGISTER', agentInfo, ...firstFrameVersion() };
    }
    const frameworks: FrameworkRecord[] = [];
    const executors: ExecutorInfo[] = [];
    const tasks: ReportedTask[] = [];
    for (const framework of model.frameworks()) {
      frameworks.push(framework.info);
      for (const run of [...framework.executors.values(), ...framework.archived]) {
        if (!run.is('TERMINATED')) executors.push(run.info);
        for (const entry of run.tasks.values()) {
          const head = model.updates.pending(framework.info.id, entry.info.taskId)[0];
          tasks.push({
            frameworkId: framework.info.id,
            executorId: run.id,
            task: entry.info,
            // The first frame goes before the master says its version: shaped for the last one it
            // agreed, or for protocol 1 (a 0.1.0 master refuses a state it does not know).
            state: shapeStatus({ state: entry.state }, this.master?.protocol ?? 1).state,
            sandbox: run.sandbox,
            ...(head && { unacknowledgedState: shapeStatus({ state: head.state }, this.master?.protocol ?? 1).state, unacknowledgedUuid: head.uuid }),
          });
        }
      }
    }
    model.metrics.registrations.inc({ type: 'REREGISTER' });
    const recovery = this.#recovery();
    return { type: 'REREGISTER', agentInfo: { ...agentInfo, id: model.id }, frameworks, executors, tasks, ...(recovery && { recovery }), ...firstFrameVersion() };
  }

  #onRegistered(event: RegisteredEvent): void {
    const model = this.#model;
    if (model.id !== undefined && event.agentId !== model.id) {
      model.logger.warn({ previous: model.id, agentId: event.agentId }, 'the master gave this agent a new ID');
    }
    this.master = answeredVersion(event);
    model.logger.info({ agentId: event.agentId, type: event.type, protocol: this.master.protocol, masterRelease: this.master.release ?? '0.1.0 or older' }, 'registered with the master');
    // First registration: agent.json, then meta/agents/latest. Launches wait for it.
    model.registeredAs(event.agentId);
    if (model.lifecycle.is('DISCONNECTED')) model.lifecycle.transition('RUNNING');
    model.updates.resume();
  }

  /** Every event from the master but REGISTERED/REREGISTERED and PING (the link handles those). */
  handle(event: AgentEvent): void {
    const model = this.#model;
    switch (event.type) {
      case 'RUN_TASK':
        this.#runTask(event.frameworkInfo, event.task);
        return;
      case 'KILL_TASK':
        this.#killTask(event.frameworkId, event.taskId);
        return;
      case 'ACKNOWLEDGE':
        model.updates.acknowledge(event.frameworkId, event.taskId, event.uuid).catch((error: unknown) => {
          model.logger.error({ err: (error as Error).message, taskId: event.taskId }, 'could not record an acknowledgement');
        });
        return;
      case 'FRAMEWORK_MESSAGE': {
        const run = model.framework(event.frameworkId)?.executors.get(event.executorId);
        if (!run?.connection?.send({ type: 'MESSAGE', data: event.data })) {
          model.logger.warn({ frameworkId: event.frameworkId, executorId: event.executorId }, 'framework message for an executor that is not connected: dropped');
        }
        return;
      }
      case 'SHUTDOWN_FRAMEWORK':
        this.#shutdownFramework(event.frameworkId);
        return;
      case 'SHUTDOWN':
        model.logger.warn({ message: event.message }, 'the master told this agent to shut down');
        this.#onShutdown(event.message);
        return;
      case 'ERROR':
      case 'PING':
      case 'REGISTERED':
      case 'REREGISTERED':
        return; // handled (and logged) by the master link
    }
  }

  #runTask(frameworkInfo: FrameworkRecord, task: TaskInfo): void {
    const model = this.#model;
    model.metrics.tasksLaunched.inc();
    const executorId = task.executor?.executorId ?? task.taskId;
    const log = model.logger.child({ frameworkId: frameworkInfo.id, taskId: task.taskId, executorId });
    const reject = (state: TaskState, reason: Reason | undefined, message: string) => {
      log.warn({ state, reason }, `task not launched: ${message}`);
      model.agentUpdate(frameworkInfo.id, executorId, undefined, task.taskId, state, reason, message);
    };
    if (model.terminating) return reject('TASK_LOST', undefined, 'the agent is shutting down');
    if (task.agentId !== model.id) return reject('TASK_ERROR', 'REASON_TASK_INVALID', `the task is for agent ${task.agentId}, this is agent ${model.id}`);
    if ((task.command === undefined) === (task.executor === undefined)) {
      return reject('TASK_ERROR', 'REASON_TASK_INVALID', 'a task needs exactly one of command and executor');
    }
    if (task.executor && task.executor.frameworkId !== frameworkInfo.id) {
      return reject('TASK_ERROR', 'REASON_TASK_INVALID', `its executor belongs to framework ${task.executor.frameworkId}, not ${frameworkInfo.id}`);
    }
    const known = model.framework(frameworkInfo.id);
    if (known?.terminating) return reject('TASK_LOST', 'REASON_FRAMEWORK_REMOVED', 'its framework is being shut down on this agent');
    for (const other of known?.executors.values() ?? []) {
      const entry = other.tasks.get(task.taskId);
      if (entry && !isTerminal(entry.state)) return reject('TASK_ERROR', 'REASON_TASK_INVALID', `task ID ${task.taskId} is already in use on this agent`);
    }
    const framework = known ?? model.frameworkFor(frameworkInfo);
    let run = framework.executors.get(executorId);
    if (run?.is('TERMINATED')) {
      // A finished run of the same executor: a new run replaces it (its update streams live on).
      framework.executors.delete(executorId);
      framework.archived.add(run);
      run = undefined;
    }
    if (run) {
      if (run.commandTask || task.command) {
        return reject('TASK_ERROR', 'REASON_TASK_INVALID', `executor ID ${executorId} is already in use on this agent`);
      }
      if (run.is('TERMINATING')) return reject('TASK_LOST', undefined, `executor ${executorId} is shutting down`);
      model.addTask(run, task);
      log.info(run.connection?.isOpen ? 'task launched on a running executor' : 'task queued until its executor subscribes');
      return;
    }
    this.#launcher.start(framework, task.executor ?? commandExecutorInfo(frameworkInfo.id, task.taskId), task.executor === undefined, task);
  }

  #killTask(frameworkId: string, taskId: string): void {
    const model = this.#model;
    const framework = model.framework(frameworkId);
    let run;
    for (const candidate of framework?.executors.values() ?? []) if (candidate.tasks.has(taskId)) run = candidate;
    const entry = run?.tasks.get(taskId);
    if (!run || !entry) {
      model.logger.warn({ frameworkId, taskId }, 'kill for a task this agent does not have: ignored');
      return;
    }
    if (isTerminal(entry.state)) return;
    if (!entry.launched) {
      model.agentUpdate(frameworkId, run.id, run, taskId, 'TASK_KILLED', 'REASON_TASK_KILLED_DURING_LAUNCH', 'killed before its executor received it');
      if (run.liveTasks().length === 0) this.#ending.shutdown(run);
      return;
    }
    const gracePeriodMs = entry.info.killPolicy?.gracePeriodMs ?? model.config.executorShutdownGracePeriodMs;
    if (run.connection?.send({ type: 'KILL', taskId, gracePeriodMs })) return;
    // Launched, but its executor is not connected right now: the kill goes when it re-subscribes.
    entry.killPending = true;
  }

  #shutdownFramework(frameworkId: string): void {
    const model = this.#model;
    const framework = model.framework(frameworkId);
    if (!framework) return;
    model.logger.info({ frameworkId }, 'shutting down a framework');
    framework.terminating = true;
    for (const run of [...framework.executors.values()]) {
      // A run that ended while its last updates waited for acknowledgements is forgotten now:
      // a removed framework acknowledges nothing more, and its gc_delay must start.
      if (run.is('TERMINATED')) model.maybeForget(run);
      else this.#ending.shutdown(run);
    }
    for (const run of [...framework.archived]) model.maybeForget(run);
    model.maybeForgetFramework(framework);
  }
}
