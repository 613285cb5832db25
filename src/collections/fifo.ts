// A first-in first-out list whose head comes off in O(1), for a task stream's updates
// (agent/update-stream.ts). An array's shift() moves every other element once the array is longer
// than V8's fast path allows (about a hundred), and goes through the runtime; a stream's queue
// holds every update the framework has not acknowledged, thousands under load, and its shift was
// 4 % of the agent's CPU in bench-updates at 100 executors (a CPU profile of the agent). A /tmp
// microbenchmark of 100 queues, 30 shifts each in turn: ~54 ns a shift here, 106-340 ns for an
// array (docs/benchmarks.md).

/** Taken items are dropped from the front once this many, and half the array, are dead. */
const COMPACT_AT = 1024;

export class Fifo<T> implements Iterable<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The item at `index` from the head (0: the head), or undefined past the end. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.#items[this.#head + index];
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Takes the head off and returns it (undefined when empty). */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // not kept alive by the dead part
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes the first occurrence of `item`; false when it is not here. */
  remove(item: T): boolean {
    const index = this.#items.indexOf(item, this.#head);
    if (index === -1) return false;
    this.#items.splice(index, 1);
    return true;
  }

  some(predicate: (item: T) => boolean): boolean {
    for (const item of this) if (predicate(item)) return true;
    return false;
  }

  toArray(): T[] {
    return this.#items.slice(this.#head) as T[];
  }

  *[Symbol.iterator](): IterableIterator<T> {
    // Indexes, not a snapshot: an item pushed while iterating is visited, as with an array.
    for (let index = this.#head; index < this.#items.length; index++) yield this.#items[index] as T;
  }
}
