// A command task's process: `/bin/sh -c <command>` as a direct child of the executor, in a process
// group of its own, so that a kill reaches everything the command started (SIGTERM to the group,
// SIGKILL after the grace period). The task is its main process: when that ends, whatever it left
// behind in its group is killed too (as Mesos's launcher does when it destroys the container).
// Processes that leave the group (setsid) escape; containment for those needs cgroups.
import { spawn, type ChildProcess } from 'node:child_process';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';

/** How a task process ended, as facts: one of `exitCode` and `signal` is null (both, if it never started). */
export interface TaskExit {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Was a kill requested before it ended? */
  readonly killed: boolean;
  /** It could not be started at all (spawn failed). */
  readonly error?: Error;
}

export interface TaskProcessOptions {
  /** Working directory: the sandbox. */
  cwd: string;
  env: NodeJS.ProcessEnv;
}

type TaskProcessState = 'STARTING' | 'RUNNING' | 'KILLING' | 'EXITED';

const TRANSITIONS: Transitions<TaskProcessState> = {
  STARTING: ['RUNNING', 'KILLING', 'EXITED'],
  RUNNING: ['KILLING', 'EXITED'],
  KILLING: ['EXITED'],
  EXITED: [],
};

export class TaskProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<TaskExit>;
  readonly #spawned: Promise<void>;
  readonly #machine = new StateMachine<TaskProcessState>('a task process', 'STARTING', TRANSITIONS);
  #killed = false;
  #killDeadline = Infinity;
  #escalation: NodeJS.Timeout | undefined;

  /** Starts `/bin/sh -c command` detached (its own session and process group), stdio inherited. */
  constructor(command: string, { cwd, env }: TaskProcessOptions) {
    this.#child = spawn('/bin/sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
    this.#spawned = new Promise((resolve, reject) => {
      this.#child.once('spawn', () => {
        if (this.#machine.is('STARTING')) this.#machine.transition('RUNNING');
        resolve();
      });
      this.#child.once('error', reject);
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (exitCode, signal) => {
        this.#settle();
        // The main process is gone; stragglers in its group go with it.
        this.#signalGroup('SIGKILL');
        resolve({ exitCode, signal, killed: this.#killed });
      });
      this.#child.once('error', (error) => {
        // An error after the process started (a failed kill) is not the end of it.
        if (this.#child.pid !== undefined) return;
        this.#settle();
        resolve({ exitCode: null, signal: null, killed: this.#killed, error });
      });
    });
    // The spawn error is reported through `exited`; nobody has to await `spawned`.
    this.#spawned.catch(() => {});
  }

  /** The main process's pid, which is also its process group ID; undefined if it never started. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Resolves when the process has started; rejects when it could not be started. */
  get spawned(): Promise<void> {
    return this.#spawned;
  }

  /** Resolves when the main process has ended (and its group has been sent SIGKILL). */
  get exited(): Promise<TaskExit> {
    return this.#exited;
  }

  get state(): TaskProcessState {
    return this.#machine.state;
  }

  /**
   * SIGTERM to the task's process group now, SIGKILL once `gracePeriodMs` has passed. A second
   * kill can shorten the grace period, never lengthen it.
   */
  kill(gracePeriodMs: number): void {
    if (this.#machine.is('EXITED')) return;
    const deadline = performance.now() + Math.max(0, gracePeriodMs);
    if (this.#machine.ensure('KILLING')) {
      this.#killed = true;
      if (gracePeriodMs > 0) this.#signalGroup('SIGTERM');
    }
    if (deadline >= this.#killDeadline) return;
    this.#killDeadline = deadline;
    clearTimeout(this.#escalation);
    this.#escalation = setTimeout(() => this.#signalGroup('SIGKILL'), Math.max(0, gracePeriodMs));
  }

  /**
   * SIGKILL to the group, synchronously: the last resort on the executor's way out. Only while the
   * main process has not been reaped: until then its pid is certainly still this group's ID.
   */
  killNow(): void {
    if (!this.#machine.is('EXITED')) this.#signalGroup('SIGKILL');
  }

  #settle(): void {
    clearTimeout(this.#escalation);
    this.#machine.ensure('EXITED');
  }

  #signalGroup(signal: NodeJS.Signals): void {
    const pgid = this.#child.pid;
    // Never signal group 0 (our own) or 1; a pid of an unstarted child is undefined.
    if (pgid === undefined || pgid <= 1) return;
    try {
      process.kill(-pgid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}
