// state.ts is the shape of what recovery reads back, types only. Checked two ways: at compile time
// (a value of every type, and @ts-expect-error on what the types must refuse: tsc fails this file
// if a refusal stops being one), and at run time (the module defines nothing, and a real read of
// the sample checkpoint keeps the promises its comments make).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { recoverState } from '../../src/checkpoint/recover.js';
import * as stateModule from '../../src/checkpoint/state.js';
import type { LogRepair, RecoverOptions, RecoveredExecutor, RecoveredRun, RecoveredState, RecoveredTask, RecoveryError } from '../../src/checkpoint/state.js';
import { AGENT, BOOT, writeSample } from '../fixtures/checkpoint-sample.js';
import { removeDir, tempDir } from '../helpers.js';

const task: RecoveredTask = {
  id: 't1',
  info: { taskId: 't1', name: 't1', agentId: 'a1', resources: { cpus: 1, mem: 1 } },
  updates: [{ taskId: 't1', state: 'TASK_RUNNING', uuid: '00000000-0000-4000-8000-000000000001', timestamp: 1 }],
  acks: ['00000000-0000-4000-8000-000000000001'],
};
const run: RecoveredRun = { containerId: 'c1', forked: { pid: 10, startTime: 20 }, completed: false, sandbox: '/w/sandboxes/c1', tasks: [task] };
const executor: RecoveredExecutor = { id: 'e1', info: { executorId: 'e1', frameworkId: 'f1', command: { value: 'true' } }, generated: false, latest: 'c1', runs: [run] };
export const everything: RecoveredState = {
  agentId: 'a1',
  agentInfo: { id: 'a1', hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true },
  rebooted: false,
  frameworks: [{ id: 'f1', info: { id: 'f1', name: 'f', checkpoint: true }, executors: [executor] }],
  errors: [
    { file: '/w/meta/x', message: 'damaged', source: 'meta' },
    { file: '/w/sandboxes/c1/.lifeline/shim.json', offset: 3, message: 'damaged', source: 'sandbox' },
  ],
  repairs: [
    { file: '/w/meta/task.updates', length: 12, reason: 'torn-tail' },
    { file: '/w/meta/task.updates', length: 0, reason: 'corruption' },
  ],
  strayTempFiles: [],
};
// What the types refuse (each line must be a type error, or tsc fails):
// @ts-expect-error a repair is for a torn tail or a corruption only
export const badRepair: LogRepair = { file: '/f', length: 0, reason: 'truncate' };
// @ts-expect-error an error comes from the agent's meta/ or from a sandbox
export const badSource: RecoveryError = { file: '/f', message: 'm', source: 'executor' };
// @ts-expect-error strict is not optional: every reader says which mode it reads in
export const noMode: RecoverOptions = {};
// @ts-expect-error a recovered framework has its ID in its info
export const noFrameworkId: RecoveredState['frameworks'][number] = { id: 'f1', info: { name: 'f', checkpoint: true }, executors: [] };

const test = suite('checkpoint/state');

test('is types only: loading it defines nothing at run time', () => {
  assert.equal(Object.keys(stateModule), []);
});

test('a real read of a checkpoint keeps the promises the types make', async () => {
  const dir = tempDir('ll-state-');
  try {
    const sample = await writeSample(dir);
    for (const bootId of [BOOT, 'another-boot']) {
      const options: RecoverOptions = { strict: true, bootId };
      const state = await recoverState(dir, options);
      // agentId defined ⇒ agentInfo defined, with that ID.
      assert.is(state.agentId, AGENT);
      assert.is(state.agentInfo?.id, AGENT);
      assert.is(state.recordedBootId, BOOT);
      assert.is(state.hostBootId, bootId);
      assert.is(state.rebooted, bootId !== BOOT);
      assert.is(state.frameworks.length, sample.frameworks.length);
      for (const framework of state.frameworks) {
        assert.is(framework.info.id, framework.id);
        for (const recovered of framework.executors) {
          // latest defined ⇒ that run is in runs.
          if (recovered.latest !== undefined) assert.ok(recovered.runs.some((r) => r.containerId === recovered.latest), `${recovered.id}: latest ${recovered.latest} is among its runs`);
          for (const r of recovered.runs) {
            const written = sample.runs.find((s) => s.ref.containerId === r.containerId)!;
            // After a reboot no recorded pid is trusted: forked and shim are dropped; else they are what was written.
            assert.equal(r.forked, state.rebooted ? undefined : written.forked, `${r.containerId}: forked`);
            assert.is(r.shim === undefined, state.rebooted || !written.shim, `${r.containerId}: shim`);
            assert.is(r.completed, written.completed);
            for (const t of r.tasks) {
              const uuids = t.updates.map((u) => u.uuid);
              assert.is(new Set(uuids).size, uuids.length, `${t.id}: updates without duplicate uuids`);
            }
          }
        }
      }
      assert.equal(state.repairs, []);
      assert.equal(state.errors, []);
    }
  } finally {
    removeDir(dir);
  }
});

test.run();
