// The uuids a task's status stream remembers, to tell an executor's resend from a new update
// (issue 13): every update still in flight, and the most recent acknowledged ones, up to a window.
// An executor resends only what the agent has not acknowledged to it, which is never more than its
// backlog bound (10,000 updates), so older uuids are never needed again; without the window a
// stream of a million updates kept a million of them in memory.

/** Acknowledged uuids kept per stream, beyond the ones still in flight. */
export const UUID_WINDOW = 10_000;

/**
 * A stream's window is trimmed once per this many ACKs, so it holds up to UUID_WINDOW + 63
 * acknowledged uuids. Looking at a 10,000-entry Map on every ACK, if only at its size, was a cache
 * miss each: 4-5 % of the agent's CPU in bench-updates at 100 executors (docs/benchmarks.md).
 */
export const UUID_TRIM_EVERY = 64;

/**
 * Forgets the oldest uuids of `uuids` (insertion order = the stream's order) until at most `max`
 * are left, stopping at `head`, the oldest update still in flight: it and everything after it stay.
 */
export function forgetOldUuids<V>(uuids: Map<string, V>, head: string | undefined, max: number = UUID_WINDOW): number {
  let forgotten = 0;
  for (const uuid of uuids.keys()) {
    if (uuids.size <= max || uuid === head) break;
    uuids.delete(uuid);
    forgotten += 1;
  }
  return forgotten;
}
