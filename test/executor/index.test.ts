// `lifeline/executor` (src/executor/index.ts): what a custom executor links, and nothing more. The
// driver's inner parts (link, update queue, backlog, outbox, reconnector, test seams) stay private.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as executor from '../../src/executor/index.js';
import { ExecutorDriver } from '../../src/executor/driver.js';
import { EnvironmentError, readExecutorEnvironment } from '../../src/executor/environment.js';
import { TaskProcess } from '../../src/executor/task-process.js';
import { LifelineError } from '../../src/protocol/errors.js';

const Index = suite('lifeline/executor');

Index('exports the driver, TaskProcess, the environment reader and the error class, and no other value (the internals stay private)', () => {
  assert.equal(Object.keys(executor).sort(), ['EnvironmentError', 'ExecutorDriver', 'LifelineError', 'TaskProcess', 'readExecutorEnvironment']);
});

Index('exports the very classes of their modules, so that instanceof and error codes match across the package', () => {
  assert.is(executor.ExecutorDriver, ExecutorDriver);
  assert.is(executor.TaskProcess, TaskProcess);
  assert.is(executor.EnvironmentError, EnvironmentError);
  assert.is(executor.readExecutorEnvironment, readExecutorEnvironment);
  assert.is(executor.LifelineError, LifelineError);
  assert.ok(new executor.EnvironmentError('LIFELINE_DIRECTORY', undefined, 'a path') instanceof executor.LifelineError);
});

Index.run();
