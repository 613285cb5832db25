// The command executor (`lifeline shim`): a small program on ExecutorDriver that runs one command
// task as `/bin/sh -c <command>`, its direct child in a process group of its own, reports
// TASK_STARTING, TASK_RUNNING (once its process group is recorded in shim.json) and how it ended,
// and exits once that terminal update is acknowledged. While a checkpointing framework's agent is
// away the task keeps running; a task that ends meanwhile has its terminal update waiting in the
// outbox, delivered in the next SUBSCRIBE. Whatever way the shim goes (SHUTDOWN, a lost agent, the
// recovery timeout, a signal, a crash), the task's process group goes with it: gracefully where
// there is time, and by a synchronous signal-exit hook otherwise.
import { onExit } from 'signal-exit';
import type { TaskInfo } from '../protocol/common.js';
import type { Reason } from '../protocol/constants.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { ExecutorDriver, type ExecutorUpdate } from './driver.js';
import { TOKEN_VARIABLE, readExecutorEnvironment, type ExecutorEnvironment } from './environment.js';
import { TaskProcess, type TaskExit } from './task-process.js';

/**
 * WAITING for LAUNCH → RUNNING → (KILLING →) TERMINATING while the terminal update is delivered →
 * DONE. WAITING → TERMINATING: the launched task could not be run at all.
 */
export type ShimState = 'WAITING' | 'RUNNING' | 'KILLING' | 'TERMINATING' | 'DONE';

const TRANSITIONS: Transitions<ShimState> = {
  WAITING: ['RUNNING', 'TERMINATING', 'DONE'],
  RUNNING: ['KILLING', 'TERMINATING'],
  KILLING: ['TERMINATING'],
  TERMINATING: ['DONE'],
  DONE: [],
};

/**
 * Once the shim is shutting down, its terminal update gets this long to be acknowledged, if the
 * agent is connected. If it is not, the shim exits as soon as the update is durable in the outbox:
 * a restarted agent reads it there.
 */
export const DELIVERY_WINDOW_MS = 2_000;
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** Runs the command shim until its task has ended; resolves to the exit code (0: all delivered). */
export function runCommandShim(): Promise<number> {
  return new CommandShim().run();
}

class CommandShim {
  readonly #driver: ExecutorDriver;
  readonly #done: Promise<number>;
  #resolveDone!: (code: number) => void;
  readonly #shuttingDown: Promise<void>;
  #resolveShuttingDown!: () => void;
  #env!: ExecutorEnvironment;
  readonly #machine = new StateMachine<ShimState>('the command executor', 'WAITING', TRANSITIONS);
  #task: { info: TaskInfo; process?: TaskProcess } | undefined;
  /** Settles once TASK_RUNNING has been issued (or will not be): the terminal update comes after it. */
  #runningReported: Promise<void> = Promise.resolve();
  /** Why the shutdown killed the task, when it did: its terminal state depends on it. */
  #killedByShutdown: { reason: Reason | undefined } | undefined;
  #killRequested = false;
  #shutdownRequested = false;
  #signalled = false;

