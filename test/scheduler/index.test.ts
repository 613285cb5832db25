// `lifeline/scheduler`, the framework client library: the driver, its errors, the address helpers
// and isTerminal, each the defining module's own binding, and nothing else (the master's and the
// agent's internals are not part of it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as scheduler from '../../src/scheduler/index.js';
import type { Address, ConnectionState, ExecutorInfo, FailureEvent, NewTaskInfo, Offer, Reason, Resources, RoutedTaskStatus, SchedulerDriverOptions, SchedulerFrameworkInfo, Source, TaskInfo, TaskState, TaskStatus } from '../../src/scheduler/index.js';
import * as address from '../../src/scheduler/address.js';
import * as driver from '../../src/scheduler/driver.js';
import * as protocol from '../../src/protocol/index.js';

const SURFACE: Record<string, Record<string, unknown>> = {
  SchedulerDriver: driver,
  MasterError: driver,
  DriverStoppedError: driver,
  parseAddress: address,
  formatAddress: address,
  isTerminal: protocol,
  LifelineError: protocol,
};

// The types a framework takes from `lifeline/scheduler` (a missing one fails the build).
export type Surface = [Address, ConnectionState, ExecutorInfo, FailureEvent, NewTaskInfo, Offer, Reason, Resources, RoutedTaskStatus, SchedulerDriverOptions, SchedulerFrameworkInfo, Source, TaskInfo, TaskState, TaskStatus];

const test = suite('scheduler/index');

test('exports the framework client\'s surface and nothing else', () => {
  assert.equal(Object.keys(scheduler).sort(), Object.keys(SURFACE).sort());
});

test('each export is the defining module\'s own binding (re-exports only)', () => {
  const exported = scheduler as unknown as Record<string, unknown>;
  for (const [name, module] of Object.entries(SURFACE)) {
    assert.ok(module[name] !== undefined, `${name} is defined by its module`);
    assert.is(exported[name], module[name], name);
  }
});

test('its errors are LifelineErrors with the codes users match on', () => {
  const stopped = new scheduler.DriverStoppedError('accept offers');
  assert.instance(stopped, scheduler.LifelineError);
  assert.is(stopped.code, 'ERR_DRIVER_STOPPED');
  assert.is(stopped.message, 'cannot accept offers: the scheduler driver is stopped');
  assert.ok(scheduler.MasterError.prototype instanceof scheduler.LifelineError);
});

test('isTerminal and the address helpers answer through it', () => {
  assert.ok(scheduler.isTerminal('TASK_FINISHED'));
  assert.not.ok(scheduler.isTerminal('TASK_RUNNING'));
  assert.equal(scheduler.parseAddress('[::1]:5050'), { host: '::1', port: 5050 });
  assert.is(scheduler.formatAddress({ host: '::1', port: 5050 }), '[::1]:5050');
});

test.run();
