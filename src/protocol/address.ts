// Where a master is, as operators write it, parsed in one place for every client (agent --master,
// run/state --master, the SchedulerDriver's `master`): `HOST:PORT`, a list `HOST:PORT,HOST:PORT`
// (tried in turn), or `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` (the leader read from etcd).
import { FlagError, show } from './errors.js';

export interface Address {
  /** Host name or IP address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

/** The masters a client may talk to. */
export type MasterSpec =
  | { readonly kind: 'hosts'; readonly hosts: readonly Address[] }
  | { readonly kind: 'etcd'; readonly endpoints: readonly Address[]; readonly prefix: string };

/** A master address (flag or option) that is none of the accepted forms. */
export class AddressError extends FlagError {
  /** Why the value is refused (without the flag and the value). */
  readonly why: string;

  constructor(readonly where: string, value: unknown, why: string) {
    super(`invalid value for ${where}: ${show(value)} (${why}; expected HOST:PORT, HOST:PORT,HOST:PORT or etcd://HOST:PORT[,HOST:PORT]/PREFIX)`);
    this.why = why;
  }
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;
/** A list longer than this is a mistake (etcd clusters and master sets are 3 or 5). */
const MAX_HOSTS = 32;

/** Parses `HOST:PORT` or `[IPV6]:PORT`; returns undefined when the text is not one. */
export function parseAddress(text: unknown): Address | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  const host = match[1] ?? match[2]!;
  if (match[1] !== undefined && !host.includes(':')) return undefined;
  if (match[2] !== undefined && (host.length > 253 || !host.split('.').every((label) => LABEL.test(label)))) return undefined;
  return { host, port };
}

/** The address as it goes into a URL: IPv6 hosts in brackets. */
export function formatAddress({ host, port }: Address): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function parseList(text: string, where: string, whole: unknown): Address[] {
  const parts = text.split(',');
  if (parts.length > MAX_HOSTS) throw new AddressError(where, whole, `more than ${MAX_HOSTS} addresses`);
  const seen = new Set<string>();
  return parts.map((part) => {
    const address = parseAddress(part);
    if (!address) throw new AddressError(where, whole, `${show(part)} is not HOST:PORT`);
    const key = formatAddress(address);
    if (seen.has(key)) throw new AddressError(where, whole, `${key} is listed twice`);
    seen.add(key);
    return address;
  });
}

/**
 * Parses a master address; `where` names the flag or option in the error ("--master", "option
 * master"). Throws AddressError naming it and the value.
 */
export function parseMasterSpec(text: unknown, where: string): MasterSpec {
  if (typeof text !== 'string' || text === '') throw new AddressError(where, text, 'not a non-empty string');
  if (text.startsWith('etcd://')) return parseEtcdUrl(text, where);
  if (text.includes('://')) throw new AddressError(where, text, 'the only scheme accepted is etcd://');
  return { kind: 'hosts', hosts: parseList(text, where, text) };
}

/** Parses `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` (the master's --registry and a client's --master). */
export function parseEtcdUrl(text: unknown, where: string): Extract<MasterSpec, { kind: 'etcd' }> {
  if (typeof text !== 'string' || !text.startsWith('etcd://')) throw new AddressError(where, text, 'not an etcd:// URL');
  const rest = text.slice('etcd://'.length);
  const slash = rest.indexOf('/');
  if (slash === -1) throw new AddressError(where, text, 'no /PREFIX after the etcd endpoints');
  const prefix = rest.slice(slash + 1).replace(/\/+$/, '');
  if (!PREFIX.test(prefix)) throw new AddressError(where, text, `prefix ${show(prefix)} must be path segments of letters, digits, '_', '.' and '-'`);
  return { kind: 'etcd', endpoints: parseList(rest.slice(0, slash), where, text), prefix };
}

/** The spec as written (for logs and messages). */
export function formatMasterSpec(spec: MasterSpec): string {
  return spec.kind === 'hosts' ? spec.hosts.map(formatAddress).join(',') : `etcd://${spec.endpoints.map(formatAddress).join(',')}/${spec.prefix}`;
}
