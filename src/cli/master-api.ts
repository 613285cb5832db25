// What the operator verbs (`tasks`, `agents`, `kill`, `logs`, `state`) share: one HTTP(S) call to a
// master or an agent with a deadline and nothing left open, the operator's credential sent as HTTP
// Basic and the master's refusal of it said in one line (issue 14), the parts of the master's
// /state they read, and the TASK_ID operand taken out of argv before the flags are parsed.
import http from 'node:http';
import https from 'node:https';
import { FlagError, isTerminal, show, type TaskState } from '../protocol/index.js';
import { formatAddress, parseAddress, type Address } from '../scheduler/address.js';
import type { Credential } from '../session/authentication.js';
import { readCredential } from '../session/credentials.js';
import { readPem, splitScheme } from '../session/tls.js';
import type { FlagSpec } from './flags.js';

const TIMEOUT_MS = 10_000;

/** A failed call: unreachable, or an answer that is not what was asked for. Exit 1, one line. */
export class ApiError extends Error {}

export interface TaskView {
  id: string;
  state: TaskState;
  name?: string;
  agentId: string;
  executorId: string;
  sandbox?: string | null;
  statuses?: Array<{ state: TaskState; timestamp: number; source: string | null; reason: string | null; message: string | null }>;
}

export interface FrameworkView {
  id: string;
  name: string;
  status: string;
  checkpoint: boolean;
  tasks: TaskView[];
}

export interface AgentView {
  id: string;
  hostname: string;
  status: string;
  address?: string | null;
  lastSeen?: number | null;
  /** The agent's release and agreed protocol (issue 11); null for a peer that did not say. */
  release?: string | null;
  protocol?: number | null;
  events?: Array<{ type: string; timestamp: number; awayMs?: number }>;
}

export interface MasterStateView {
  agents: AgentView[];
  frameworks: FrameworkView[];
  completedFrameworks?: FrameworkView[];
}

/** A task with the framework it belongs to. */
export interface FoundTask {
  task: TaskView;
  framework: FrameworkView;
}

/** Where a call goes: HOST:PORT, over TLS when it was written `https://HOST:PORT`. */
export interface Endpoint extends Address {
  readonly secure?: boolean;
}

/** What a call to a master carries besides the request (issue 14). */
export interface CallOptions {
  /** The operator's principal and secret (--credential), sent as HTTP Basic. */
  credential?: Credential;
  /** With an `https://` endpoint: the CA certificates (PEM) its certificate must chain to (--ssl_ca_file). Default: the system's. */
  ca?: string | Buffer;
}

/** The flags every operator verb has to reach a master with authentication or TLS on. */
export const TRUST_SPECS = {
  credential: {
    type: 'string',
    placeholder: 'PATH',
    help: 'for a master with authentication on: an operator\'s {"principal": "...", "secret": "..."} (JSON, readable by its owner only), sent as HTTP Basic (use https://)',
  },
  ssl_ca_file: { type: 'string', placeholder: 'PATH', help: 'with --master=https://HOST:PORT: the CA certificates (PEM) the master\'s must be signed by (default: the system\'s)' },
} as const satisfies Record<string, FlagSpec>;

/** Reads the files --credential and --ssl_ca_file name; a bad one is an error naming the flag and the path. */
export function readTrust(flags: { credential?: string | undefined; ssl_ca_file?: string | undefined }): CallOptions {
  const options: CallOptions = {};
  if (flags.credential !== undefined) {
    // A principal never has a ':' (the schema refuses it), which HTTP Basic could not carry.
    options.credential = readCredential('--credential', flags.credential);
  }
  if (flags.ssl_ca_file !== undefined) options.ca = readPem('--ssl_ca_file', flags.ssl_ca_file);
  return options;
}

/** Parses `HOST:PORT` or `https://HOST:PORT`; a FlagError naming the flag and the value when it is neither. */
export function parseHostPort(flag: string, text: string): Endpoint {
  const { secure, address: rest } = splitScheme(text);
  const address = parseAddress(rest);
  // Worded as the one address parser words it (protocol/address.ts): what is wrong, then what is expected.
  if (!address) throw new FlagError(`invalid value for --${flag}: ${show(text)} (${show(rest)} is not HOST:PORT; expected HOST:PORT or https://HOST:PORT)`);
  return secure ? { ...address, secure } : address;
}

