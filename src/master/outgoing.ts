// The last check before the master sends an event: it must pass the receiver's own schema and fit
// its frame limit, or the receiver (a SchedulerDriver, an agent) would refuse it and lose its
// link. Messages are cut to fit; anything else that fails is logged with a code and not sent.
import * as v from 'valibot';
import { AgentEvent, SchedulerEvent, type ErrorCode } from '../protocol/index.js';
import type { Logger } from '../log.js';

/** The longest message (status, FAILURE, SHUTDOWN) the receivers' schemas accept, in characters. */
export const MAX_MESSAGE = 64 * 1024;
/** The SchedulerDriver's default frame limit (its maxFrameBytes option). */
export const SCHEDULER_FRAME_LIMIT = 16 * 1024 * 1024;
/** The agent's frame limit for its master link. */
export const AGENT_FRAME_LIMIT = 64 * 1024 * 1024;

const CUT_SUFFIX = '… (cut to fit)';

/** `text` cut to at most `max` characters, saying so at its end. */
export function fitText(text: string, max = MAX_MESSAGE): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - CUT_SUFFIX.length)}${CUT_SUFFIX}`;
}

/** The event with every message cut to what SchedulerEvent accepts. */
export function fitSchedulerEvent(event: SchedulerEvent): SchedulerEvent {
  switch (event.type) {
    case 'UPDATE':
      return event.status.message !== undefined && event.status.message.length > MAX_MESSAGE
        ? { ...event, status: { ...event.status, message: fitText(event.status.message) } }
        : event;
    case 'FAILURE':
    case 'ERROR':
      return event.message !== undefined && event.message.length > MAX_MESSAGE ? { ...event, message: fitText(event.message) } : event;
    default:
      return event;
  }
}

/** The event with every message cut to what AgentEvent accepts. */
export function fitAgentEvent(event: AgentEvent): AgentEvent {
  if ((event.type === 'SHUTDOWN' || event.type === 'ERROR') && event.message.length > MAX_MESSAGE) {
    return { ...event, message: fitText(event.message) };
  }
  return event;
}

/** An event the master built that its receiver would refuse: the code of the log line. */
export const OUTGOING_CODE: ErrorCode = 'ERR_PROTOCOL';

type Schema = typeof SchedulerEvent | typeof AgentEvent;

/**
 * Returns the event ready to send, or undefined (after a log line with a code) when, even with its
 * messages cut, it fails the receiver's schema: a bug in the master, which must cost that one
 * event, never the receiver's connection. (The frame limit is checked on the encoded bytes, by the
 * endpoint session: see `maxSendBytes`.)
 */
function prepare<E extends { type: string }>(schema: Schema, fit: (event: E) => E, receiver: string, logger: Logger, event: E): E | undefined {
  const ready = fit(event);
  const result = v.safeParse(schema, ready, { abortEarly: true });
  if (result.success) return ready;
  const issue = result.issues[0];
  const path = issue?.path?.map((item) => String(item.key)).join('.') ?? '';
  logger.error({ code: OUTGOING_CODE, event: ready.type, field: path, problem: issue?.message }, `event not sent: it fails the ${receiver}'s schema`);
  return undefined;
}

/** The check of events to schedulers (SchedulerEvent). */
export function schedulerOutgoing(logger: Logger): (event: SchedulerEvent) => SchedulerEvent | undefined {
  return (event) => prepare(SchedulerEvent, fitSchedulerEvent, 'scheduler', logger, event);
}

/** The check of events to agents (AgentEvent). */
export function agentOutgoing(logger: Logger): (event: AgentEvent) => AgentEvent | undefined {
  return (event) => prepare(AgentEvent, fitAgentEvent, 'agent', logger, event);
}

/** `items` in pieces of at most `size` (an OFFERS event of every agent would outgrow a frame). */
export function pieces<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
