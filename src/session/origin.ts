// Browser safety for every WebSocket endpoint (issue 14, point 5): a web page open in an
// operator's browser may open a WebSocket to any address the browser reaches, 127.0.0.1 included;
// the browser says who it is in `Origin`, and the agent, the driver and the executor send none.
import os from 'node:os';
import net from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * Why an upgrade must be refused, or undefined to accept it. No Origin: not a browser, accepted.
 * An Origin is accepted only when it is the server's own: the same host and port as the request's
 * Host, and that host is an IP address, `localhost` or this machine's host name (a DNS-rebinding
 * page has the same origin as the Host it sends, but under the attacker's own name).
 */
export function originRefusal(request: IncomingMessage): string | undefined {
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  const host = request.headers.host;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `Origin ${JSON.stringify(origin)} is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `Origin ${origin} is not an http(s) origin`;
  if (host === undefined || url.host !== normalHost(url.protocol, host)) {
    return `Origin ${origin} is not this server's own (${host ?? 'no Host header'}); WebSocket connections from web pages of other sites are refused`;
  }
  if (!isOwnHostName(url.hostname)) {
    return `Origin ${origin} names the host ${url.hostname}, which is not an IP address, localhost or this machine's name`;
  }
  return undefined;
}

/** The Host header as URL writes it (lower case, a default port left out), or undefined. */
function normalHost(protocol: string, host: string): string | undefined {
  try {
    return new URL(`${protocol}//${host}`).host;
  } catch {
    return undefined;
  }
}

function isOwnHostName(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (net.isIP(bare) !== 0) return true;
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  const own = os.hostname().toLowerCase();
  return bare === own || bare.split('.')[0] === own;
}
