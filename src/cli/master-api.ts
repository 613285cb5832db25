// What the operator verbs (`tasks`, `agents`, `kill`, `logs`) share: one HTTP call to a master or
// an agent with a deadline and nothing left open, the parts of the master's /state they read, and
// the TASK_ID operand taken out of argv before the flags are parsed.
import http from 'node:http';
import { FlagError, isTerminal, show, type TaskState } from '../protocol/index.js';
import { formatAddress, parseAddress, type Address } from '../scheduler/address.js';
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

export function parseHostPort(flag: string, text: string): Address {
  const address = parseAddress(text);
  if (!address) throw new FlagError(`invalid value for --${flag}: ${show(text)} (expected HOST:PORT)`);
  return address;
}

/** One request without keep-alive; rejects with an ApiError naming `where`. */
export function request(
  address: Address,
  path: string,
  { method = 'GET', body, where }: { method?: string; body?: string; where: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const call = http.request(`http://${formatAddress(address)}${path}`, { method, agent: false, headers, timeout: TIMEOUT_MS }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', (error) => reject(new ApiError(`cannot read the answer of the ${where}: ${error.message}`)));
    });
    call.on('timeout', () => call.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    call.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ECONNREFUSED' ? 'connection refused' : error.message;
      reject(new ApiError(`cannot reach the ${where}: ${why}`));
    });
    call.end(body);
  });
}

/** GET and parse JSON; a non-2xx answer is an ApiError with the server's `error`. */
export async function getJson<T>(address: Address, path: string, where: string): Promise<T> {
  const response = await request(address, path, { where });
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

export function fetchMasterState(master: Address, text: string): Promise<MasterStateView> {
  return getJson<MasterStateView>(master, '/state', `master at ${text}`);
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
