import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';

const test = suite('checkpoint errors');

test('names the file, the offset in a record log, and what is wrong', () => {
  const error = new CheckpointCorruptError('/w/meta/x/task.updates', 4096, 'payload CRC mismatch');
  assert.is(error.code, 'ERR_CHECKPOINT_CORRUPT');
  assert.is(error.message, 'corrupt checkpoint /w/meta/x/task.updates at offset 4096: payload CRC mismatch');
  assert.is(error.file, '/w/meta/x/task.updates');
  assert.is(error.offset, 4096);
  assert.is(error.detail, 'payload CRC mismatch');
});

test('a JSON file has no offset, and the cause is kept', () => {
  const cause = new SyntaxError('Unexpected end of JSON input');
  const error = new CheckpointCorruptError('/w/meta/agent.json', undefined, 'not JSON', { cause });
  assert.is(error.message, 'corrupt checkpoint /w/meta/agent.json: not JSON');
  assert.is(error.offset, undefined);
  assert.is(error.cause, cause);
});

test.run();
