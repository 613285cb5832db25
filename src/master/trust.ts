// Who the master trusts (issue 14, docs/security.md): the principals of --credentials, whether
// agents and frameworks must authenticate (--authenticate_agents, --authenticate_frameworks), and
// who may read /state and /metrics and kill tasks as an operator (--operator_principals, HTTP
// Basic). A master reachable beyond loopback must be told explicitly to go without authentication.
import { isIP } from 'node:net';
import { InvalidOptionError, LifelineError } from '../protocol/index.js';
import { Authenticator, type Credential } from '../session/authentication.js';
import type { EndpointAuthentication } from '../session/endpoint.js';

export interface TrustOptions {
  /** The principals and secrets agents, frameworks and operators authenticate with (--credentials). */
  credentials?: readonly Credential[];
  /** Refuse agents that do not authenticate. Leaving it undefined on a non-loopback `ip` refuses to start. */
  authenticateAgents?: boolean;
  /** Refuse frameworks that do not authenticate. Leaving it undefined on a non-loopback `ip` refuses to start. */
  authenticateFrameworks?: boolean;
  /** With authentication on: who may use /state, /metrics and operator calls. Default: every principal of `credentials`. */
  operatorPrincipals?: readonly string[];
}

/** An operator's HTTP request judged: who it is, or the status and message of the refusal. */
export type OperatorVerdict = { principal: string } | { status: 401 | 403; error: string; principal?: string };

export interface Trust {
  agents: EndpointAuthentication;
  schedulers: EndpointAuthentication;
  /** Judges the Authorization header of /state, /metrics and kills; undefined: open (authentication off). */
  operators: ((authorization: string | undefined) => OperatorVerdict) | undefined;
  /** For the start-up log line (never a secret). */
  summary: { principals: number; authenticateAgents: boolean; authenticateFrameworks: boolean; operators: string[] | 'all' | 'none' };
}

/** Loopback: only local processes reach it (the demo and the README tour run there without credentials). */
export function isLoopback(ip: string): boolean {
  if (ip === 'localhost' || ip === '::1') return true;
  return isIP(ip) === 4 && ip.startsWith('127.');
}

/** The refusal of a master bound beyond loopback without a word about authentication. */
export class ExposedMasterError extends LifelineError {
  constructor(ip: string, missing: readonly string[]) {
    super(
      'ERR_INVALID_OPTION',
      `the master listens on ${ip}, beyond loopback, where anyone who reaches it could register agents and run tasks: turn on ${missing.join(' and ')} (with --credentials), or say ${missing.map((flag) => `${flag}=false`).join(' ')} explicitly to run without`,
    );
  }
}

export function resolveTrust(options: TrustOptions, ip: string): Trust {
  const { credentials, authenticateAgents, authenticateFrameworks, operatorPrincipals } = options;
  if (credentials !== undefined && !Array.isArray(credentials)) throw new InvalidOptionError('credentials', credentials, 'an array of {principal, secret}');
  for (const [key, value] of [['authenticateAgents', authenticateAgents], ['authenticateFrameworks', authenticateFrameworks]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError(key, value, 'a boolean');
    if (value === true && (credentials === undefined || credentials.length === 0)) throw new InvalidOptionError(key, value, 'false unless credentials are given (--credentials)');
  }
  if (!isLoopback(ip)) {
    const missing = [
      ...(authenticateAgents === undefined ? ['--authenticate_agents'] : []),
      ...(authenticateFrameworks === undefined ? ['--authenticate_frameworks'] : []),
    ];
    if (missing.length > 0) throw new ExposedMasterError(ip, missing);
  }
  const authenticator = credentials && credentials.length > 0 ? new Authenticator(credentials) : undefined;
  if (operatorPrincipals !== undefined) {
    if (!Array.isArray(operatorPrincipals)) throw new InvalidOptionError('operatorPrincipals', operatorPrincipals, 'an array of principals');
    for (const principal of operatorPrincipals) {
      if (!authenticator?.has(principal)) throw new InvalidOptionError('operatorPrincipals', principal, 'a principal listed in credentials (--credentials)');
    }
  }
  const on = authenticateAgents === true || authenticateFrameworks === true;
  const allowed = operatorPrincipals === undefined ? undefined : new Set(operatorPrincipals);
  const operators = on && authenticator ? (header: string | undefined) => judgeOperator(authenticator, allowed, header) : undefined;
  return {
    agents: { authenticator, required: authenticateAgents === true, link: 'agent', flag: '--authenticate_agents' },
    schedulers: { authenticator, required: authenticateFrameworks === true, link: 'scheduler', flag: '--authenticate_frameworks' },
    operators,
    summary: {
      principals: credentials?.length ?? 0,
      authenticateAgents: authenticateAgents === true,
      authenticateFrameworks: authenticateFrameworks === true,
      operators: !operators ? 'none' : allowed ? [...allowed] : 'all',
    },
  };
}

/** HTTP Basic: `Authorization: Basic base64(principal:secret)`. */
function judgeOperator(authenticator: Authenticator, allowed: ReadonlySet<string> | undefined, header: string | undefined): OperatorVerdict {
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return { status: 401, error: 'this master requires an operator credential (HTTP Basic: principal and secret of --credentials)' };
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const principal = (colon === -1 ? decoded : decoded.slice(0, colon)).slice(0, 128);
  const password = colon === -1 ? '' : decoded.slice(colon + 1);
  if (!authenticator.verifyPassword(principal, password)) return { status: 401, error: `authentication of principal ${principal} failed: unknown principal or wrong secret`, principal };
  if (allowed !== undefined && !allowed.has(principal)) return { status: 403, error: `principal ${principal} is not an operator (--operator_principals)`, principal };
  return { principal };
}
