import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertId, InvalidIdError, isValidId, newId } from '../../src/protocol/index.js';

const ids = suite('ids');

ids('accepts ordinary IDs, UUIDs and the longest allowed ID', () => {
  for (const id of ['a', 'task-1', 'my_task.2', '_x', newId(), 'A'.repeat(200)]) assert.ok(isValidId(id), id);
});

ids('rejects IDs that could escape or break a directory name', () => {
  for (const id of ['', '../x', 'a/b', '.hidden', '..', '-x', 'a\nb', 'a\u0000b', 'tab\there', 'A'.repeat(201), 'é', ' x']) {
    assert.not.ok(isValidId(id), JSON.stringify(id));
  }
  for (const value of [undefined, null, 42, {}, ['a']]) assert.not.ok(isValidId(value));
});

ids('assertId names the field and shows the bad value', () => {
  try {
    assertId('taskId', '../x');
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.instance(error, InvalidIdError);
    assert.is((error as InvalidIdError).code, 'ERR_INVALID_ID');
    assert.match((error as Error).message, 'taskId');
    assert.match((error as Error).message, '"../x"');
  }
});

ids('escapes control characters when it shows a bad value', () => {
  try {
    assertId('executorId', 'a\nb');
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.match((error as Error).message, '"a\\nb"');
  }
});

ids.run();
