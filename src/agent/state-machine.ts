// Explicit lifecycle states: the agent, each executor and each connection has one, and every move
// goes through transition(), which refuses an illegal move by name instead of drifting silently.
import { IllegalStateError } from '../protocol/index.js';

export class StateMachine<S extends string> {
  readonly #name: string;
  readonly #allowed: Readonly<Record<S, readonly S[]>>;
  readonly #onChange: ((from: S, to: S) => void) | undefined;
  #state: S;

  /**
   * @param name what the machine describes, for error messages ("agent", "executor e1")
   * @param allowed for each state, the states it may move to
   */
  constructor(name: string, initial: S, allowed: Readonly<Record<S, readonly S[]>>, onChange?: (from: S, to: S) => void) {
    this.#name = name;
    this.#state = initial;
    this.#allowed = allowed;
    this.#onChange = onChange;
  }

  get state(): S {
    return this.#state;
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

  /** Throws IllegalStateError ("cannot launch task in TERMINATING state") unless in one of `states`. */
  assert(states: readonly S[], action: string): void {
    if (!states.includes(this.#state)) throw new IllegalStateError(`cannot ${action} in ${this.#state} state (${this.#name})`);
  }
}
