// `lifeline`: the public API in one import, the two client libraries and what users match on
// (typed errors with their codes, the protocol's types). Re-exports only; the agent and the master
// are programs (`lifeline agent`, `lifeline master`), not library API (docs/decisions.md).
export * from './executor/index.js';
export * from './scheduler/index.js';
export {
  ConnectionError,
  IllegalStateError,
  InvalidDurationError,
  InvalidIdError,
  InvalidOptionError,
  ProtocolError,
  UnauthorizedError,
} from './protocol/errors.js';
export { REASONS, SOURCES, TASK_STATES } from './protocol/common.js';
export type { AgentInfo } from './protocol/common.js';
