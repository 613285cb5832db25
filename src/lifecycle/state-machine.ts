// The one lifecycle primitive: every lifecycle in lifeline (master, agent, executor runs,
// connections, drivers, reconnector, task processes, record logs, the outbox, the WebSocket
// client) is a StateMachine with a table of allowed moves. A move outside the table throws an
// IllegalStateError that names the machine and both states, instead of drifting silently.
// It imports nothing of ours but the error class, so that every layer may use it.
import { IllegalStateError } from '../protocol/errors.js';

/** For each state, the states it may move to. */
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

export class StateMachine<S extends string> {
  readonly #name: string;
  readonly #allowed: Transitions<S>;
  readonly #onChange: ((from: S, to: S) => void) | undefined;
  #state: S;

  /**
   * @param name what the machine describes, for error messages ("agent", "executor e1")
   * @param allowed for each state, the states it may move to
   * @param onChange called after every move (not for ensure() calls that change nothing)
   */
  constructor(name: string, initial: S, allowed: Transitions<S>, onChange?: (from: S, to: S) => void) {
    if (!Object.hasOwn(allowed, initial)) throw new TypeError(`${name}: initial state ${initial} is not in the table of moves`);
    this.#name = name;
    this.#state = initial;
    this.#allowed = allowed;
    this.#onChange = onChange;
  }

  get state(): S {
    return this.#state;
  }

  /** The machine's name, as used in error messages. */
  get name(): string {
    return this.#name;
  }

  is(...states: S[]): boolean {
    return states.includes(this.#state);
  }

  can(to: S): boolean {
    return this.#allowed[this.#state].includes(to);
  }

  /** Moves to `to`; throws IllegalStateError naming both states when the move is not allowed. */
  transition(to: S): void {
    const from = this.#state;
    if (!this.can(to)) throw new IllegalStateError(`cannot move ${this.#name} from ${from} to ${to}`);
    this.#state = to;
    this.#onChange?.(from, to);
  }

  /**
   * Idempotent move: nothing happens when the machine is already in `to`; otherwise as
   * transition(). Returns whether the state changed. For moves that can be requested twice
   * (a close after a close, a stop after a failure).
   */
  ensure(to: S): boolean {
    if (this.#state === to) return false;
    this.transition(to);
    return true;
  }

  /** Moves to `to` if the table allows it, and says whether it did; never throws. */
  tryTransition(to: S): boolean {
    if (!this.can(to)) return false;
    this.transition(to);
    return true;
  }

  /** Throws IllegalStateError ("cannot launch task in TERMINATING state") unless in one of `states`. */
  assert(states: readonly S[], action: string): void {
    if (!states.includes(this.#state)) throw new IllegalStateError(`cannot ${action} in ${this.#state} state (${this.#name})`);
  }
}
