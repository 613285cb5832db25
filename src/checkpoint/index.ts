// The checkpoint: atomic JSON files, record logs with group commit, and the meta/ and sandboxes/ layout.
export * from './errors.js';
export * from './atomic-write.js';
export * from './records.js';
export * from './record-log.js';
export * from './layout.js';
