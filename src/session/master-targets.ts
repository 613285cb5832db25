// Which master a client (the agent's master link, the SchedulerDriver) connects to next (issue 12):
// one HOST:PORT; a list, tried in turn and following an ERR_NOT_LEADER that names the leader; or
// the leader as etcd says (read and watched). A connector over it makes one attempt per call.
import { ConnectionError, formatMasterSpec, type MasterSpec } from '../protocol/index.js';
import { formatAddress } from '../protocol/address.js';
import { LeaderWatch } from './etcd-leader.js';
import { splitScheme } from './tls.js';
import type { Connector, Transport, TransportEvents } from './transport.js';

export class MasterTargets {
  readonly #spec: MasterSpec;
  readonly #hosts: string[];
  #index = 0;
  /** The leader a standby named (tried next, once). */
  #hint: string | undefined;
  #watch: LeaderWatch | undefined;
  #last: string | undefined;
  readonly #secure: boolean;

  /**
   * `onLeaderChange`: etcd named a new leader (a waiting client may retry at once). `secure`: the
   * master was written `https://…` (issue 14): every master of the spec is reached over WSS. A
   * leader named `https://HOST:PORT` (by etcd or a standby) is reached over WSS either way.
   */
  constructor(spec: MasterSpec, onLeaderChange?: (leader: string | undefined) => void, secure = false) {
    this.#spec = spec;
    this.#secure = secure;
    this.#hosts = spec.kind === 'hosts' ? spec.hosts.map(formatAddress) : [];
    if (spec.kind === 'etcd') this.#watch = new LeaderWatch(spec.endpoints, spec.prefix, (leader) => onLeaderChange?.(leader));
  }

  /** As written, for messages. */
  get description(): string {
    return (this.#secure ? 'https://' : '') + formatMasterSpec(this.#spec);
  }

  /** The master of the latest attempt. */
  get last(): string | undefined {
    return this.#last;
  }

  /** The HOST:PORT to try now; undefined when etcd names no leader (yet). */
  current(): string | undefined {
    if (this.#hint !== undefined) return this.#hint;
    if (this.#watch) return this.#watch.leader;
    return this.#hosts[this.#index];
  }

  /** An attempt at `address` failed (refused, unreachable, not the leader): the next one is tried. */
  failed(address: string | undefined): void {
    if (address !== undefined && address === this.#hint) {
      this.#hint = undefined;
      return;
    }
    if (this.#hosts.length > 0 && address === this.#hosts[this.#index]) this.#index = (this.#index + 1) % this.#hosts.length;
    if (this.#watch) void this.#watch.refresh();
  }

  /** A master said who leads: that one is tried next. */
  follow(leader: string | undefined): void {
    this.#hint = leader;
    if (leader === undefined && this.#watch) void this.#watch.refresh();
  }

  /** A connector: each call connects to current() (at `path`), or fails at once when there is none. */
  connector(path: string, connect: (url: string, events: TransportEvents) => Transport): Connector {
    return (events) => {
      const address = this.current();
      this.#last = address;
      if (address === undefined) {
        const why = this.#watch?.error ? `etcd cannot be read: ${this.#watch.error}` : 'no master leads right now';
        return failedTransport(events, new ConnectionError(`no leader to connect to in ${this.description} (${why})`));
      }
      // A leader named by etcd or by a standby may be written https://HOST:PORT (a TLS master campaigns so).
      const target = splitScheme(address);
      return connect(`${this.#secure || target.secure ? 'wss' : 'ws'}://${target.address}${path}`, events);
    };
  }

  async close(): Promise<void> {
    await this.#watch?.close();
  }
}

/** A transport that never opens: error then close on the next turn, as a refused connection does. */
function failedTransport(events: TransportEvents, error: Error): Transport {
  setImmediate(() => {
    events.error(error);
    events.close(1006, error.message.slice(0, 100));
  });
  return {
    isOpen: false,
    bufferedAmount: 0,
    send: () => false,
    close: () => {},
    terminate: () => {}, // the close is on its way
  };
}
