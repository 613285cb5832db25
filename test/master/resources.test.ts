import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_RESOURCE } from '../../src/protocol/index.js';
import { add, amounts, subtract } from '../../src/master/resources.js';

test("the master's fixed-point arithmetic stays exact and finite at the bound", () => {
  const top = amounts({ cpus: MAX_RESOURCE, mem: MAX_RESOURCE - 0.001, disk: 0.001 });
  assert.equal(top, { cpus: MAX_RESOURCE, mem: MAX_RESOURCE - 0.001, disk: 0.001 });
  let sum = amounts({ cpus: 0, mem: 0 });
  for (let i = 0; i < 100_000; i++) sum = add(sum, { cpus: MAX_RESOURCE, mem: MAX_RESOURCE, disk: MAX_RESOURCE });
  assert.ok(Number.isFinite(sum.cpus) && Number.isFinite(sum.mem) && Number.isFinite(sum.disk));
  assert.equal(subtract(top, { cpus: MAX_RESOURCE, mem: MAX_RESOURCE }), { cpus: 0, mem: 0, disk: 0.001 });
});

test.run();
