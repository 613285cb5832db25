// The master, for embedding (`lifeline master` wraps it) and for tests.
export { Master, type MasterOptions, type MasterLifecycle } from './master.js';
export type { MasterState, FrameworkState, AgentStatus, FrameworkStatus } from './registry.js';
