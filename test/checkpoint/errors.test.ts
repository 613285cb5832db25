import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointCorruptError } from '../../src/checkpoint/errors.js';
import { LifelineError } from '../../src/protocol/errors.js';

const errors = suite('checkpoint/errors');

errors('is a LifelineError with code ERR_CHECKPOINT_CORRUPT and its own name', () => {
  const error = new CheckpointCorruptError('/w/meta/agent.json', undefined, 'the file is empty');
  assert.instance(error, LifelineError);
  assert.is(error.code, 'ERR_CHECKPOINT_CORRUPT');
  assert.is(error.name, 'CheckpointCorruptError');
});

errors('names the file, and the offset in a record log when there is one', () => {
  const json = new CheckpointCorruptError('/w/meta/agent.json', undefined, 'the file is empty');
  assert.is(json.message, 'corrupt checkpoint /w/meta/agent.json: the file is empty');
  assert.is(json.offset, undefined);
  const log = new CheckpointCorruptError('/w/tasks/t1/task.updates', 4096, 'bad checksum');
  assert.is(log.message, 'corrupt checkpoint /w/tasks/t1/task.updates at offset 4096: bad checksum');
  assert.is(log.offset, 4096);
});

errors('keeps the file, offset 0 and the detail apart from the message, for tools to show', () => {
  const error = new CheckpointCorruptError('/w/log', 0, 'torn record');
  assert.is(error.file, '/w/log');
  assert.is(error.offset, 0);
  assert.is(error.detail, 'torn record');
  assert.match(error.message, / at offset 0: /);
});

errors('keeps its cause', () => {
  const cause = new SyntaxError('Unexpected end of JSON input');
  assert.is(new CheckpointCorruptError('/w/f.json', undefined, 'not valid JSON', { cause }).cause, cause);
});

errors.run();
