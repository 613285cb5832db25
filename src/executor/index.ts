// `lifeline/executor`: what a custom executor links: ExecutorDriver and its types. Nothing here
// loads the agent, the master or a logger, so an executor starts fast and stays small.
export { ExecutorDriver } from './driver.js';
export type { DriverState, ExecutorDriverOptions, ExecutorUpdate } from './driver.js';
export { EnvironmentError } from './environment.js';
export type { ExecutorEnvironment } from './environment.js';
export { LifelineError } from '../protocol/errors.js';
export type { ErrorCode } from '../protocol/errors.js';
export type { ExecutorInfo, FrameworkInfo, Reason, TaskInfo, TaskState, TaskStatus } from '../protocol/common.js';
