// The agent's recovery flow (DESIGN §7), apart from the Agent so that agent.ts reads as the
// orchestrator: rebuilding the node model from the checkpoint, waiting for live executors to
// re-subscribe, and --recover=cleanup. It fills the model and ends runs through RunEnding.
import fs from 'node:fs/promises';
import { syncDir } from '../checkpoint/atomic-write.js';
import { agentInfoPath, forkedPath, latestAgentPath, runDir, sentinelPath, type RunRef } from '../checkpoint/layout.js';
import { recoverState } from '../checkpoint/recover.js';
import { readCheckpointFormat, writeCheckpointFormat } from '../checkpoint/format.js';
import type { RecoveredExecutor, RecoveredRun, RecoveredState } from '../checkpoint/state.js';
import { bootId as hostBootId } from '../process/index.js';
import { AgentInfoChangedError } from './errors.js';
import { ExecutorRun, KILL_MARGIN_MS, type Framework } from './executor-run.js';
import type { NodeModel } from './node-model.js';
import { runIdentity, runIsAlive, sameAgentInfo, terminateExecutor } from './recovery.js';
import type { RunEnding } from './run-ending.js';

/** The host's boot id, or undefined without /proc (a reboot cannot be detected then). */
function currentBootId(): string | undefined {
  try {
    return hostBootId();
  } catch {
    return undefined;
  }
}

export class RecoveryFlow {
  readonly #model: NodeModel;
  readonly #ending: RunEnding;
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
  /** While waiting for live executors to re-subscribe: what ends the wait early. */
  #endWait: (() => void) | undefined;
  /** For the closing summary line: runs ended by recovery (dead, or not back in time) and the tasks they still had. */
  readonly #gone = new Map<ExecutorRun, string[]>();
  readonly #resubscribed = new Set<ExecutorRun>();
  #live: readonly ExecutorRun[] = [];

  constructor(model: NodeModel, ending: RunEnding) {
    this.#model = model;
    this.#ending = ending;
  }

