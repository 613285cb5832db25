// `lifeline state`: prints a master's or an agent's /state as pretty JSON, so an operator (or a
// script piping to jq) need not know the HTTP endpoint. The call itself, TLS and the operator's
// --credential (sent to masters only) are master-api's.
import { FlagError, show } from '../protocol/index.js';
import { formatAddress, formatMasterSpec, parseAddress, parseMasterSpec, type Address, type MasterSpec } from '../protocol/address.js';
import { etcdClient, readLeader } from '../session/etcd-leader.js';
import { splitScheme } from '../session/tls.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { call, formatEndpoint, readTrust, refusal, TRUST_SPECS, type CallOptions, type Endpoint } from './master-api.js';

const SPECS = {
  master: { type: 'string', help: 'read the /state of the leading master: HOST:PORT, a list HOST:PORT,HOST:PORT, or etcd://HOST:PORT[,HOST:PORT]/PREFIX (https:// before any of them for TLS)' },
  agent: { type: 'string', help: 'read the /state of the agent at HOST:PORT (or https://HOST:PORT)' },
  credential: TRUST_SPECS.credential,
  ssl_ca_file: { ...TRUST_SPECS.ssl_ca_file, help: 'with --master=https://… or --agent=https://HOST:PORT: the CA certificates (PEM) its certificate must be signed by (default: the system\'s)' },
} satisfies Record<string, FlagSpec>;

const USAGE = '--master=HOST:PORT | --agent=HOST:PORT [--credential=PATH] [--ssl_ca_file=PATH]';

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
  const { secure, address: bare } = splitScheme(text);
  let spec: MasterSpec | undefined;
  let agent: Address | undefined;
  if (flag === 'master') {
    spec = parseMasterSpec(bare, '--master');
  } else {
    agent = parseAddress(bare);
    if (!agent) throw new FlagError(`invalid value for --${flag}: ${show(text)} (${show(bare)} is not HOST:PORT; expected HOST:PORT or https://HOST:PORT)`);
  }
  const trust = readTrust(flags);
  // The operator's secret is for masters: an agent's /state asks for none.
  const options: CallOptions = flag === 'master' ? trust : { ...(trust.ca !== undefined && { ca: trust.ca }) };
  const endpoint = (address: Endpoint): Endpoint => (secure ? { ...address, secure } : address);
  const candidates: Endpoint[] = (spec ? await masterCandidates(spec) : [agent!]).map(endpoint);

  let where = `${flag} at ${text}`;
  let response: { status: number; body: string } | undefined;
  const failures: string[] = [];
  for (let i = 0; i < candidates.length && !response; i++) {
    const address = candidates[i]!;
    try {
      const answer = await call(address, '/state', {}, options);
      // A standby names the leader: its /state is the one wanted.
      const leader = flag === 'master' && answer.status === 200 ? standbyLeader(answer.body) : undefined;
      // A TLS leader is named https://HOST:PORT (issue 14).
      const leaderAddress = leader === undefined ? undefined : leaderEndpoint(leader);
      if (leaderAddress && formatAddress(leaderAddress) !== formatAddress(address) && i < 8) {
        candidates.splice(i + 1, 0, endpoint(leaderAddress));
        continue;
      }
      response = answer;
      where = `${flag} at ${formatEndpoint(address)}`;
    } catch (error) {
      failures.push(`${formatEndpoint(address)}: ${(error as Error).message}`);
    }
  }
  if (!response) {
    process.stderr.write(`lifeline state: cannot reach ${where}: ${failures.join('; ') || 'no leader known'}\n`);
    return 1;
  }
  const refused = flag === 'master' ? refusal(response.status, where, options.credential) : undefined;
  if (refused) {
    process.stderr.write(`lifeline state: ${refused.message}\n`);
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
async function masterCandidates(spec: MasterSpec): Promise<Endpoint[]> {
  if (spec.kind === 'hosts') return [...spec.hosts];
  const client = await etcdClient(spec.endpoints);
  try {
    const leader = await readLeader(client, spec.prefix);
    const address = leader && leaderEndpoint(leader.address);
    if (!address) throw new Error('no master leads right now');
    return [address];
  } catch (error) {
    process.stderr.write(`lifeline state: cannot find the leader in ${formatMasterSpec(spec)}: ${(error as Error).message}\n`);
    return [];
  } finally {
    client.close();
  }
}

/** A leader as etcd or a standby names it: HOST:PORT, or https://HOST:PORT for a master that serves TLS. */
function leaderEndpoint(text: string): Endpoint | undefined {
  const { secure, address } = splitScheme(text);
  const parsed = parseAddress(address);
  return parsed && (secure ? { ...parsed, secure } : parsed);
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
