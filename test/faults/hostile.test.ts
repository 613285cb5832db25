// The hostile fault run, short and seeded (docs/reliability.md "Hostile frames"): hundreds of bad
// frames and idle connections against a real master and agent while a real framework and a real
// executor are served; every one is answered, the servers stay up and memory stays bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../harness/faults/hostile.js';

test('hostile: bad frames and idle floods are refused while the legitimate clients are served', async () => {
  const result = await run({ seed: Number(process.env.LIFELINE_FAULT_SEED ?? 99), frames: 240, flood: 40, concurrency: 6 });
  assert.equal(result.violations, [], result.violations.slice(0, 5).join('\n'));
  // The run really did work.
  const sent = Object.values(result.attempts).reduce((s, a) => s + a.sent, 0);
  assert.is(sent, 240);
  assert.ok(Object.keys(result.attempts).length >= 25, Object.keys(result.attempts).join(', '));
  assert.is(result.flood.opened, 120);
  assert.is(result.flood.closedByServer, 120);
  assert.ok(result.legit.tasksFinished >= 2, `${result.legit.tasksFinished} legitimate tasks`);
  assert.ok(result.legit.tickAcked >= 10 && result.legit.tickGaps === 0, JSON.stringify(result.legit));
  assert.ok(result.serversUp);
  assert.ok(result.memory.agent.peakMiB > 0 && result.memory.master.peakMiB > 0);
});

test.run();
