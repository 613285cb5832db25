// decodeEvent: a frame from the master as a SchedulerEvent, a frame of a type this release does not
// know told apart (UnknownEventError) from a broken one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, ProtocolError } from '../../src/protocol/index.js';
import { UnknownTypeError } from '../../src/protocol/tolerant.js';
import { decodeEvent, UnknownEventError } from '../../src/scheduler/decode-event.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.unreachable('expected an error');
}

const Decode = suite('scheduler/decode-event');

Decode('decodes a well-formed event of a known type', () => {
  assert.equal(decodeEvent(encode({ type: 'RESCIND', offerId: 'offer-1' })), { type: 'RESCIND', offerId: 'offer-1' });
  assert.equal(decodeEvent(encode({ type: 'HEARTBEAT' })), { type: 'HEARTBEAT' });
});

Decode('throws UnknownEventError, naming the type, for a type the driver does not know', () => {
  const error = thrown(() => decodeEvent(encode({ type: 'not-a-known-type', detail: 1 })));
  assert.instance(error, UnknownEventError);
  assert.instance(error, ProtocolError);
  assert.is((error as UnknownEventError).eventType, 'not-a-known-type');
  assert.is((error as UnknownEventError).code, 'ERR_PROTOCOL');
  assert.is((error as Error).message, 'event of unknown type "not-a-known-type"');
});

Decode('throws UnknownEventError too for a type name a newer release may add (not the codec\'s UnknownTypeError)', () => {
  const error = thrown(() => decodeEvent(encode({ type: 'SOMETHING_NEW' })));
  assert.instance(error, UnknownEventError);
  assert.not.instance(error, UnknownTypeError);
  assert.is((error as UnknownEventError).eventType, 'SOMETHING_NEW');
});

Decode('throws the schema\'s error for a malformed event of a known type', () => {
  const error = thrown(() => decodeEvent(encode({ type: 'RESCIND', offerId: '../bad' })));
  assert.instance(error, ProtocolError);
  assert.not.instance(error, UnknownEventError);
  assert.match((error as Error).message, /offerId/);
});

Decode('throws the decoder\'s error for bytes that are not a frame', () => {
  const error = thrown(() => decodeEvent(Uint8Array.of(0xc1)));
  assert.instance(error, Error);
  assert.not.instance(error, UnknownEventError);
});

Decode.run();
