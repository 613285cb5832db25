// The agent's group commit as its /metrics tells it (docs/metrics.md), for the benches that say
// where an update's time goes: how many batches, how many records each, how many fdatasyncs and
// how long they took.
import { metricFamilies } from './metrics-text.js';

/** The counters behind the two group-commit histograms, summed over their label sets. */
export interface CommitCounters {
  /** Batches that made records durable (a batch of ACK records alone is not counted). */
  batches: number;
  /** Records those batches made durable. */
  records: number;
  /** fdatasync calls, failed ones included. */
  fdatasyncs: number;
  /**
   * Seconds those calls took from call to completion, summed: the wait for a thread of libuv's pool
   * (4 by default) included, so over a wall-clock window it says how many were in flight.
   */
  fdatasyncSeconds: number;
}

export const FDATASYNC_HISTOGRAM = 'lifeline_agent_checkpoint_fdatasync_duration_seconds';
export const GROUP_COMMIT_HISTOGRAM = 'lifeline_agent_checkpoint_group_commit_records';

/** Reads the group-commit counters from an agent's /metrics text; names the histogram it lacks. */
export function commitCounters(metricsText: string): CommitCounters {
  const families = metricFamilies(metricsText);
  const histogram = (name: string): { count: number; sum: number } => {
    const family = families.get(name);
    if (!family || family.type !== 'HISTOGRAM') throw new Error(`no histogram ${name} in the agent's /metrics`);
    return family.metrics.reduce((total, metric) => ({ count: total.count + Number(metric.count ?? 0), sum: total.sum + Number(metric.sum ?? 0) }), { count: 0, sum: 0 });
  };
  const syncs = histogram(FDATASYNC_HISTOGRAM);
  const batches = histogram(GROUP_COMMIT_HISTOGRAM);
  return { batches: batches.count, records: batches.sum, fdatasyncs: syncs.count, fdatasyncSeconds: syncs.sum };
}

/** What happened between two readings. */
export function commitDelta(before: CommitCounters, after: CommitCounters): CommitCounters {
  return {
    batches: after.batches - before.batches,
    records: after.records - before.records,
    fdatasyncs: after.fdatasyncs - before.fdatasyncs,
    fdatasyncSeconds: after.fdatasyncSeconds - before.fdatasyncSeconds,
  };
}

/**
 * One line for a window of `seconds`: batches a second, records and fdatasyncs per batch, ms per
 * fdatasync from call to completion, and how many were in flight on average (running in libuv's
 * pool, 4 at most by default, or queued for it).
 */
export function describeCommits(delta: CommitCounters, seconds: number): string {
  if (delta.batches === 0) return 'no group commit';
  const perBatch = (value: number) => (value / delta.batches).toFixed(0);
  const msPerSync = delta.fdatasyncs > 0 ? ((delta.fdatasyncSeconds * 1000) / delta.fdatasyncs).toFixed(1) : '–';
  return (
    `${(delta.batches / seconds).toFixed(1)} group commits/s of ${perBatch(delta.records)} records and ${perBatch(delta.fdatasyncs)} fdatasyncs, ` +
    `${msPerSync} ms per fdatasync, ${(delta.fdatasyncSeconds / seconds).toFixed(2)} in flight`
  );
}