/** The endpoint as operators write it: `HOST:PORT`, or `https://HOST:PORT`. */
export function formatEndpoint(endpoint: Endpoint): string {
  return `${endpoint.secure ? 'https://' : ''}${formatAddress(endpoint)}`;
}

/** `Basic base64(principal:secret)`, the secret's UTF-8 bytes as they are. */
export function basicAuthorization({ principal, secret }: Credential): string {
  return `Basic ${Buffer.concat([Buffer.from(`${principal}:`, 'utf8'), secret.bytes()]).toString('base64')}`;
}

/** A call that got no whole answer; `reading`: the answer broke off (else: no connection, or no answer in time). */
export class CallFailure extends Error {
  constructor(
    message: string,
    readonly reading: boolean,
  ) {
    super(message);
  }
}

/** Certificate checks that fail when the endpoint's certificate is not signed by a CA the client trusts. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT']);

/** Why a call could not be made, in words, with what to do for a certificate that is not trusted. */
function reason(error: NodeJS.ErrnoException, endpoint: Endpoint, ca: unknown): string {
  if (error.code === 'ECONNREFUSED') return 'connection refused';
  if (error.code !== undefined && UNTRUSTED.has(error.code)) {
    return `${error.message} [${error.code}] (${ca === undefined ? 'pass the CA that signed its certificate with --ssl_ca_file' : 'its certificate is not signed by --ssl_ca_file'})`;
  }
  if (error.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${error.message} [${error.code}] (its certificate is not for ${endpoint.host})`;
  // OpenSSL's message is several lines with its source file in them: its reason is enough.
  const ssl = /:SSL routines:[^:]*:([^:\n]+)/.exec(error.message)?.[1];
  if (ssl !== undefined) return `TLS failed: ${ssl}${/wrong version number|packet length too long/.test(ssl) ? ' (does it serve HTTPS? without TLS, write HOST:PORT)' : ''}`;
  if (!endpoint.secure && error.code === 'ECONNRESET') return `${error.message} (does it serve HTTPS only?)`;
  return error.message.split('\n')[0]!.trim();
}

/**
 * One request without keep-alive, over TLS to an `https://` endpoint (host name verified), with the
 * credential as HTTP Basic when there is one; resolves to any answer, rejects with a CallFailure.
 */
export function call(
  endpoint: Endpoint,
  path: string,
  { method = 'GET', body }: { method?: string; body?: string } = {},
  { credential, ca }: CallOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (credential) headers.authorization = basicAuthorization(credential);
    const url = `${endpoint.secure ? 'https' : 'http'}://${formatAddress(endpoint)}${path}`;
    const options: https.RequestOptions = { method, agent: false, headers, timeout: TIMEOUT_MS, ...(endpoint.secure && ca !== undefined && { ca }) };
    const onAnswer = (response: http.IncomingMessage) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', (error) => reject(new CallFailure(error.message, true)));
    };
    const sent = endpoint.secure ? https.request(url, options, onAnswer) : http.request(url, options, onAnswer);
    sent.on('timeout', () => sent.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    sent.on('error', (error: NodeJS.ErrnoException) => reject(new CallFailure(reason(error, endpoint, ca), false)));
    sent.end(body);
  });
}

/**
 * A master's 401 or 403 as one line that says what to do (--credential, --operator_principals);
 * undefined for any other answer. Names the principal, never the secret.
 */
export function refusal(status: number, where: string, credential: Credential | undefined): ApiError | undefined {
  if (status === 401 && credential === undefined) return new ApiError(`the ${where} requires an operator credential: pass --credential=PATH`);
  if (status === 401) return new ApiError(`the ${where} refused the credential of principal ${credential!.principal}: unknown principal or wrong secret (check --credential)`);
  if (status === 403 && credential !== undefined) return new ApiError(`principal ${credential.principal} is not an operator of the ${where} (--operator_principals)`);
  return undefined;
}

