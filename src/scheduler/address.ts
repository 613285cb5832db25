// `HOST:PORT` as operators write it (`--master=127.0.0.1:5050`, `[::1]:5050`), parsed in one place
// so that the driver's option check and the CLI's flag check accept exactly the same strings.

export interface Address {
  /** Host name or IP address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*$/;

/** Parses `HOST:PORT` or `[IPV6]:PORT`; returns undefined when the text is not one. */
export function parseAddress(text: unknown): Address | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  const host = match[1] ?? match[2]!;
  if (match[2] !== undefined && !HOST.test(host)) return undefined;
  return { host, port };
}

/** The address as it goes into a URL: IPv6 hosts in brackets. */
export function formatAddress({ host, port }: Address): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
