// The corrupt fault run, short and seeded (docs/reliability.md "Checkpoint corruption"): a real
// checkpoint from a live agent, a few hundred damages, zero crashes and zero silent losses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../harness/faults/corrupt.js';

test('corrupt: hundreds of seeded damages to a live checkpoint crash nothing and lose nothing silently', async () => {
  const result = await run({ seed: Number(process.env.LIFELINE_FAULT_SEED ?? 4242), mutations: 200, truncations: 80, cliEvery: 60 });
  assert.equal(result.violations, [], result.violations.slice(0, 5).join('\n'));
  // The run really did work: a real checkpoint, every kind of damage, both modes exercised.
  assert.ok(result.template.tasks >= 4 && result.template.updates >= 16 && result.template.outboxRecords > 0, JSON.stringify(result.template));
  assert.is(result.mutations, 280);
  const kinds = Object.values(result.byKind);
  assert.ok(Object.keys(result.byKind).length >= 15, Object.keys(result.byKind).join(', '));
  assert.ok(kinds.reduce((s, k) => s + k.strictRefused, 0) > 80, 'strict refusals');
  assert.ok(kinds.reduce((s, k) => s + k.strictRecovered, 0) > 20, 'strict recoveries');
  assert.ok(kinds.reduce((s, k) => s + k.lenientWithErrors, 0) > 80, 'non-strict recoveries listing damage');
  assert.ok(result.prefixRecordsChecked > 1000, `records checked ${result.prefixRecordsChecked}`);
  assert.ok(result.cli.runs >= 4, `${result.cli.runs} inspect runs`);
  assert.is(result.crashes + result.unhandled + result.treeModified, 0);
});

test.run();
