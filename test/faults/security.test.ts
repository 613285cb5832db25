// The security fault run (docs/reliability.md "Security checks"): every check passes against a
// real master and agent started with umask 000.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../harness/faults/security.js';

test('security: socket modes, token hash only, no token in task environments, IDs cannot escape the work dir', async () => {
  const result = await run({ seed: Number(process.env.LIFELINE_FAULT_SEED ?? 7) });
  assert.equal(result.violations, [], result.violations.join('\n'));
  // The run really did work: every kind of check ran, and hundreds of hostile IDs were sent.
  assert.ok(result.checks.length >= 20, `${result.checks.length} checks`);
  for (const item of ['socket directory mode 0700', 'socket mode 0600', 'token in no file under the work dir and the runtime dir']) {
    assert.ok(result.checks.some((c) => c.item === item && c.pass), item);
  }
  assert.ok(result.checks.filter((c) => c.item.startsWith('token absent from the environment')).length === 2);
  assert.ok(result.idsTried >= 100, `${result.idsTried} IDs`);
});

test.run();
