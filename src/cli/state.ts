// `lifeline state`: prints a master's or an agent's /state as pretty JSON, so an operator (or a
// script piping to jq) need not know the HTTP endpoint.
import http from 'node:http';
import { FlagError, show } from '../protocol/index.js';
import { formatAddress, formatMasterSpec, parseAddress, parseMasterSpec, type Address, type MasterSpec } from '../protocol/address.js';
import { etcdClient, readLeader } from '../session/etcd-leader.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';

const SPECS = {
  master: { type: 'string', help: 'read the /state of the leading master: HOST:PORT, a list HOST:PORT,HOST:PORT, or etcd://HOST:PORT[,HOST:PORT]/PREFIX' },
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
  let candidates: Address[];
  if (flag === 'master') {
    candidates = await masterCandidates(parseMasterSpec(text, '--master'));
  } else {
    const address = parseAddress(text);
    if (!address) throw new FlagError(`invalid value for --${flag}: ${show(text)} (expected HOST:PORT)`);
    candidates = [address];
  }

  let where = `${flag} at ${text}`;
  let response: { status: number; body: string } | undefined;
  const failures: string[] = [];
  for (let i = 0; i < candidates.length && !response; i++) {
    const address = candidates[i]!;
    try {
      const answer = await get(address, '/state');
      // A standby names the leader: its /state is the one wanted.
      const leader = flag === 'master' && answer.status === 200 ? standbyLeader(answer.body) : undefined;
      const leaderAddress = leader === undefined ? undefined : parseAddress(leader);
      if (leaderAddress && leader !== formatAddress(address) && i < 8) {
        candidates.splice(i + 1, 0, leaderAddress);
        continue;
      }
      response = answer;
      where = `${flag} at ${formatAddress(address)}`;
    } catch (error) {
      failures.push(`${formatAddress(address)}: ${(error as Error).message}`);
    }
  }
  if (!response) {
    process.stderr.write(`lifeline state: cannot reach ${where}: ${failures.join('; ') || 'no leader known'}\n`);
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

/** The addresses to ask, in order: the list as given, or the leader etcd names. */
async function masterCandidates(spec: MasterSpec): Promise<Address[]> {
  if (spec.kind === 'hosts') return [...spec.hosts];
  const client = await etcdClient(spec.endpoints);
  try {
    const leader = await readLeader(client, spec.prefix);
    const address = leader && parseAddress(leader.address);
    if (!address) throw new Error('no master leads right now');
    return [address];
  } catch (error) {
    process.stderr.write(`lifeline state: cannot find the leader in ${formatMasterSpec(spec)}: ${(error as Error).message}\n`);
    return [];
  } finally {
    client.close();
  }
}

/** The leader a standby's /state names (undefined: it leads, or it is no HA master). */
function standbyLeader(body: string): string | undefined {
  try {
    const state = JSON.parse(body) as { leading?: unknown; leader?: unknown };
    return state.leading === false && typeof state.leader === 'string' ? state.leader : undefined;
  } catch {
    return undefined;
  }
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
