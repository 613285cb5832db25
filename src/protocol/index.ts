// The protocol: message types, schemas, codec, IDs, durations and errors. Imports nothing else of ours.
export * from './errors.js';
export * from './ids.js';
export * from './duration.js';
export * from './bytes.js';
export * from './common.js';
export * from './authentication.js';
export * from './codec.js';
export * from './executor.js';
export * from './agent.js';
export * from './scheduler.js';
export * from './version.js';
export * from './tolerant.js';
export * from './address.js';
