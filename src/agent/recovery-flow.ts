// The agent's recovery flow (DESIGN §7), apart from the Agent so that agent.ts reads as the
// orchestrator: rebuilding state from the checkpoint, waiting for live executors to re-subscribe,
// and --recover=cleanup. It sees the agent only through the narrow RecoveryHost below.
import fs from 'node:fs/promises';
import type { Checkpointer } from '../checkpoint/checkpointer.js';
import { syncDir } from '../checkpoint/atomic-write.js';
import { agentInfoPath, forkedPath, latestAgentPath, runDir, sentinelPath, type RunRef, type TaskRef } from '../checkpoint/layout.js';
import { recoverState } from '../checkpoint/recover.js';
import type { RecoveredExecutor, RecoveredRun, RecoveredState } from '../checkpoint/state.js';
import type { Logger } from '../log.js';
import { bootId as hostBootId } from '../process/index.js';
import type { Reason, TaskState, TaskStatus } from '../protocol/index.js';
import { AgentInfoChangedError } from './errors.js';
import { ExecutorRun, KILL_MARGIN_MS, type Ending, type Framework } from './executor-run.js';
import type { ExecutorExit } from './launcher.js';
import type { Config } from './options.js';
import { runIdentity, runIsAlive, sameAgentInfo, terminateExecutor } from './recovery.js';
import type { StatusOrigin } from './status-update-manager.js';

/** What the recovery flow needs from the agent: its settings and checkpoint, and callbacks into its private state. */
export interface RecoveryHost {
  readonly config: Pick<Config, 'workDir' | 'strict' | 'hostname' | 'resources' | 'executorReregistrationTimeoutMs'>;
  readonly checkpointer: Checkpointer | undefined;
  readonly logger: Logger;
  /** Records how many damaged checkpoint items a non-strict recovery skipped. */
  countRecoveryErrors(count: number): void;
  /** The checkpoint names this agent: its ID, with agent.json already durable. */
  adoptAgentId(agentId: string): void;
  /** Recovery is adding the recorded frameworks and runs (a framework must not be forgotten meanwhile). */
  setLoading(loading: boolean): void;
  addFramework(framework: Framework): void;
  frameworkCount(): number;
  /** Forgets every framework with nothing left to do. */
  forgetDoneFrameworks(): void;
  /** Records where a task's stream lives; false if another run already holds that task ID's stream. */
  claimTaskStream(ref: TaskRef): boolean;
  restoreStream(frameworkId: string, taskId: string, updates: readonly TaskStatus[], acked: ReadonlySet<string>, origin: StatusOrigin): void;
  isTerminating(): boolean;
  finishRun(run: ExecutorRun, ending: Ending, options?: { exit?: ExecutorExit; trustPids?: boolean }): Promise<void>;
  agentUpdate(frameworkId: string, executorId: string, run: ExecutorRun | undefined, taskId: string, state: TaskState, reason: Reason | undefined, message: string): Promise<void>;
  maybeForget(run: ExecutorRun): void;
  graceOf(run: ExecutorRun): number;
}

/** The host's boot id, or undefined without /proc (a reboot cannot be detected then). */
function currentBootId(): string | undefined {
  try {
    return hostBootId();
  } catch {
    return undefined;
  }
}

export class RecoveryFlow {
  readonly #host: RecoveryHost;
  /**
   * The runs recovery found dead, to be ended (outbox statuses, TASK_FAILED, sentinel) once the
   * socket listens: started then, not while reading, so that a thousand endings' disk work does not
   * delay the listening that live executors wait for (DESIGN §10). endDeadRuns() starts them.
   */
  readonly #foundDead = new Map<ExecutorRun, () => Promise<void>>();
  /** Endings under way (started by endDeadRuns(), awaited by finish()). */
  readonly #deadAtRecovery: Array<Promise<void>> = [];
  /** The host's boot id, written to meta/boot_id once recovery has dealt with every recorded run. */
  #pendingBootId: string | undefined;
  /** While recovering: the live executors not yet re-subscribed, and what ends the wait. */
  #recoveryWait: { pending: Set<ExecutorRun>; done: () => void } | undefined;

