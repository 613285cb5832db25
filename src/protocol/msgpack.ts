// The msgpack half of the codec, on its own so that the executor side can load it without the
// schemas. It uses msgpackr's pure-JavaScript build (`msgpackr/pack` resolves to it under Node):
// the package's Node entry also loads a native string-decoding addon and `stream`, a few MB of
// RSS per executor for no gain on frames of a few hundred bytes (DESIGN §10). Same classes, same
// options on every side (`useRecords: false`: objects decode as plain objects, never `Map`s; no
// `sequential`, which does not survive reconnects), so the bytes on the wire are the same.
// Untrusted input (issue 14): structured clone is off, and every decode first walks the bytes and
// refuses any extension but `undefined` and the byte 0xC1 (frame-budget.ts), so a peer's frame
// decodes to plain data only.
import { Packr, Unpackr } from 'msgpackr/pack';
import { ProtocolError } from './errors.js';
import { checkFrameBudget, checkPlainMsgpack } from './frame-budget.js';

const OPTIONS = { useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false } as const;
const packr = new Packr(OPTIONS);
const unpackr = new Unpackr(OPTIONS);

export function encode(message: unknown): Buffer {
  return packr.pack(message);
}

/** Decodes msgpack bytes to an unknown value; throws ProtocolError when they are not plain msgpack. */
export function decode(bytes: Uint8Array): unknown {
  checkPlainMsgpack(bytes);
  return unpack(bytes);
}

/** decode() that also refuses a frame of too many small objects (checkFrameBudget), in one walk. */
export function decodeWithBudget(bytes: Uint8Array): unknown {
  checkFrameBudget(bytes);
  return unpack(bytes);
}

function unpack(bytes: Uint8Array): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (cause) {
    throw new ProtocolError(`frame is not valid msgpack (${(cause as Error).message ?? cause})`, { cause });
  }
}

/** Turns ws message data (Buffer, ArrayBuffer or fragments) into one Buffer. */
export function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