/** One request without keep-alive; rejects with an ApiError naming `where` (a refused credential included). */
export async function request(
  address: Endpoint,
  path: string,
  { method = 'GET', body, where }: { method?: string; body?: string; where: string },
  options: CallOptions = {},
): Promise<{ status: number; body: string }> {
  let response: { status: number; body: string };
  try {
    response = await call(address, path, { method, ...(body !== undefined && { body }) }, options);
  } catch (error) {
    if (!(error instanceof CallFailure)) throw error;
    throw new ApiError(error.reading ? `cannot read the answer of the ${where}: ${error.message}` : `cannot reach the ${where}: ${error.message}`);
  }
  const refused = refusal(response.status, where, options.credential);
  if (refused) throw refused;
  return response;
}

/** GET and parse JSON; a non-2xx answer is an ApiError with the server's `error`. */
export async function getJson<T>(address: Endpoint, path: string, where: string, options: CallOptions = {}): Promise<T> {
  const response = await request(address, path, { where }, options);
  return parseAnswer<T>(response, where);
}

export function parseAnswer<T>(response: { status: number; body: string }, where: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    throw new ApiError(`the ${where} answered HTTP ${response.status} with something that is not JSON`);
  }
  if (response.status < 200 || response.status > 299) {
    const error = parsed !== null && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
    throw new ApiError(`the ${where} answered HTTP ${response.status}${typeof error === 'string' ? `: ${error}` : ''}`);
  }
  return parsed as T;
}

export function fetchMasterState(master: Endpoint, text: string, options: CallOptions = {}): Promise<MasterStateView> {
  return getJson<MasterStateView>(master, '/state', `master at ${text}`, options);
}

/** Every task the master knows, live frameworks first. */
export function allTasks(state: MasterStateView): FoundTask[] {
  const found: FoundTask[] = [];
  for (const framework of [...state.frameworks, ...(state.completedFrameworks ?? [])]) {
    for (const task of framework.tasks) found.push({ task, framework });
  }
  return found;
}

/** The task with this ID (in this framework if given); an ApiError when none or several. */
export function findTask(state: MasterStateView, taskId: string, frameworkId: string | undefined): FoundTask {
  const matches = allTasks(state).filter(({ task, framework }) => task.id === taskId && (frameworkId === undefined || framework.id === frameworkId));
  if (matches.length === 0) throw new ApiError(`the master knows no task ${taskId}${frameworkId ? ` in framework ${frameworkId}` : ''} (see lifeline tasks)`);
  // A live task wins over ended ones of the same ID in removed frameworks.
  const live = matches.filter(({ task }) => !isTerminal(task.state));
  if (live.length === 1) return live[0]!;
  if (matches.length > 1) {
    throw new ApiError(`task ID ${taskId} is used by frameworks ${matches.map(({ framework }) => framework.id).join(', ')}; say which with --framework`);
  }
  return matches[0]!;
}

/**
 * Takes the one operand (TASK_ID) out of argv, skipping flags and the values of non-boolean flags
 * given as a separate word. More than one operand is a usage error naming them.
 */
export function takeOperand(argv: readonly string[], specs: Record<string, FlagSpec>, name: string, subcommand: string): { operand: string | undefined; rest: string[] } {
  const rest: string[] = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('-')) {
      rest.push(arg);
      const flag = arg.replace(/^--?/, '').replace(/-/g, '_');
      const spec = specs[flag];
      if (!arg.includes('=') && spec && spec.type !== 'boolean' && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    operands.push(arg);
  }
  if (operands.length > 1) throw new FlagError(`lifeline ${subcommand} takes one ${name}, got ${operands.length}: ${operands.map((o) => show(o)).join(' ')}`);
  return { operand: operands[0], rest };
}

/** Columns padded to their widest cell; the last is not padded. */
export function table(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** "3s ago", "2m ago", "1h ago"; "-" for none. */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return '-';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}
