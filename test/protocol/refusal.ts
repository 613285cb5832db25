// The message of a value that a schema must refuse: shared by the schema tests of protocol/.
import * as assert from 'uvu/assert';
import type * as v from 'valibot';
import { ProtocolError, validate } from '../../src/protocol/index.js';

/** Validates `value` (as `what`: "frame", "record", "task") and returns the ProtocolError's message; fails if it passes. */
export function refusal(schema: v.GenericSchema, value: unknown, what = 'frame'): string {
  try {
    validate(schema, value, what);
  } catch (error) {
    assert.instance(error, ProtocolError);
    return (error as Error).message;
  }
  assert.unreachable(`expected ${JSON.stringify(value)} to be refused`);
  return '';
}
