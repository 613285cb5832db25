// The master's side of a split REREGISTER (see src/agent/reregistration.ts): the parts of one
// call arrive in order on one connection, each repeating agentInfo, and are joined into the whole
// call, which is acted on once the last part is in. Anything out of order is a protocol error that
// closes that connection only.
import { MAX_REREGISTER_ITEMS, ProtocolError, REREGISTER_LISTS, versionFields, type ReregisterCall as Reregister } from '../protocol/index.js';

export class ReregisterParts {
  #pending: Reregister | undefined;
  #count = 0;
  #next = 0;

  /** Adds one REREGISTER frame; returns the whole call once complete, else undefined. */
  add(call: Reregister): Reregister | undefined {
    const { part } = call;
    if (!part) {
      if (this.#pending) throw this.#error(`a REREGISTER without part arrived while part ${this.#next} of ${this.#count} was expected`);
      return call;
    }
    if (part.index !== this.#next) {
      throw this.#error(`REREGISTER part ${part.index} of ${part.count} arrived, but part ${this.#next} was expected`);
    }
    if (part.index === 0) {
      this.#pending = { type: 'REREGISTER', agentInfo: call.agentInfo, ...versionFields(call), frameworks: [], executors: [], tasks: [] };
      this.#count = part.count;
    } else if (part.count !== this.#count) {
      throw this.#error(`REREGISTER part ${part.index} says count ${part.count}, but part 0 said ${this.#count}`);
    } else if (call.agentInfo.id !== this.#pending!.agentInfo.id) {
      throw this.#error(`REREGISTER part ${part.index} is from agent ${call.agentInfo.id}, but part 0 was from agent ${this.#pending!.agentInfo.id}`);
    }
    const pending = this.#pending!;
    for (const kind of REREGISTER_LISTS) {
      const list = pending[kind] as unknown[];
      if (list.length + call[kind].length > MAX_REREGISTER_ITEMS) {
        throw this.#error(`REREGISTER parts list more than ${MAX_REREGISTER_ITEMS} ${kind}`);
      }
      for (const item of call[kind]) list.push(item);
    }
    this.#next += 1;
    if (this.#next < this.#count) return undefined;
    this.#pending = undefined;
    this.#count = 0;
    this.#next = 0;
    return pending;
  }

  #error(message: string): ProtocolError {
    this.#pending = undefined;
    return new ProtocolError(`invalid REREGISTER frame: ${message}`);
  }
}
