// A short soak in the suite (the real one is `npm run faults -- --soak=30m`, docs/reliability.md):
// the agent kill -9ed every few seconds under executors sending updates, sampled before each kill,
// every task finished with its updates complete and in order. And the trend line it judges by.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { run, trend } from '../../harness/faults/soak.js';

const Soak = suite('Soak');

Soak('fits a least-squares line: growth per hour and over the span, and the median level', () => {
  const t = trend([0, 60, 120, 180], [10, 11, 12, 13])!;
  assert.ok(Math.abs(t.perHour - 60) < 1e-9, String(t.perHour));
  assert.ok(Math.abs(t.overSpan - 3) < 1e-9, String(t.overSpan));
  assert.is(t.level, 12);
  assert.is(trend([0, 60, 120], [5, 5, 5])!.overSpan, 0);
  assert.is(trend([0], [5]), undefined, 'one sample has no trend');
});

Soak('samples each agent before its kill -9 and ends every task complete and in order', async () => {
  const result = await run({ durationMs: 12_000, executors: 5, killEveryMs: 4_000, tickMs: 100, warmupSamples: 1 });
  assert.equal(result.violations, [], `violations:\n${result.violations.join('\n')}`);
  assert.ok(result.agentKills >= 3, `${result.agentKills} agent kills`);
  assert.is(result.samples.length, result.agentKills);
  for (const sample of result.samples) {
    assert.ok(sample.agentRssMiB > 0 && sample.masterRssMiB > 0 && sample.agentFds > 0 && sample.masterFds > 0, JSON.stringify(sample));
  }
  assert.ok(result.samples.at(-1)!.updates > result.samples[0]!.updates, 'updates kept flowing across the kills');
  assert.ok(result.trends.agentFds !== undefined && result.trends.masterRssMiB !== undefined, 'trends were measured after the warm-up');
});

Soak.run();
