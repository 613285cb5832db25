// Who leads, as etcd says (issue 12): the masters campaign under `<prefix>/election/`, each with a
// key bound to its lease and holding its HOST:PORT; the leader is the key created first. Clients
// (the agent's master link, the SchedulerDriver) and the masters themselves read it the same way.
// etcd3 (gRPC, protobufjs: half a second and 27 MB at start-up) is loaded only when etcd is used.
import type { Etcd3, IOptions } from 'etcd3';
import { formatAddress, type Address } from '../protocol/address.js';

export function electionPrefix(prefix: string): string {
  return `${prefix}/election/`;
}

/** An etcd client for these endpoints, failing fast (the callers retry on their own schedule). */
export async function etcdClient(endpoints: readonly Address[], dialTimeoutMs = 2_000): Promise<Etcd3> {
  const { Etcd3: Client } = await import('etcd3');
  const options: IOptions = { hosts: endpoints.map((address) => `http://${formatAddress(address)}`), dialTimeout: dialTimeoutMs };
  return new Client(options);
}

export interface LeaderEntry {
  /** The leader's HOST:PORT as it campaigned. */
  address: string;
  key: string;
  /** Its key's create revision: the leadership term's epoch. */
  revision: number;
}

/** The current leader, or undefined when no master leads. Rejects when etcd cannot be read. */
export async function readLeader(client: Etcd3, prefix: string): Promise<LeaderEntry | undefined> {
  const response = await client.getAll().prefix(electionPrefix(prefix)).sort('Create', 'Ascend').limit(1).exec();
  const kv = response.kvs[0];
  if (!kv) return undefined;
  return { address: kv.value.toString('utf8'), key: kv.key.toString('utf8'), revision: Number(kv.create_revision) };
}

/**
 * Keeps the leader's address up to date for a client: read now, again on every change under the
 * election prefix (a watch) and every `pollMs` (a watch can miss a change while reconnecting).
 */
export class LeaderWatch {
  readonly #client: Promise<Etcd3>;
  readonly #prefix: string;
  readonly #onChange: (leader: string | undefined) => void;
  #leader: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #watcher: { cancel(): Promise<void> } | undefined;
  #closed = false;
  #error: string | undefined;

  constructor(endpoints: readonly Address[], prefix: string, onChange: (leader: string | undefined) => void, pollMs = 1_000) {
    this.#client = etcdClient(endpoints);
    this.#client.catch(() => {}); // reported by refresh()
    this.#prefix = prefix;
    this.#onChange = onChange;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), pollMs);
    this.#client
      .then((client) => client.watch().prefix(electionPrefix(prefix)).create())
      .then((watcher) => {
        if (this.#closed) return void watcher.cancel();
        this.#watcher = watcher;
        watcher.on('error', () => {});
        watcher.on('put', () => void this.refresh());
        watcher.on('delete', () => void this.refresh());
      })
      .catch(() => {}); // the poll carries on
  }

  /** The leader last read (undefined: none, or etcd not reachable yet). */
  get leader(): string | undefined {
    return this.#leader;
  }

  /** Why the last read failed, if it did. */
  get error(): string | undefined {
    return this.#error;
  }

  async refresh(): Promise<string | undefined> {
    try {
      const entry = await readLeader(await this.#client, this.#prefix);
      this.#error = undefined;
      if (!this.#closed && entry?.address !== this.#leader) {
        this.#leader = entry?.address;
        this.#onChange(this.#leader);
      }
    } catch (error) {
      this.#error = (error as Error).message;
    }
    return this.#leader;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#watcher?.cancel().catch(() => {});
    (await this.#client.catch(() => undefined))?.close();
  }
}
