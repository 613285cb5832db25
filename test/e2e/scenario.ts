// The scenario harness lives in harness/ (shared with scripts/); this keeps the tests' import path.
export * from '../../harness/scenario.js';
