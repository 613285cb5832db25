// The scheduler driver's handshake, one step per connection: SUBSCRIBE (with the framework ID once
// known), answered by SUBSCRIBED or ERROR. It keeps the highest leader epoch it has subscribed
// with, so that a deposed master still answering is not followed back, and it steers the driver's
// MasterTargets when a standby names the leader.
import type { Logger } from '../log.js';
import { ConnectionError, encode, type SchedulerEvent } from '../protocol/index.js';
import { firstFrameVersion, isVersionRefusal } from '../protocol/version.js';
import type { ImmediateHandshakeStep } from '../session/authenticated-step.js';
import type { MasterTargets } from '../session/master-targets.js';
import { MISSED_HEARTBEATS } from '../session/watchdog.js';
import { MasterError } from './errors.js';
import type { SchedulerFrameworkInfo } from './options.js';

export type SubscribedEvent = Extract<SchedulerEvent, { type: 'SUBSCRIBED' }>;

export interface SubscriptionOptions {
  /** The master as the user wrote it, for MasterError's message. */
  master: string;
  frameworkInfo: SchedulerFrameworkInfo;
  /** The framework ID to subscribe with (the latest one the master gave), if any. */
  frameworkId(): string | undefined;
  targets: MasterTargets;
  log: Logger;
  /** An event that came before the answer (not HEARTBEAT): delivered as any other. */
  onEvent(event: SchedulerEvent): void;
}

export class Subscription {
  readonly #master: string;
  readonly #frameworkInfo: SchedulerFrameworkInfo;
  readonly #frameworkId: () => string | undefined;
  readonly #targets: MasterTargets;
  readonly #log: Logger;
  readonly #onEvent: (event: SchedulerEvent) => void;
  /** The highest leader epoch subscribed with: an older master is not followed. */
  #epoch = 0;

  constructor(options: SubscriptionOptions) {
    this.#master = options.master;
    this.#frameworkInfo = { ...options.frameworkInfo };
    this.#frameworkId = options.frameworkId;
    this.#targets = options.targets;
    this.#log = options.log;
    this.#onEvent = options.onEvent;
  }

  /** The step for one connection attempt. */
  step(): ImmediateHandshakeStep<SchedulerEvent, SubscribedEvent> {
    return {
      open: (link, authentication) => {
        const frameworkInfo: SchedulerFrameworkInfo = { ...this.#frameworkInfo };
        const frameworkId = this.#frameworkId();
        if (frameworkId !== undefined) frameworkInfo.id = frameworkId;
        link.send(encode({ type: 'SUBSCRIBE', frameworkInfo, ...firstFrameVersion(), ...(authentication && { authentication }) }));
      },
      answer: (event) => {
        switch (event.type) {
          case 'SUBSCRIBED': {
            const epoch = event.epoch ?? 0;
            if (epoch > 0 && epoch < this.#epoch) {
              this.#log.warn({ master: this.#targets.last, epoch, known: this.#epoch }, 'SUBSCRIBED from an older leader epoch: ignored');
              return { kind: 'fail', error: new ConnectionError(`the master at ${this.#targets.last} answered with leader epoch ${epoch}, older than ${this.#epoch}`) };
            }
            if (epoch > this.#epoch) this.#epoch = epoch;
            return {
              kind: 'accept',
              value: event,
              // Any frame proves the master alive; none for MISSED_HEARTBEATS intervals: the link is dead.
              heartbeat: event.heartbeatIntervalMs > 0 ? { intervalMs: event.heartbeatIntervalMs, missed: MISSED_HEARTBEATS } : undefined,
            };
          }
          case 'ERROR':
            // A master that does not serve our protocol version may be upgraded or rolled back: retry.
            if (isVersionRefusal(event.code, event.message)) {
              this.#log.error({ code: event.code, message: event.message }, 'the master refused this scheduler\'s protocol version: retrying');
              return { kind: 'fail', error: new MasterError(this.#master, event.code, event.message) };
            }
            if (event.code === 'ERR_NOT_LEADER') {
              // A standby: try the leader it names (or the next master) after the backoff.
              this.#log.info({ master: this.#targets.last, leader: event.leader }, 'not the leader: following');
              this.#targets.failed(this.#targets.last);
              this.#targets.follow(event.leader);
              return { kind: 'fail', error: new ConnectionError(`the master at ${this.#targets.last} is not the leader: ${event.message}`) };
            }
            return { kind: 'refuse', error: new MasterError(this.#master, event.code, event.message) };
          case 'HEARTBEAT':
            return undefined;
          default:
            this.#onEvent(event);
            return undefined;
        }
      },
    };
  }
}
