// Order statistics for the benchmark and fault scripts. The machine is noisy, so figures are
// quoted as medians and percentiles, never as means of a single run.

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

/** The p-th percentile (0..100) of `values` by the nearest-rank method; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new TypeError(`percentile: p must be within 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    min: percentile(values, 0),
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: percentile(values, 100),
  };
}
