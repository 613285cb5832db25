// The tests' helpers live in harness/ (shared with scripts/); this keeps the tests' import path.
export * from '../harness/helpers.js';
