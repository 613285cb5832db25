// The SchedulerDriver's options and their validation: every bad value is refused at construction
// with an error naming the option and the value.
import type { Logger } from '../log.js';
import { InvalidOptionError, PRINCIPAL_PATTERN, USER_PATTERN, assertId, show, type AgentStatusEvent, type Offer, type RoutedTaskStatus, type SchedulerEvent } from '../protocol/index.js';
import { AddressError, parseMasterSpec } from '../protocol/address.js';
import { splitScheme } from '../session/tls.js';

export type FailureEvent = Extract<SchedulerEvent, { type: 'FAILURE' }>;

export interface SchedulerFrameworkInfo {
  /** Shown in the master's /state. */
  name: string;
  /** The ID of an existing framework to fail over to (a restarted scheduler taking over its tasks). */
  id?: string;
  /** Ask for checkpointing agents only; the framework's tasks survive an agent restart. Default false. */
  checkpoint?: boolean;
  /** How long the master keeps the framework (and its tasks) after the scheduler disconnects. Default 0. */
  failoverTimeoutMs?: number;
  /** The user its executors and tasks run as, on agents run as root with --switch_user (Mesos's FrameworkInfo.user). */
  user?: string;
}

type Callback<A extends unknown[]> = (...args: A) => void | Promise<void>;

export interface SchedulerDriverOptions {
  /** The master: `HOST:PORT`, a list `HOST:PORT,HOST:PORT` (tried in turn, following the leader) or `etcd://HOST:PORT[,…]/PREFIX`. */
  master: string;
  frameworkInfo: SchedulerFrameworkInfo;
  /** Acknowledge every UPDATE that carries a uuid once onUpdate has returned (or resolved). Default true. */
  autoAcknowledge?: boolean;
  /** Subscribed (first time, and again after every reconnection) with this framework ID. */
  onSubscribed?: Callback<[frameworkId: string]>;
  onOffers?: Callback<[offers: Offer[]]>;
  onRescind?: Callback<[offerId: string]>;
  onUpdate?: Callback<[status: RoutedTaskStatus]>;
  onMessage?: Callback<[agentId: string, executorId: string, data: Uint8Array]>;
  onFailure?: Callback<[event: FailureEvent]>;
  /** An agent running tasks of this framework disconnected, re-registered or was removed (AGENT_STATUS, issue 15). */
  onAgentStatus?: Callback<[event: AgentStatusEvent]>;
  /**
   * An error. When `driver.state` is `'STOPPED'` it is the error that stopped the driver (the
   * master's ERROR); otherwise the driver carries on by itself (a failed connection attempt, a
   * malformed frame from the master, a callback that threw).
   */
  onError?: (error: Error) => void;
  /** The subscription was lost; the driver is reconnecting. */
  onDisconnected?: () => void;
  /** Reconnection backoff: first delay (default 250 ms) and cap (default 10 s). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A connection attempt that is not subscribed after this long fails (default 10 s). */
  connectTimeoutMs?: number;
  /** Largest frame accepted from the master (default 16 MiB: offers from many agents add up). */
  maxFrameBytes?: number;
  /**
   * With a master written `https://HOST:PORT`: the CA certificates (PEM) its certificate must be
   * signed by (--ssl_ca_file). Default: the system's CAs. The host name is verified too.
   */
  ca?: string | Buffer;
  /** With an `https://` master that asks for one (--ssl_require_cert): the client certificate chain and its key (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /**
   * Authenticate to a master with --credentials (issue 14): a principal listed there and its
   * secret. The secret never crosses the wire (challenge and HMAC) and is never logged.
   */
  credential?: { principal: string; secret: string };
  logger?: Logger;
}