  constructor(host: RecoveryHost) {
    this.#host = host;
  }

  /**
   * Reads the checkpoint, applies its repairs, checks the agent's identity and the host's boot,
   * rebuilds frameworks, runs, tasks and update streams, and ends every run whose executor is dead
   * (outbox first, then TASK_FAILED). Returns the runs whose executor is alive.
   */
  async recover(): Promise<ExecutorRun[]> {
    const checkpointer = this.#host.checkpointer!;
    const workDir = this.#host.config.workDir;
    const latestLink = latestAgentPath(workDir);
    // Strict mode: a CheckpointCorruptError whose message names the file, the offset and the two
    // ways out (--strict=false, or removing meta/agents/latest); the CLI prints it and exits 1.
    const state: RecoveredState = await recoverState(workDir, { strict: this.#host.config.strict });
    // The agent's own checkpoint skipped (non-strict) counts as a recovery error; a damaged file
    // the executor wrote (shim.json, outbox.log) is only noted: it is untrusted in every mode.
    const skipped = state.errors.filter((damage) => damage.source !== 'sandbox');
    for (const damage of state.errors) {
      const level = damage.source === 'sandbox' ? 'warn' : 'error';
      this.#host.logger[level]({ file: damage.file, offset: damage.offset }, `recovery skipped a damaged ${damage.source === 'sandbox' ? 'executor file' : 'checkpoint'}: ${damage.message}`);
    }
    this.#host.countRecoveryErrors(skipped.length);
    if (state.repairs.length > 0) {
      await checkpointer.applyRepairs(state.repairs);
      for (const repair of state.repairs) this.#host.logger.info({ file: repair.file, length: repair.length, reason: repair.reason }, 'record log truncated');
    }
    if (state.strayTempFiles.length > 0) {
      await checkpointer.removeStrayTempFiles(state.strayTempFiles);
      this.#host.logger.info({ files: state.strayTempFiles }, 'stray temp files of interrupted writes removed');
    }
    const bootId = state.hostBootId ?? currentBootId();
    if (state.agentId === undefined || state.agentInfo === undefined) {
      if (state.agentId !== undefined) this.#host.logger.warn({ agentId: state.agentId }, 'the agent info could not be recovered: registering as a new agent');
      else this.#host.logger.info('nothing to recover: registering as a new agent');
      if (bootId) await checkpointer.writeBootId(bootId);
      return [];
    }
    const current = { hostname: this.#host.config.hostname, resources: { ...this.#host.config.resources } };
    if (!sameAgentInfo(state.agentInfo, current)) {
      const error = new AgentInfoChangedError(agentInfoPath(workDir, { agentId: state.agentId }), state.agentInfo, current, latestLink);
      if (!state.rebooted) throw error;
      this.#host.logger.warn({ agentId: state.agentId }, `the host rebooted and ${error.message.replace(/^refusing to recover the agent: /, '')}: registering as a new agent`);
      await checkpointer.removeLatestAgent();
      if (bootId) await checkpointer.writeBootId(bootId);
      return [];
    }
    this.#host.adoptAgentId(state.agentId);
    const log = this.#host.logger.child({ agentId: state.agentId });
    if (state.rebooted) log.warn({ recordedBootId: state.recordedBootId, bootId }, 'the host rebooted: no recorded executor survived');
    const live: ExecutorRun[] = [];
    // While runs are being added, a framework whose first runs are done must not be forgotten.
    this.#host.setLoading(true);
    for (const recovered of state.frameworks) {
      const framework: Framework = { info: recovered.info, executors: new Map(), terminating: false, archived: new Set(), checkpointed: Promise.resolve() };
      this.#host.addFramework(framework);
      for (const executor of recovered.executors) {
        // The latest run first: it owns the executor ID (and its task streams) in memory.
        const runs = [...executor.runs].sort((a, b) => Number(b.containerId === executor.latest) - Number(a.containerId === executor.latest));
        for (const recoveredRun of runs) {
          const run = await this.#recoverRun(state.agentId, framework, executor, recoveredRun, state.rebooted, recoveredRun.containerId === executor.latest);
          if (run.is('RECOVERING') && run.exit === undefined && !this.#foundDead.has(run)) live.push(run);
        }
      }
    }
    this.#host.setLoading(false);
    log.info({ frameworks: this.#host.frameworkCount(), liveExecutors: live.length, deadExecutors: this.#foundDead.size, errors: skipped.length }, 'checkpoint recovered');
    // Runs found dead are being ended (outbox statuses first, then TASK_FAILED) while the socket
    // opens for the live ones; finish() waits for them before the agent registers.
    this.#pendingBootId = bootId;
    return live;
  }

  /** Starts ending the runs recovery found dead (once; the agent calls it as soon as its socket listens). */
  endDeadRuns(): void {
    const endings = [...this.#foundDead.values()];
    this.#foundDead.clear();
    for (const end of endings) this.#deadAtRecovery.push(end());
  }

  /** Was this run found dead by recovery, its ending not started yet? (It must not be taken for a live one.) */
  isFoundDead(run: ExecutorRun): boolean {
    return this.#foundDead.has(run);
  }

  /** After the dead runs are ended (sentinels written): forget what is done, record this boot. */
  async finish(): Promise<void> {
    this.endDeadRuns();
    await Promise.all(this.#deadAtRecovery.splice(0));
    this.#host.forgetDoneFrameworks();
    const bootId = this.#pendingBootId;
    this.#pendingBootId = undefined;
    if (bootId && this.#host.checkpointer) await this.#host.checkpointer.writeBootId(bootId);
  }

  async #recoverRun(agentId: string, framework: Framework, executor: RecoveredExecutor, recovered: RecoveredRun, rebooted: boolean, latest: boolean): Promise<ExecutorRun> {
    const ref: RunRef = { agentId, frameworkId: framework.info.id, executorId: executor.id, containerId: recovered.containerId };
    const identity = rebooted ? undefined : runIdentity(recovered, executor.id);
    const alive = !recovered.completed && runIsAlive(identity, rebooted);
    const run = new ExecutorRun({
      info: executor.info,
      framework,
      containerId: recovered.containerId,
      tokenHash: recovered.tokenHash ?? '',
      sandbox: recovered.sandbox,
      commandTask: executor.generated,
      checkpoint: true,
      ref,
      recovered: { state: recovered.completed ? 'TERMINATED' : 'RECOVERING', ...(identity && { identity }) },
    });
    if (latest && !framework.executors.has(executor.id)) framework.executors.set(executor.id, run);
    else framework.archived.add(run);
    for (const task of recovered.tasks) {
      const entry = run.addTask(task.info);
      entry.launched = true;
      const last = task.updates.at(-1);
      if (last) entry.state = last.state;
      if (!this.#host.claimTaskStream({ ...ref, taskId: task.id })) {
        this.#host.logger.warn({ frameworkId: framework.info.id, taskId: task.id, containerId: run.containerId }, 'task ID recorded in more than one run: only the latest run\'s stream is recovered');
        continue;
      }
      this.#host.restoreStream(framework.info.id, task.id, task.updates, new Set(task.acks), { agentId: ref.agentId, executorId: executor.id });
    }
    // Made when there is something to say (a child logger per run costs, with a thousand runs).
    const log = () => this.#host.logger.child({ frameworkId: framework.info.id, executorId: executor.id, containerId: run.containerId });
    if (rebooted && !recovered.completed) {
      // DESIGN §5: after a reboot the recorded pid names nothing of ours: it is deleted.
      await fs.rm(forkedPath(this.#host.config.workDir, ref), { force: true });
      await syncDir(runDir(this.#host.config.workDir, ref)).catch(() => {});
    }
    if (recovered.completed) {
      run.exit = { exitCode: null, signal: null };
      run.completedAt = await fs.stat(sentinelPath(this.#host.config.workDir, ref)).then((stat) => stat.mtimeMs, () => Date.now());
      // Completed without a terminal update for a task (only damage can do that): it failed.
      for (const entry of run.liveTasks()) {
        this.#host.agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', `executor ${run.id} had completed`);
      }
      this.#host.maybeForget(run);
      return run;
    }
    if (alive && latest) {
      log().info({ executorPid: identity!.pid, tasks: run.tasks.size }, 'executor alive: waiting for it to re-subscribe');
      return run;
    }
    if (alive) {
      // Only an executor's latest run can re-subscribe: an older one still running is killed.
      const why = `an older run of executor ${run.id} (pid ${identity!.pid}) was still running: killed`;
      log().warn({ executorPid: identity!.pid }, why);
      this.#foundDead.set(run, () => this.#host.finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: why }));
      return run;
    }
    const why = rebooted
      ? `executor ${run.id} did not survive the host's reboot`
      : identity
        ? `executor ${run.id} (pid ${identity.pid}) exited while the agent was down`
        : `executor ${run.id} was never recorded as started`;
    // Said when the run is ended, once the socket listens: the live executors come first.
    this.#foundDead.set(run, () => {
      log().info({ executorPid: identity?.pid }, why);
      return this.#host.finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: why }, { trustPids: !rebooted });
    });
    return run;
  }

  /**
   * DESIGN §7.4–5: waits until every live executor has re-subscribed, or the re-registration window
   * (from the moment the socket listens) has passed; then kills those not back, and their tasks'
   * process groups, reporting their tasks TASK_LOST/REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
   */
  async awaitReregistration(live: readonly ExecutorRun[]): Promise<void> {
    const pending = new Set(live.filter((run) => run.is('RECOVERING') && run.exit === undefined));
    if (pending.size === 0) return;
    const timeoutMs = this.#host.config.executorReregistrationTimeoutMs;
    this.#host.logger.info({ executors: pending.size, timeoutMs }, 'waiting for live executors to re-subscribe');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#recoveryWait = undefined;
        resolve();
      };
      this.#recoveryWait = { pending, done };
    });
    if (this.#host.isTerminating()) return;
    const late = [...pending].filter((run) => run.is('RECOVERING') && run.exit === undefined);
    await Promise.all(
      late.map((run) =>
        this.#host.finishRun(run, {
          state: 'TASK_LOST',
          reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
          message: `executor ${run.id} did not re-subscribe within ${timeoutMs} ms of the agent's restart: killed`,
        }),
      ),
    );
  }

  /** A recovered run is back (re-subscribed) or gone: recovery may not need to wait any longer. */
  settled(run: ExecutorRun): void {
    const wait = this.#recoveryWait;
    if (!wait || !wait.pending.delete(run)) return;
    if (wait.pending.size === 0) wait.done();
  }

  /**
   * --recover=cleanup (DESIGN §7.3): every live executor gets SIGTERM (the shim records its tasks'
   * terminal statuses in its outbox), the grace period, then SIGKILL; its leftover task groups are
   * killed and its tasks' terminal updates recorded. The agent then closes, without registering:
   * meta/agents/latest is kept, so the next start re-registers and forwards those updates.
   */
  async cleanup(live: readonly ExecutorRun[]): Promise<void> {
    this.#host.logger.info({ executors: live.length }, '--recover=cleanup: shutting down every live executor');
    this.endDeadRuns();
    await Promise.all(
      live.map(async (run) => {
        const identity = run.identity!;
        run.transition('TERMINATING');
        const signal = await terminateExecutor(identity, this.#host.graceOf(run) + KILL_MARGIN_MS);
        this.#host.logger.info({ executorId: run.id, executorPid: identity.pid, signal }, 'executor shut down');
        await this.#host.finishRun(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} was shut down by --recover=cleanup` });
      }),
    );
    await this.finish();
  }

  /** The agent is stopping: recovery waits no longer for executors to re-subscribe. */
  stopWaiting(): void {
    this.#recoveryWait?.done();
  }
}
