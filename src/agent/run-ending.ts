// How an executor run ends (DESIGN §4, §7): shutting it down (SHUTDOWN or SIGTERM, SIGKILL after
// its grace period), noticing that a recovered executor — not the agent's child — is gone, and
// ending the run once: leftovers killed, its outbox replayed, its tasks reported, its sentinel written.
import { isSameProcess } from '../process/index.js';
import { KILL_MARGIN_MS, type Ending, type ExecutorRun } from './executor-run.js';
import type { ExecutorExit } from './launcher.js';
import type { NodeModel } from './node-model.js';
import { killExecutorGroup, killTaskGroups, readOutboxStatuses, readShimInfo } from './recovery.js';

/** How long an executor's connection may stay open after its process exited (frames in flight). */
export const CONNECTION_DRAIN_MS = 1_000;

export interface FinishOptions {
  /** How its process ended (default: unknown). */
  exit?: ExecutorExit;
  /** False after a reboot: recorded pids name nothing of ours and are not signalled. */
  trustPids?: boolean;
}

export class RunEnding {
  readonly #model: NodeModel;

  constructor(model: NodeModel) {
    this.#model = model;
  }

  /** SHUTDOWN to the executor (or SIGTERM if it is not connected), SIGKILL to its group after the grace period. */
  shutdown(run: ExecutorRun): void {
    if (run.is('TERMINATING', 'TERMINATED')) return;
    run.transition('TERMINATING');
    const gracePeriodMs = this.#model.graceOf(run);
    if (!run.connection?.send({ type: 'SHUTDOWN', gracePeriodMs })) run.signalGroup('SIGTERM');
    run.killTimer = setTimeout(() => {
      if (run.signalGroup('SIGKILL')) this.#model.logger.warn({ executorId: run.id, executorPid: run.pid }, 'executor still alive after its grace period: killed');
    }, gracePeriodMs + KILL_MARGIN_MS);
  }

  /** Recovered executors are not the agent's children: a dead one is noticed by pid + start time. */
  checkLiveness(): void {
    for (const run of this.#model.runs(true)) {
      if (!run.recovered || run.exit !== undefined || run.is('TERMINATED')) continue;
      if (run.identity && isSameProcess(run.identity)) continue;
      void this.finish(run, {
        state: 'TASK_FAILED',
        reason: 'REASON_EXECUTOR_TERMINATED',
        message: `executor ${run.id} (pid ${run.pid}) exited (not a child of this agent: its exit status is unknown)`,
      });
    }
  }

  /**
   * Ends a run once: kills what is left of it (its process group, its tasks' groups from shim.json;
   * pid + start time checked, not after a reboot), lets its connection drain, replays its outbox
   * (the real statuses its executor recorded), reports the tasks still non-terminal with `ending`,
   * and, for a checkpointing run, writes executor.sentinel once those updates are durable.
   */
  async finish(run: ExecutorRun, ending: Ending, options: FinishOptions = {}): Promise<void> {
    const model = this.#model;
    if (run.exit !== undefined || model.stopped) return;
    run.exit = options.exit ?? { exitCode: null, signal: null };
    clearTimeout(run.killTimer);
    const log = model.logger.child({ frameworkId: run.frameworkId, executorId: run.id, containerId: run.containerId });
    // A task can put anything where shim.json and outbox.log belong (a FIFO, a link to /dev/zero):
    // the file is refused, named in a warning, and the run ends without it.
    const note = (error: unknown, file: string, consequence: string): void => {
      log.warn({ file, err: error instanceof Error ? error.message : String(error) }, `executor-written file refused: ${consequence}`);
    };
    if (options.trustPids !== false) {
      if (run.recovered) killExecutorGroup(run.identity);
      else if (run.pid !== undefined && run.pid > 1) {
        // Whatever is left in its process group goes with it (the pgid cannot be reused while the group has members).
        try {
          process.kill(-run.pid, 'SIGKILL');
        } catch {
          // the group is empty
        }
      }
      const killed = killTaskGroups(await readShimInfo(run.sandbox, run.id, run.containerId, note));
      if (killed.length > 0) log.info({ tasks: killed }, 'killed the leftover process groups of its tasks');
    }
    // Frames it wrote before dying may still be in the socket: let the connection close first.
    const connection = run.connection;
    if (connection?.isOpen) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([connection.closed, new Promise((resolve) => (timer = setTimeout(resolve, CONNECTION_DRAIN_MS)))]);
      clearTimeout(timer);
      if (connection.isOpen) connection.close(1000, 'executor exited');
    }
    const outbox = await readOutboxStatuses(run.sandbox, note);
    // From here to the last update, synchronous: whoever waits for `terminated` finds them recorded.
    if (!run.is('TERMINATED')) run.transition('TERMINATED');
    model.metrics.executorsTerminated.inc();
    log.info({ executorPid: run.pid, exitCode: run.exit.exitCode, signal: run.exit.signal }, ending.message);
    const recorded: Array<Promise<void>> = [];
    let replayed = 0;
    for (const status of outbox) {
      const entry = run.tasks.get(status.taskId);
      if (!entry) continue;
      const receipt = model.record(run.frameworkId, run.id, entry, status);
      if (receipt.outcome === 'recorded') {
        replayed++;
        recorded.push(receipt.recorded);
      }
    }
    if (replayed > 0) log.info({ updates: replayed }, 'recorded the statuses from the executor\'s outbox');
    for (const entry of run.liveTasks()) {
      recorded.push(model.agentUpdate(run.frameworkId, run.id, run, entry.info.taskId, ending.state, ending.reason, ending.message));
    }
    if (run.ref && model.checkpointer) {
      await Promise.allSettled(recorded);
      try {
        await model.checkpointer.markCompleted(run.ref);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'could not write executor.sentinel');
      }
    }
    run.completedAt = Date.now();
    run.settle();
    model.maybeForget(run);
  }
}