  constructor() {
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#shuttingDown = new Promise((resolve) => (this.#resolveShuttingDown = resolve));
    this.#driver = new ExecutorDriver({
      onLaunch: (task) => this.#launch(task),
      onKill: (taskId, gracePeriodMs) => this.#kill(taskId, gracePeriodMs),
      onShutdown: (gracePeriodMs, reason) =>
        this.#shutdown(
          gracePeriodMs,
          reason === 'REASON_EXECUTOR_RECOVERY_TIMEOUT'
            ? 'the agent did not come back within the recovery timeout'
            : 'the agent asked the executor to shut down, is gone, or failed',
          reason,
        ),
      onDisconnected: (error) =>
        log(`lost the agent (${error.message}); the task keeps running while the shim waits up to ${this.#env.recoveryTimeoutMs} ms for it`),
      onResubscribed: () => log('subscribed again to the restarted agent'),
      onError: (error) => log(`error: ${error.message}`),
    });
  }

  async run(): Promise<number> {
    // Read before the driver deletes the token; a bad environment fails here with the same error.
    this.#env = readExecutorEnvironment(process.env);
    // The last resort, on every way out that runs JavaScript: SIGKILL the task's group.
    onExit(() => {
      this.#task?.process?.killNow();
    });
    for (const signal of SIGNALS) process.on(signal, this.#onSignal);
    try {
      try {
        await this.#driver.start();
        log(`subscribed to the agent as executor ${this.#env.executorId} (container ${this.#env.containerId})`);
      } catch (error) {
        // A signal during start-up stops the driver; that is a shutdown, not a failure.
        if (this.#machine.is('DONE')) return await this.#done;
        throw error;
      }
      return await this.#done;
    } finally {
      for (const signal of SIGNALS) process.off(signal, this.#onSignal);
    }
  }

  #launch(task: TaskInfo): void {
    if (this.#task || !this.#machine.is('WAITING')) {
      const running = this.#task ? `task ${this.#task.info.taskId}` : 'no task (it is shutting down)';
      this.#send({
        taskId: task.taskId,
        state: 'TASK_ERROR',
        reason: 'REASON_TASK_INVALID',
        message: `the command executor runs one task and already runs ${running}`,
      });
      return;
    }
    this.#task = { info: task };
    if (!task.command) {
      this.#machine.transition('TERMINATING');
      void this.#finish({ taskId: task.taskId, state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID', message: 'a command task needs command.value' });
      return;
    }
    this.#machine.transition('RUNNING');
    log(`starting task ${task.taskId}: ${task.command.value}`);
    this.#send({ taskId: task.taskId, state: 'TASK_STARTING' });
    const env = { ...process.env };
    delete env[TOKEN_VARIABLE];
    let taskProcess: TaskProcess;
    try {
      taskProcess = new TaskProcess(task.command.value, { cwd: this.#env.directory, env });
    } catch (error) {
      // spawn() throws at once for arguments it cannot pass to exec (a NUL byte in the command).
      this.#onTaskExit(task.taskId, { exitCode: null, signal: null, killed: false, error: error as Error });
      return;
    }
    this.#task.process = taskProcess;
    // shim.json names the task's process group before TASK_RUNNING goes out: from then on a
    // restarted agent that finds this shim dead can kill what it left behind.
    this.#runningReported = taskProcess.spawned.then(
      async () => {
        const pid = taskProcess.pid!;
        log(`forked command at ${pid}`);
        try {
          await this.#driver.trackTaskGroup(task.taskId, pid);
        } catch (error) {
          log(`cannot record the task's process group in shim.json: ${(error as Error).message}`);
        }
        // Not after a kill was asked for (TASK_KILLING may be out already); a task that has already
        // ended did run, and its terminal update waits for this one.
        if (!this.#killRequested && this.#machine.is('RUNNING', 'TERMINATING')) {
          this.#send({ taskId: task.taskId, state: 'TASK_RUNNING' });
        }
      },
      () => {},
    );
    void taskProcess.exited.then((exit) => this.#onTaskExit(task.taskId, exit));
  }

  #kill(taskId: string, gracePeriodMs: number): void {
    const taskProcess = this.#task?.process;
    if (!taskProcess || this.#task?.info.taskId !== taskId) {
      log(`ignoring KILL for task ${taskId}: it is not this executor's running task`);
      return;
    }
    if (this.#machine.is('RUNNING')) {
      log(`killing task ${taskId} (grace period ${gracePeriodMs} ms)`);
      this.#machine.transition('KILLING');
      this.#killRequested = true;
      this.#send({ taskId, state: 'TASK_KILLING' });
    }
    // A repeated KILL may shorten the grace period.
    if (this.#machine.is('KILLING')) taskProcess.kill(gracePeriodMs);
  }

  /** SHUTDOWN, a lost agent, the recovery timeout, or a signal: kill the task, record and report it briefly, exit. */
  #shutdown(gracePeriodMs: number, why: string, reason?: Reason): void {
    if (this.#shutdownRequested) return;
    this.#shutdownRequested = true;
    log(`shutting down: ${why}`);
    this.#resolveShuttingDown();
    switch (this.#machine.state) {
      case 'WAITING':
        this.#machine.transition('DONE');
        void this.#driver.stop().then(() => this.#resolveDone(0));
        return;
      case 'RUNNING':
        this.#machine.transition('KILLING');
        this.#killRequested = true;
        this.#killedByShutdown = { reason };
        this.#task!.process!.kill(gracePeriodMs);
        return;
      case 'KILLING':
        this.#task!.process!.kill(gracePeriodMs);
        return;
      case 'TERMINATING':
      case 'DONE':
        // The terminal update is on its way; its wait is now bounded.
        return;
    }
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#signalled) {
      // A second signal: no more grace. The exit hook SIGKILLs the task's group.
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    this.#signalled = true;
    this.#shutdown(this.#env.shutdownGracePeriodMs, `received ${signal}`, undefined);
  };

  #onTaskExit(taskId: string, exit: TaskExit): void {
    let update: ExecutorUpdate;
    if (exit.error) {
      update = { taskId, state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: `Failed to launch command: ${exit.error.message}` };
    } else {
      const how = exit.signal !== null ? `Command terminated with signal ${exit.signal}` : `Command exited with status ${exit.exitCode}`;
      const state = exit.killed ? 'TASK_KILLED' : exit.exitCode === 0 ? 'TASK_FINISHED' : 'TASK_FAILED';
      update = { taskId, state, message: how };
      if (exit.killed && this.#killedByShutdown?.reason === 'REASON_EXECUTOR_RECOVERY_TIMEOUT') {
        update = {
          taskId,
          state: 'TASK_FAILED',
          reason: 'REASON_EXECUTOR_RECOVERY_TIMEOUT',
          message: `${how}: the agent did not come back within the executor's recovery timeout`,
        };
      }
    }
    log(`${update.message} (pid ${this.#task?.process?.pid ?? 'none'}): ${update.state}`);
    this.#machine.transition('TERMINATING');
    void this.#finish(update);
    // After the group was recorded (if it was): the order of shim.json's writes is the order of calls.
    void this.#runningReported.then(() => this.#driver.untrackTaskGroup(taskId)).catch(() => {});
  }

  /**
   * Sends the terminal update (after TASK_RUNNING) and waits for its acknowledgement; while the
   * agent is away that wait lasts until it is back or the recovery timer fires. Once shutting down
   * the wait is bounded: DELIVERY_WINDOW_MS if the agent is connected, else until the update is
   * durable in the outbox. Then stops the driver and ends the shim.
   */
  async #finish(update: ExecutorUpdate): Promise<void> {
    await this.#runningReported;
    const acknowledged = this.#driver.update(update).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const givenUp = this.#shuttingDown.then(() => {
      if (settled) return false;
      if (this.#driver.state !== 'SUBSCRIBED') return this.#driver.flush().then(() => false);
      return new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DELIVERY_WINDOW_MS)));
    });
    const delivered = await Promise.race([acknowledged, givenUp]);
    settled = true;
    clearTimeout(timer);
    if (!delivered) log(`the agent did not acknowledge ${update.state} for task ${update.taskId}`);
    await this.#driver.stop();
    this.#machine.transition('DONE');
    this.#resolveDone(delivered ? 0 : 1);
  }

  /** An update whose acknowledgement nobody waits for (it fails only when the driver stops). */
  #send(update: ExecutorUpdate): void {
    this.#driver.update(update).catch(() => {});
  }
}

function log(message: string): void {
  process.stderr.write(`lifeline shim: ${message}\n`);
}
