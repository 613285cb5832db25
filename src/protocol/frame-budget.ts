// A frame's decode cost is bounded by its size only if its objects are not too small: a 1 MiB frame
// of one-byte empty maps decodes to a million JS objects (~90 MB, found by the hostile fault run).
// This scan walks the msgpack bytes without building anything and refuses such a frame first. The
// same walk refuses what msgpackr would turn into more than plain data from an untrusted peer:
// every extension type (structured-clone references, Set, RegExp, Error, typed arrays, BigInt,
// timestamps) but the `undefined` marker our own encoder writes, and the never-used byte 0xC1
// (which msgpackr decodes to a marker object instead of refusing).
import { ProtocolError } from './errors.js';

/** At most one map, array, bin or ext per this many bytes of frame (real frames have one per ~50). */
export const BYTES_PER_OBJECT = 8;
const SLACK = 16;

/** Bytes of a value's payload that follow its type byte, by type byte; -1 for variable forms handled below. */
function fixedSize(type: number): number {
  if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) return 0;
  switch (type) {
    case 0xcc:
    case 0xd0:
      return 1;
    case 0xcd:
    case 0xd1:
      return 2;
    case 0xca:
    case 0xce:
    case 0xd2:
      return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 8;
    default:
      return -1;
  }
}

/** The one extension accepted: fixext1 of type 0 (d4 00 00), how msgpackr encodes `undefined`. */
const UNDEFINED_EXT = 0;

function extension(type: number): never {
  throw new ProtocolError(`frame holds a msgpack extension of type ${type}; only plain data (maps, arrays, strings, numbers, booleans, nil, binary) is accepted`);
}

/**
 * Throws a ProtocolError when the msgpack in `bytes` holds more maps, arrays, binaries and
 * extensions than one per BYTES_PER_OBJECT bytes, any extension but `undefined`, or the byte 0xC1.
 * Malformed or truncated input is left to the decoder (the scan just stops).
 */
export function checkFrameBudget(bytes: Uint8Array): void {
  scan(bytes, true);
}

/** The same walk without the object budget (records read back from disk, frames from the agent). */
export function checkPlainMsgpack(bytes: Uint8Array): void {
  scan(bytes, false);
}

function scan(bytes: Uint8Array, budget: boolean): void {
  const limit = budget ? SLACK + Math.floor(bytes.length / BYTES_PER_OBJECT) : Infinity;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  let pending = 1;
  let objects = 0;
  const object = () => {
    if (++objects > limit) {
      throw new ProtocolError(`frame of ${bytes.length} bytes holds more than ${limit} maps, arrays and binaries (at most one per ${BYTES_PER_OBJECT} bytes)`);
    }
  };
  while (pending > 0 && offset < bytes.length) {
    pending -= 1;
    const type = bytes[offset]!;
    offset += 1;
    const fixed = fixedSize(type);
    if (fixed >= 0) {
      offset += fixed;
      continue;
    }
    const need = (n: number) => offset + n <= bytes.length;
    if (type >= 0x80 && type <= 0x8f) {
      object();
      pending += 2 * (type & 0x0f);
    } else if (type >= 0x90 && type <= 0x9f) {
      object();
      pending += type & 0x0f;
    } else if (type >= 0xa0 && type <= 0xbf) {
      offset += type & 0x1f;
    } else if (type === 0xd9 || type === 0xda || type === 0xdb || type === 0xc4 || type === 0xc5 || type === 0xc6) {
      const width = type === 0xd9 || type === 0xc4 ? 1 : type === 0xda || type === 0xc5 ? 2 : 4;
      if (!need(width)) return;
      const length = width === 1 ? view.getUint8(offset) : width === 2 ? view.getUint16(offset) : view.getUint32(offset);
      if (type >= 0xc4 && type <= 0xc6) object();
      offset += width + length;
    } else if (type === 0xc7 || type === 0xc8 || type === 0xc9) {
      const width = type === 0xc7 ? 1 : type === 0xc8 ? 2 : 4;
      if (!need(width + 1)) return;
      extension(view.getInt8(offset + width));
    } else if (type >= 0xd4 && type <= 0xd8) {
      if (!need(1)) return;
      const extType = view.getInt8(offset);
      if (type !== 0xd4 || extType !== UNDEFINED_EXT) extension(extType);
      object();
      offset += 1 + (1 << (type - 0xd4));
    } else if (type === 0xdc || type === 0xdd || type === 0xde || type === 0xdf) {
      const width = type === 0xdc || type === 0xde ? 2 : 4;
      if (!need(width)) return;
      const count = width === 2 ? view.getUint16(offset) : view.getUint32(offset);
      object();
      offset += width;
      pending += type >= 0xde ? 2 * count : count;
    } else {
      throw new ProtocolError('frame is not valid msgpack (the byte 0xC1, never used by msgpack)');
    }
  }
}
