// The master's barrel, for embedding (`lifeline master` wraps it) and for tests: the Master class
// and its types, and none of the parts inside it (registry, endpoints, stores, trust).
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as barrel from '../../src/master/index.js';
import { Master } from '../../src/master/master.js';
import type { MasterLifecycle, MasterOptions, MasterState } from '../../src/master/index.js';

const Index = suite('master/index');

Index('exports Master, the class of master.ts, and no other value', () => {
  assert.equal(Object.keys(barrel), ['Master']);
  assert.is(barrel.Master, Master);
});

Index('re-exports only from master.ts at run time: the registry types are erased', () => {
  const compiled = fs.readFileSync(new URL('../../src/master/index.js', import.meta.url), 'utf8');
  const imports = [...compiled.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
  assert.equal(imports, ['./master.js']);
});

Index('the types it names fit a master started from it', async () => {
  const options: MasterOptions = { ip: '127.0.0.1', port: 0 };
  const master = new barrel.Master(options);
  try {
    const before: MasterLifecycle = master.lifecycle;
    assert.is(before, 'NEW');
    await master.start();
    const state: MasterState = master.state();
    assert.equal([state.agents, state.frameworks, state.completedFrameworks], [[], [], []]);
  } finally {
    await master.stop();
  }
  assert.is(master.lifecycle, 'STOPPED');
});

Index.run();
