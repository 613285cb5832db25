// What a transport reported, in order: shared by the tests of both transports.
import type { TransportEvents } from '../../src/session/transport.js';

export interface Seen {
  opened: boolean;
  messages: { data: string; binary: boolean }[];
  errors: Error[];
  closes: { code: number; reason: string }[];
}

export function recorder(): { seen: Seen; events: TransportEvents } {
  const seen: Seen = { opened: false, messages: [], errors: [], closes: [] };
  return {
    seen,
    events: {
      open: () => (seen.opened = true),
      message: (data, binary) => seen.messages.push({ data: data.toString(), binary }),
      error: (error) => seen.errors.push(error),
      close: (code, reason) => seen.closes.push({ code, reason }),
    },
  };
}
