// A REREGISTER grows with the agent's tasks (about 340 bytes each), and the master refuses a frame
// over its --max_frame_bytes (1 MiB by default): an agent with a few thousand tasks could never
// re-register. A call too large for one frame is split into parts, each under a size the master
// accepts on defaults; every part repeats agentInfo, and the lists are cut between items.
import { encode, LifelineError, MAX_REREGISTER_PARTS, REREGISTER_LISTS, versionFields, type ReregisterCall as Reregister } from '../protocol/index.js';

type Lists = Pick<Reregister, (typeof REREGISTER_LISTS)[number]>;

/**
 * The frames that carry `call`: one when it fits in `partBytes`, else parts of at most about
 * `partBytes` each (an item larger than that on its own gets a part to itself). Items keep their order.
 */
export function reregisterFrames(call: Reregister, partBytes: number): Uint8Array[] {
  const whole = encode(call);
  if (whole.length <= partBytes) return [whole];

  // A part's fixed cost: its type, agentInfo, three list headers and the widest part field.
  const overhead = encode({ ...call, frameworks: [], executors: [], tasks: [], part: { index: MAX_REREGISTER_PARTS, count: MAX_REREGISTER_PARTS } }).length;
  // The lists' headers grow from 1 to at most 5 bytes each once they hold items.
  const budget = Math.max(partBytes - overhead - 12, 1);
  const parts: Lists[] = [];
  let current: Lists = { frameworks: [], executors: [], tasks: [] };
  let used = 0;
  for (const kind of REREGISTER_LISTS) {
    for (const item of call[kind]) {
      const size = encode(item).length;
      if (used > 0 && used + size > budget) {
        parts.push(current);
        current = { frameworks: [], executors: [], tasks: [] };
        used = 0;
      }
      (current[kind] as unknown[]).push(item);
      used += size;
    }
  }
  parts.push(current);
  if (parts.length === 1) return [whole];
  if (parts.length > MAX_REREGISTER_PARTS) {
    throw new LifelineError(
      'ERR_FRAME_TOO_LARGE',
      `REREGISTER of ${call.tasks.length} tasks and ${call.executors.length} executors needs ${parts.length} parts of ${partBytes} bytes; a master accepts at most ${MAX_REREGISTER_PARTS}`,
    );
  }
  // The first part is the connection's registration frame: it alone carries the authentication.
  const first = call.authentication && { authentication: call.authentication };
  return parts.map((lists, index) => encode({ type: 'REREGISTER', agentInfo: call.agentInfo, ...versionFields(call), ...(index === 0 && first), ...lists, part: { index, count: parts.length } }));
}
