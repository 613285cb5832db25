// Process identity (pid + start time), liveness and process-group kill, from /proc. Linux only.
export * from './proc-stat.js';
export * from './kill-group.js';
