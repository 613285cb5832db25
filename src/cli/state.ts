// `lifeline state`: prints a master's or an agent's /state as pretty JSON, so an operator (or a
// script piping to jq) need not know the HTTP endpoint.
import http from 'node:http';
import { FlagError, show } from '../protocol/index.js';
import { formatAddress, parseAddress, type Address } from '../scheduler/address.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';

const SPECS = {
  master: { type: 'string', help: 'read the /state of the master at HOST:PORT' },
  agent: { type: 'string', help: 'read the /state of the agent at HOST:PORT' },
} satisfies Record<string, FlagSpec>;

const USAGE = '--master=HOST:PORT | --agent=HOST:PORT';
const TIMEOUT_MS = 10_000;

export async function main(argv: string[]): Promise<number> {
  const { flags, help } = parseFlags('state', SPECS, argv);
  if (help) {
    process.stdout.write(helpText('state', USAGE, SPECS));
    return 0;
  }
  if (flags.master !== undefined && flags.agent !== undefined) {
    throw new FlagError('flags --master and --agent cannot be given together for lifeline state (give one)');
  }
  const flag = flags.master !== undefined ? 'master' : flags.agent !== undefined ? 'agent' : undefined;
  if (!flag) throw new FlagError('flag --master or --agent is required for lifeline state');
  const text = flags[flag]!;
  const address = parseAddress(text);
  if (!address) throw new FlagError(`invalid value for --${flag}: ${show(text)} (expected HOST:PORT)`);

  const where = `${flag} at ${text}`;
  let response: { status: number; body: string };
  try {
    response = await get(address, '/state');
  } catch (error) {
    process.stderr.write(`lifeline state: cannot reach ${where}: ${(error as Error).message}\n`);
    return 1;
  }
  if (response.status !== 200) {
    const detail = response.body.replace(/\s+/g, ' ').trim().slice(0, 200);
    process.stderr.write(`lifeline state: ${where} answered HTTP ${response.status}${detail ? `: ${detail}` : ''}\n`);
    return 1;
  }
  let state: unknown;
  try {
    state = JSON.parse(response.body);
  } catch {
    process.stderr.write(`lifeline state: ${where} answered with something that is not JSON\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  return 0;
}

/** One GET without keep-alive, so nothing is left open once it returns. */
function get(address: Address, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `http://${formatAddress(address)}${path}`,
      { agent: false, headers: { accept: 'application/json' }, timeout: TIMEOUT_MS },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ECONNREFUSED' ? new Error(`connection refused (${error.message.replace(/^connect ECONNREFUSED /, '')})`) : error));
  });
}
