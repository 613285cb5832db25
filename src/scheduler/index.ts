// `lifeline/scheduler`: the framework client library. Re-exports only.
export { SchedulerDriver, MasterError, DriverStoppedError } from './driver.js';
export type { SchedulerDriverOptions, SchedulerFrameworkInfo, ConnectionState, FailureEvent } from './driver.js';
export { parseAddress, formatAddress, type Address } from './address.js';
export type { Offer, RoutedTaskStatus, TaskStatus, NewTaskInfo, TaskInfo, ExecutorInfo, Resources, TaskState, Reason, Source } from '../protocol/index.js';
export { isTerminal, LifelineError } from '../protocol/index.js';
