// The framework's callbacks, run one at a time in event order on one promise chain: a callback
// that returns a promise holds back the next event until it settles. An UPDATE is acknowledged
// (autoAcknowledge) only once onUpdate has returned; a callback that throws is reported, and its
// update is left unacknowledged so that the agent sends it again.
import type { RoutedTaskStatus, SchedulerEvent } from '../protocol/index.js';
import type { SchedulerDriverOptions } from './options.js';

type Handlers = Pick<SchedulerDriverOptions, 'onSubscribed' | 'onOffers' | 'onRescind' | 'onUpdate' | 'onMessage' | 'onFailure' | 'onAgentStatus'>;

export type Acknowledgement = Required<Pick<RoutedTaskStatus, 'agentId' | 'taskId' | 'uuid'>>;

export interface CallbacksOptions {
  handlers: Handlers;
  autoAcknowledge: boolean;
  /** True once the driver has stopped: no callback runs after that, nor any acknowledgement. */
  stopped(): boolean;
  /** onSubscribed for `frameworkId` has settled (resolved or thrown). */
  subscribed(frameworkId: string): void;
  acknowledge(ack: Acknowledgement): void;
  /** A callback (or the acknowledgement after it) threw. */
  report(error: Error): void;
}

export class Callbacks {
  readonly #options: CallbacksOptions;
  /** Event callbacks run one after another on this chain. */
  #dispatch: Promise<void> = Promise.resolve();

  constructor(options: CallbacksOptions) {
    this.#options = options;
  }

  /** Runs the event's callback after those of every event enqueued before it. */
  enqueue(event: SchedulerEvent): void {
    this.#dispatch = this.#dispatch.then(() => this.#run(event)).catch((error: unknown) => this.#options.report(error as Error));
  }

  async #run(event: SchedulerEvent): Promise<void> {
    if (this.#options.stopped()) return;
    const o = this.#options.handlers;
    switch (event.type) {
      case 'SUBSCRIBED':
        try {
          await o.onSubscribed?.(event.frameworkId);
        } finally {
          this.#options.subscribed(event.frameworkId);
        }
        return;
      case 'OFFERS':
        await o.onOffers?.(event.offers);
        return;
      case 'RESCIND':
        await o.onRescind?.(event.offerId);
        return;
      case 'UPDATE': {
        // A callback that throws leaves the update unacknowledged: the agent sends it again.
        await o.onUpdate?.(event.status);
        const { status } = event;
        if (this.#options.autoAcknowledge && status.uuid !== undefined && status.agentId !== undefined && !this.#options.stopped()) {
          this.#options.acknowledge({ agentId: status.agentId, taskId: status.taskId, uuid: status.uuid });
        }
        return;
      }
      case 'MESSAGE':
        await o.onMessage?.(event.agentId, event.executorId, event.data);
        return;
      case 'FAILURE':
        await o.onFailure?.(event);
        return;
      case 'AGENT_STATUS':
        await o.onAgentStatus?.(event);
        return;
      default:
        return;
    }
  }
}
