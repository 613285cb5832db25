// TLS on the master's links (issue 14, point 1): a master address written `https://HOST:PORT`
// means WSS, verified against a CA (default: the system's). This is a tiny separate scheme split,
// to join the one address parser (src/protocol/address.ts, issue 12) as its `https://` prefix.
import fs from 'node:fs';
import { LifelineError } from '../protocol/errors.js';

export interface MasterTarget {
  /** `https://` was written: connect with TLS (wss://). */
  secure: boolean;
  /** What follows the scheme: `HOST:PORT`. */
  address: string;
}

/** Splits an optional `https://` (and a trailing `/`) off a master address; anything else is left as it is. */
export function splitScheme(text: string): MasterTarget {
  const match = /^https:\/\/(.*?)\/?$/i.exec(text);
  return match ? { secure: true, address: match[1]! } : { secure: false, address: text };
}

/** The WebSocket URL of an endpoint of the master. */
export function webSocketUrl(target: MasterTarget, path: string): string {
  return `${target.secure ? 'wss' : 'ws'}://${target.address}${path}`;
}

/** A TLS file (certificate, key, CA) named by a flag could not be read. */
export class TlsFileError extends LifelineError {
  constructor(flag: string, file: string, cause: unknown) {
    super('ERR_INVALID_FLAG', `cannot read ${flag}=${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

/** Reads a PEM file named by `flag`; TlsFileError naming both when it cannot. */
export function readPem(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new TlsFileError(flag, file, error);
  }
}

/** What a server needs to serve HTTPS/WSS: a certificate chain and its key (PEM). */
export interface ServerTls {
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * Mutual TLS (--ssl_require_cert with --ssl_ca_file): every client must present a certificate
   * signed by one of these CAs (PEM); a client without one is refused in the handshake.
   */
  clientCa?: string | Buffer;
}

/** What a client presents when the server asks for a certificate (mutual TLS): a chain and its key (PEM). */
export interface ClientCertificate {
  cert: string | Buffer;
  key: string | Buffer;
}
