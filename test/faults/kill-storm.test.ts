// A short seeded agent kill storm in the suite (the full one is `npm run faults`, docs/reliability.md):
// a real master, agent and workload, the agent kill -9ed a few times (at least once on purpose while recovering, on its recovery log line, and an
// executor killed while it was down), and the same zero-violation checks as the full run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../harness/faults/kill-storm.js';

const KillStorm = suite('Agent kill storm');

KillStorm('loses no acknowledged update, misreports no task and leaves nothing behind across a few agent kills', async () => {
  const rounds = 4;
  const { figures, violations } = await run({ seed: 20261128, rounds, concurrency: 6 });
  assert.equal(violations, [], `violations:\n${violations.join('\n')}`);
  assert.is(figures.agentKills, rounds);
  assert.ok(figures.killsWhileRecovering >= 1, 'the agent was killed while recovering at least once');
  assert.ok(figures.killsOnRecoveryLine >= 1, 'at least one kill was triggered by the agent\'s recovery line (on purpose, not by chance)');
  assert.ok(figures.tasks > 0, 'tasks were launched');
  assert.ok(figures.ackedUpdates > 0, 'some updates were acknowledged (the lost-update check had something to check)');
  for (const name of ['ackedLost', 'sequenceViolations', 'misreported', 'notTerminal', 'processesLeft', 'runsLeft'] as const) {
    assert.is(figures[name], 0, name);
  }
});

KillStorm.run();
