// `.lifeline/shim.json`: the identity an executor writes about itself (atomically, before
// TASK_RUNNING), so that a restarted agent can find it and its task process groups even when
// `forked.json` is missing. Written by the executor, so the agent treats it as untrusted input.
import * as v from 'valibot';
import { Id } from '../protocol/common.js';

const Pid = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(2 ** 22));
const StartTime = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

export const ShimTask = v.object({ taskId: Id, pgid: Pid, startTime: StartTime });
export type ShimTask = v.InferOutput<typeof ShimTask>;

export const ShimInfo = v.object({
  pid: Pid,
  startTime: StartTime,
  protocol: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** The format of `.lifeline/` (issue 11; checkpoint/format.ts). Absent: 0.1.0, format 1. */
  format: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000))),
  executorId: Id,
  containerId: Id,
  tasks: v.pipe(v.array(ShimTask), v.maxLength(10_000)),
});
export type ShimInfo = v.InferOutput<typeof ShimInfo>;
