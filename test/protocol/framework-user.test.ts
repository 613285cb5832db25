import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameworkInfo, validate } from '../../src/protocol/index.js';
import { refusal } from './refusal.js';

test('FrameworkInfo.user is optional and must be a user name', () => {
  validate(FrameworkInfo, { name: 'f' }, 'record');
  assert.is(validate(FrameworkInfo, { name: 'f', user: 'nobody' }, 'record').user, 'nobody');
  validate(FrameworkInfo, { name: 'f', user: 'build_bot-1.ci$' }, 'record');
  for (const user of ['', '../root', 'a b', '-rf', 'x'.repeat(33), 'root\n']) {
    assert.match(refusal(FrameworkInfo, { name: 'f', user }, 'record'), /field user/, JSON.stringify(user));
  }
});

test.run();
