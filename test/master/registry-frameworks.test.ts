import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameworkRecord, rememberMasterUuid } from '../../src/master/registry-frameworks.js';
import { IllegalStateError } from '../../src/protocol/index.js';

const INFO = { id: 'f1', name: 'framework', checkpoint: true };

const Framework = suite('FrameworkRecord');

Framework('starts in the status it is given and moves until REMOVED', () => {
  const framework = new FrameworkRecord(INFO, 'DISCONNECTED');
  assert.is(framework.status, 'DISCONNECTED');
  framework.transition('ACTIVE');
  framework.transition('REMOVED');
  assert.is(framework.status, 'REMOVED');
});

Framework('refuses an illegal move by name', () => {
  const framework = new FrameworkRecord(INFO, 'ACTIVE');
  framework.transition('REMOVED');
  assert.throws(
    () => framework.transition('ACTIVE'),
    (error: unknown) => error instanceof IllegalStateError && (error as Error).message === 'cannot mark framework f1 ACTIVE in REMOVED state',
  );
});

Framework('refuses a change of checkpoint after registration', () => {
  const framework = new FrameworkRecord(INFO, 'ACTIVE');
  assert.throws(() => framework.updateInfo({ ...INFO, checkpoint: false }), /checkpoint cannot change/);
  framework.updateInfo({ ...INFO, name: 'renamed' });
  assert.is(framework.info.name, 'renamed');
});

Framework('remembers a bounded number of master-generated uuids, forgetting the oldest', () => {
  const framework = new FrameworkRecord(INFO, 'ACTIVE');
  for (let i = 0; i <= 10_000; i += 1) rememberMasterUuid(framework, `uuid-${i}`);
  assert.is(framework.masterUuids.size, 10_000);
  assert.not.ok(framework.masterUuids.has('uuid-0'));
  assert.ok(framework.masterUuids.has('uuid-10000'));
});

Framework.run();
