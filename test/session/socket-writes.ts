// Counts the writes every net.Socket in this process hands to the OS while `during` runs and the
// turn after it ends: `_write` for one chunk, `_writev` for the chunks a cork held back. A spy on
// the stream methods, for the tests of one-write-per-turn; restored before it returns.
import net from 'node:net';

export interface SocketWrites {
  /** Single-chunk writes. */
  write: number;
  /** Gathered writes, and the chunks each carried. */
  writev: number[];
}

export async function countSocketWrites(during: () => void | Promise<void>): Promise<SocketWrites> {
  const proto = net.Socket.prototype as unknown as { _write: (...args: unknown[]) => void; _writev: (chunks: unknown[], ...rest: unknown[]) => void };
  const { _write: write, _writev: writev } = proto;
  const seen: SocketWrites = { write: 0, writev: [] };
  proto._write = function (this: unknown, ...args: unknown[]) {
    seen.write += 1;
    return write.apply(this, args);
  };
  proto._writev = function (this: unknown, chunks: unknown[], ...rest: unknown[]) {
    seen.writev.push(chunks.length);
    return writev.call(this, chunks, ...rest);
  };
  try {
    await during();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    proto._write = write;
    proto._writev = writev;
  }
  return seen;
}
