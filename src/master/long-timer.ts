// A timer for a delay a framework chooses (failoverTimeoutMs, up to 2^47 ms): Node's setTimeout
// holds at most 2^31-1 ms and fires a longer one after 1 ms, which removed a framework at once.
/** setTimeout's largest delay; longer ones are re-armed in steps of it. */
const MAX_STEP_MS = 2 ** 31 - 1;

export interface LongTimer {
  clear(): void;
}

/** Runs `fn` once after `ms` (any finite delay), unless cleared first. */
export function longTimeout(fn: () => void, ms: number): LongTimer {
  const due = Date.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => {
      const remaining = due - Date.now();
      if (remaining > 0) arm(remaining);
      else fn();
    }, Math.min(Math.max(left, 0), MAX_STEP_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}
