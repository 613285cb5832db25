// The checkpoint: atomic JSON files, record logs with group commit, the meta/ and sandboxes/ layout,
// the agent's writer (Checkpointer) and the recovery reader (recoverState).
export * from './errors.js';
export * from './atomic-write.js';
export * from './records.js';
export * from './record-log.js';
export * from './layout.js';
export * from './shim-info.js';
export * from './files.js';
export * from './state.js';
export * from './checkpointer.js';
export * from './recover.js';
