import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Histogram, Registry } from '../../../src/prometheus.js';
import { commitCounters, commitDelta, describeCommits, FDATASYNC_HISTOGRAM, GROUP_COMMIT_HISTOGRAM } from '../../../harness/lib/agent-commits.js';

const test = suite('harness/lib/agent-commits');

/** A registry with the agent's two histograms (names and types as src/agent/metrics.ts makes them). */
function agentLike(): { registry: Registry; syncs: Histogram; batches: Histogram } {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    syncs: new Histogram({ name: FDATASYNC_HISTOGRAM, help: 'fdatasync calls', buckets: [0.001, 0.01], registers }),
    batches: new Histogram({ name: GROUP_COMMIT_HISTOGRAM, help: 'records per group commit', buckets: [1, 100], registers }),
  };
}

test('reads the counts and sums of the two histograms, and the difference of two readings', async () => {
  const { registry, syncs, batches } = agentLike();
  const before = commitCounters(await registry.metrics());
  assert.equal(before, { batches: 0, records: 0, fdatasyncs: 0, fdatasyncSeconds: 0 });
  for (const seconds of [0.002, 0.004, 0.006]) syncs.observe(seconds);
  batches.observe(40);
  batches.observe(20);
  const after = commitCounters(await registry.metrics());
  const delta = commitDelta(before, after);
  assert.is(delta.batches, 2);
  assert.is(delta.records, 60);
  assert.is(delta.fdatasyncs, 3);
  assert.ok(Math.abs(delta.fdatasyncSeconds - 0.012) < 1e-9, String(delta.fdatasyncSeconds));
  assert.is(describeCommits(delta, 2), '1.0 group commits/s of 30 records and 2 fdatasyncs, 4.0 ms per fdatasync, 0.01 in flight');
});

test('names the histogram an agent does not expose', () => {
  assert.throws(() => commitCounters('# HELP up x\n# TYPE up gauge\nup 1\n'), (e: Error) => e.message === `no histogram ${FDATASYNC_HISTOGRAM} in the agent's /metrics`);
});

test('a window without a batch says so', () => {
  assert.is(describeCommits({ batches: 0, records: 0, fdatasyncs: 0, fdatasyncSeconds: 0 }, 1), 'no group commit');
});

test.run();
