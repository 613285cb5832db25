// A cap on open connections shared by a server's endpoints (issue 13: the master's agent and
// scheduler endpoints together). A connection takes a slot before its upgrade is accepted and gives
// it back once, when it closes; past the cap the upgrade is answered 503 and nothing else changes.
export class ConnectionLimit {
  readonly max: number;
  #open = 0;

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`a connection limit must be a whole number, got ${max}`);
    this.max = max;
  }

  get open(): number {
    return this.#open;
  }

  /** Takes a slot; false when all are taken. */
  tryTake(): boolean {
    if (this.#open >= this.max) return false;
    this.#open += 1;
    return true;
  }

  release(): void {
    if (this.#open > 0) this.#open -= 1;
  }
}
