// `lifeline/executor`: what a custom executor links: ExecutorDriver (subscription, durable outbox,
// shim.json, reconnection to a restarted agent), TaskProcess to run a command in a process group of
// its own, and their types. Nothing here loads the agent, the master or a logger, so an executor
// starts fast and stays small.
export { ExecutorDriver } from './driver.js';
export type { DriverState, ExecutorDriverOptions, ExecutorUpdate } from './driver.js';
export { TaskProcess } from './task-process.js';
export type { TaskExit, TaskProcessOptions } from './task-process.js';
export { EnvironmentError, readExecutorEnvironment } from './environment.js';
export type { ExecutorEnvironment } from './environment.js';
export { LifelineError } from '../protocol/errors.js';
export type { ErrorCode } from '../protocol/errors.js';
export type { ExecutorInfo, FrameworkInfo, Reason, TaskInfo, TaskState, TaskStatus } from '../protocol/common.js';