export function checkOptions(options: SchedulerDriverOptions): void {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object');
  try {
    parseMasterSpec(typeof options.master === 'string' ? splitScheme(options.master).address : options.master, 'option master');
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    throw new InvalidOptionError('master', options.master, `a HOST:PORT string such as "127.0.0.1:5050", a list "HOST:PORT,HOST:PORT" or "etcd://HOST:PORT/PREFIX", https:// before a host list for TLS (${error.why})`);
  }
  if (options.ca !== undefined && typeof options.ca !== 'string' && !Buffer.isBuffer(options.ca)) throw new InvalidOptionError('ca', options.ca, 'PEM certificates as a string or Buffer');
  for (const name of ['cert', 'key'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'string' && !Buffer.isBuffer(value)) throw new InvalidOptionError(name, value, 'PEM as a string or Buffer');
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    const missing = options.cert === undefined ? 'cert' : 'key';
    throw new InvalidOptionError(missing, undefined, `PEM as a string or Buffer (cert and key go together: give both or neither)`);
  }
  const credential = options.credential;
  if (credential !== undefined) {
    if (credential === null || typeof credential !== 'object') throw new InvalidOptionError('credential', credential, 'an object {principal, secret}');
    if (typeof credential.principal !== 'string' || !PRINCIPAL_PATTERN.test(credential.principal)) {
      throw new InvalidOptionError('credential.principal', credential.principal, 'a principal name (letters, digits, _ . @ + = -; 1 to 128)');
    }
    // The value of a bad secret is not shown: it may be most of a real one.
    if (typeof credential.secret !== 'string' || credential.secret.length === 0 || credential.secret.length > 4096) {
      throw new InvalidOptionError('credential.secret', typeof credential.secret === 'string' ? `a string of ${credential.secret.length} characters` : typeof credential.secret, 'a secret string of 1 to 4096 characters');
    }
  }
  const info = options.frameworkInfo;
  if (info === null || typeof info !== 'object') throw new InvalidOptionError('frameworkInfo', info, 'an object with a name');
  if (typeof info.name !== 'string' || info.name.length > 1024) throw new InvalidOptionError('frameworkInfo.name', info.name, 'a string of at most 1024 characters');
  if (info.id !== undefined && typeof info.id !== 'string') throw new InvalidOptionError('frameworkInfo.id', info.id, 'a framework ID string');
  if (info.id !== undefined) assertId('frameworkInfo.id', info.id);
  if (info.user !== undefined && (typeof info.user !== 'string' || !USER_PATTERN.test(info.user))) throw new InvalidOptionError('frameworkInfo.user', info.user, 'a user name (letters, digits, . _ -; at most 32)');
  if (info.checkpoint !== undefined && typeof info.checkpoint !== 'boolean') throw new InvalidOptionError('frameworkInfo.checkpoint', info.checkpoint, 'a boolean');
  if (info.failoverTimeoutMs !== undefined && !(Number.isSafeInteger(info.failoverTimeoutMs) && info.failoverTimeoutMs >= 0)) {
    throw new InvalidOptionError('frameworkInfo.failoverTimeoutMs', info.failoverTimeoutMs, 'a non-negative integer number of milliseconds');
  }
  if (options.autoAcknowledge !== undefined && typeof options.autoAcknowledge !== 'boolean') {
    throw new InvalidOptionError('autoAcknowledge', options.autoAcknowledge, 'a boolean');
  }
  for (const name of ['onSubscribed', 'onOffers', 'onRescind', 'onUpdate', 'onMessage', 'onFailure', 'onAgentStatus', 'onError', 'onDisconnected'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(name, value, 'a function');
  }
  for (const name of ['backoffMinMs', 'backoffMaxMs', 'connectTimeoutMs', 'maxFrameBytes'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new InvalidOptionError(name, value, 'a positive number');
    }
  }
  if ((options.backoffMinMs ?? 250) > (options.backoffMaxMs ?? Math.max(10_000, options.backoffMinMs ?? 0))) {
    throw new InvalidOptionError('backoffMaxMs', options.backoffMaxMs, `at least backoffMinMs (${show(options.backoffMinMs)})`);
  }
}