  /**
   * Reads the checkpoint, applies its repairs, checks the agent's identity and the host's boot,
   * rebuilds frameworks, runs, tasks and update streams, and ends every run whose executor is dead
   * (outbox first, then TASK_FAILED). Returns the runs whose executor is alive.
   */
  async recover(): Promise<ExecutorRun[]> {
    const checkpointer = this.#model.checkpointer!;
    const workDir = this.#model.config.workDir;
    const latestLink = latestAgentPath(workDir);
    // Strict mode: a CheckpointCorruptError whose message names the file, the offset and the two
    // ways out (--strict=false, or removing meta/agents/latest); the CLI prints it and exits 1.
    // A format newer than this release reads is refused before anything is read (issue 11).
    const format = await readCheckpointFormat(workDir);
    const state: RecoveredState = await recoverState(workDir, { strict: this.#model.config.strict });
    await writeCheckpointFormat(workDir, format);
    // The agent's own checkpoint skipped (non-strict) counts as a recovery error; a damaged file
    // the executor wrote (shim.json, outbox.log) is only noted: it is untrusted in every mode.
    const skipped = state.errors.filter((damage) => damage.source !== 'sandbox');
    for (const damage of state.errors) {
      const level = damage.source === 'sandbox' ? 'warn' : 'error';
      this.#model.logger[level]({ file: damage.file, offset: damage.offset }, `recovery skipped a damaged ${damage.source === 'sandbox' ? 'executor file' : 'checkpoint'}: ${damage.message}`);
    }
    this.#model.countRecoveryErrors(skipped.length);
    if (state.repairs.length > 0) {
      await checkpointer.applyRepairs(state.repairs);
      for (const repair of state.repairs) this.#model.logger.info({ file: repair.file, length: repair.length, reason: repair.reason }, 'record log truncated');
    }
    if (state.strayTempFiles.length > 0) {
      await checkpointer.removeStrayTempFiles(state.strayTempFiles);
      this.#model.logger.info({ files: state.strayTempFiles }, 'stray temp files of interrupted writes removed');
    }
    const bootId = state.hostBootId ?? currentBootId();
    if (state.agentId === undefined || state.agentInfo === undefined) {
      if (state.agentId !== undefined) this.#model.logger.warn({ agentId: state.agentId }, 'the agent info could not be recovered: registering as a new agent');
      else this.#model.logger.info('nothing to recover: registering as a new agent');
      if (bootId) await checkpointer.writeBootId(bootId);
      return [];
    }
    const current = { hostname: this.#model.config.hostname, resources: { ...this.#model.config.resources } };
    if (!sameAgentInfo(state.agentInfo, current)) {
      const error = new AgentInfoChangedError(agentInfoPath(workDir, { agentId: state.agentId }), state.agentInfo, current, latestLink);
      if (!state.rebooted) throw error;
      this.#model.logger.warn({ agentId: state.agentId }, `the host rebooted and ${error.message.replace(/^refusing to recover the agent: /, '')}: registering as a new agent`);
      await checkpointer.removeLatestAgent();
      if (bootId) await checkpointer.writeBootId(bootId);
      return [];
    }
    this.#model.adoptRecoveredId(state.agentId);
    const log = this.#model.logger.child({ agentId: state.agentId });
    if (state.rebooted) log.warn({ recordedBootId: state.recordedBootId, bootId }, 'the host rebooted: no recorded executor survived');
    const live: ExecutorRun[] = [];
    // While runs are being added, a framework whose first runs are done must not be forgotten.
    this.#model.setLoading(true);
    for (const recovered of state.frameworks) {
      const framework: Framework = { info: recovered.info, executors: new Map(), terminating: false, archived: new Set(), checkpointed: Promise.resolve() };
      this.#model.addFramework(framework);
      for (const executor of recovered.executors) {
        // The latest run first: it owns the executor ID (and its task streams) in memory.
        const runs = [...executor.runs].sort((a, b) => Number(b.containerId === executor.latest) - Number(a.containerId === executor.latest));
        for (const recoveredRun of runs) {
          const run = await this.#recoverRun(state.agentId, framework, executor, recoveredRun, state.rebooted, recoveredRun.containerId === executor.latest);
          if (run.is('RECOVERING') && run.exit === undefined && !this.#foundDead.has(run)) live.push(run);
        }
      }
    }
    this.#model.setLoading(false);
    for (const run of this.#foundDead.keys()) this.#noteGone(run);
    log.info({ frameworks: this.#model.frameworkCount, liveExecutors: live.length, deadExecutors: this.#foundDead.size, errors: skipped.length }, 'checkpoint recovered');
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
    this.#model.forgetDoneFrameworks();
    const bootId = this.#pendingBootId;
    this.#pendingBootId = undefined;
    if (bootId && this.#model.checkpointer) await this.#model.checkpointer.writeBootId(bootId);
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
      if (!this.#model.claimTaskStream({ ...ref, taskId: task.id })) {
        this.#model.logger.warn({ frameworkId: framework.info.id, taskId: task.id, containerId: run.containerId }, 'task ID recorded in more than one run: only the latest run\'s stream is recovered');
        continue;
      }
      this.#model.restoreStream(framework.info.id, task.id, task.updates, new Set(task.acks), { agentId: ref.agentId, executorId: executor.id });
    }
    // Made when there is something to say (a child logger per run costs, with a thousand runs).
    const log = () => this.#model.logger.child({ frameworkId: framework.info.id, executorId: executor.id, containerId: run.containerId });
    if (rebooted && !recovered.completed) {
      // DESIGN §5: after a reboot the recorded pid names nothing of ours: it is deleted.
      await fs.rm(forkedPath(this.#model.config.workDir, ref), { force: true });
      await syncDir(runDir(this.#model.config.workDir, ref)).catch(() => {});
    }
    if (recovered.completed) {
      run.exit = { exitCode: null, signal: null };
      run.completedAt = await fs.stat(sentinelPath(this.#model.config.workDir, ref)).then((stat) => stat.mtimeMs, () => Date.now());
      // Completed without a terminal update for a task (only damage can do that): it failed.
      for (const entry of run.liveTasks()) {
        this.#model.agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, 'TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', `executor ${run.id} had completed`);
      }
      this.#model.maybeForget(run);
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
      this.#foundDead.set(run, () => this.#ending.finish(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: why }));
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
      return this.#ending.finish(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: why }, { trustPids: !rebooted });
    });
    return run;
  }

  /**
   * DESIGN §7.4–5: waits until every live executor has re-subscribed, or the re-registration window
   * (from the moment the socket listens) has passed; then kills those not back, and their tasks'
   * process groups, reporting their tasks TASK_LOST/REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
   */
  async awaitReregistration(live: readonly ExecutorRun[]): Promise<void> {
    this.#live = live;
    const pending = new Set(live.filter((run) => run.is('RECOVERING') && run.exit === undefined));
    if (pending.size === 0) return;
    const timeoutMs = this.#model.config.executorReregistrationTimeoutMs;
    this.#model.logger.info({ executors: pending.size, timeoutMs }, 'waiting for live executors to re-subscribe');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        if (this.#endWait === done) this.#endWait = undefined;
        resolve();
      };
      this.#endWait = done;
      // Each run settles when it re-subscribes or its ending is done (ExecutorRun.settled).
      void Promise.all([...pending].map((run) => run.settled)).then(done);
    });
    if (this.#model.terminating) return;
    // A run refused for its protocol version is alive and retrying: it keeps its tasks (issue 11);
    // it ends when its own recovery timeout makes it exit, which the liveness checks notice.
    const late = [...pending].filter((run) => run.is('RECOVERING') && run.exit === undefined && !run.versionRefused);
    for (const run of late) this.#noteGone(run);
    await Promise.all(
      late.map((run) =>
        this.#ending.finish(run, {
          state: 'TASK_LOST',
          reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
          message: `executor ${run.id} did not re-subscribe within ${timeoutMs} ms of the agent's restart: killed`,
        }),
      ),
    );
  }

  /**
   * --recover=cleanup (DESIGN §7.3): every live executor gets SIGTERM (the shim records its tasks'
   * terminal statuses in its outbox), the grace period, then SIGKILL; its leftover task groups are
   * killed and its tasks' terminal updates recorded. The agent then closes, without registering:
   * meta/agents/latest is kept, so the next start re-registers and forwards those updates.
   */
  async cleanup(live: readonly ExecutorRun[]): Promise<void> {
    this.#model.logger.info({ executors: live.length }, '--recover=cleanup: shutting down every live executor');
    this.endDeadRuns();
    await Promise.all(
      live.map(async (run) => {
        const identity = run.identity!;
        run.transition('TERMINATING');
        const signal = await terminateExecutor(identity, this.#model.graceOf(run) + KILL_MARGIN_MS);
        this.#model.logger.info({ executorId: run.id, executorPid: identity.pid, signal }, 'executor shut down');
        await this.#ending.finish(run, { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${run.id} was shut down by --recover=cleanup` });
      }),
    );
    await this.finish();
  }

  /**
   * What recovery did, for its closing line and metrics (once finish() has run): executors
   * re-subscribed, executors gone (found dead, or killed for not re-subscribing in time), and the
   * tasks those had that did not end TASK_FINISHED (failed or lost with their executor).
   */
  summary(): { resubscribed: number; gone: number; tasksLost: number } {
    // A live one that exited before it could re-subscribe is gone too.
    for (const run of this.#live) if (!this.#resubscribed.has(run)) this.#noteGone(run);
    let tasksLost = 0;
    for (const [run, taskIds] of this.#gone) {
      for (const taskId of taskIds) if (run.tasks.get(taskId)?.state !== 'TASK_FINISHED') tasksLost++;
    }
    return { resubscribed: this.#resubscribed.size, gone: this.#gone.size, tasksLost };
  }

  /** A recovered executor re-subscribed (executor-sessions tells). */
  noteResubscribed(run: ExecutorRun): void {
    this.#resubscribed.add(run);
  }

  #noteGone(run: ExecutorRun): void {
    if (!this.#gone.has(run)) this.#gone.set(run, run.liveTasks().map((entry) => entry.info.taskId));
  }

  /** The agent is stopping: recovery waits no longer for executors to re-subscribe. */
  stopWaiting(): void {
    this.#endWait?.();
  }
}
