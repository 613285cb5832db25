// `lifeline agents`: the agents the master knows, as a table or JSON: status, address, version,
// when the master last heard from one, and how many live tasks it runs.
import { FlagError, isTerminal, show } from '../protocol/index.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { ago, allTasks, ApiError, fetchMasterState, parseHostPort, readTrust, table, TRUST_SPECS } from './master-api.js';

const SPECS = {
  master: { type: 'string', help: 'the master, HOST:PORT or https://HOST:PORT', required: true },
  json: { type: 'boolean', help: 'print a JSON array instead of a table', default: 'false' },
  ...TRUST_SPECS,
} satisfies Record<string, FlagSpec>;

const USAGE = '--master=HOST:PORT [--json] [--credential=PATH] [--ssl_ca_file=PATH]';

export async function main(argv: string[]): Promise<number> {
  const { flags, help, positional } = parseFlags('agents', SPECS, argv);
  if (positional.length > 0) throw new FlagError(`lifeline agents takes no arguments, got ${positional.map((arg) => show(arg)).join(' ')}`);
  if (help) {
    process.stdout.write(helpText('agents', USAGE, SPECS));
    return 0;
  }
  const master = parseHostPort('master', flags.master);
  const trust = readTrust(flags);
  try {
    const state = await fetchMasterState(master, flags.master, trust);
    const live = new Map<string, number>();
    for (const { task } of allTasks(state)) if (!isTerminal(task.state)) live.set(task.agentId, (live.get(task.agentId) ?? 0) + 1);
    const rows = state.agents.map((agent) => ({
      id: agent.id,
      hostname: agent.hostname,
      address: agent.address ?? null,
      status: agent.status,
      version: agent.release ?? null,
      lastSeen: agent.lastSeen ?? null,
      tasks: live.get(agent.id) ?? 0,
    }));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      process.stdout.write(`no agents on the master at ${flags.master}\n`);
      return 0;
    }
    const now = Date.now();
    process.stdout.write(
      table([
        ['ID', 'HOSTNAME', 'ADDRESS', 'STATUS', 'TASKS', 'LAST SEEN', 'VERSION'],
        ...rows.map((row) => [row.id, row.hostname, row.address ?? '-', row.status, String(row.tasks), ago(row.lastSeen, now), row.version ?? '-']),
      ]),
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    process.stderr.write(`lifeline agents: ${error.message}\n`);
    return 1;
  }
}
