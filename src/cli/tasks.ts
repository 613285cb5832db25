// `lifeline tasks`: every task the master knows, as a table (like `kubectl get pods`) or JSON, so
// an operator finds a task's ID, state, agent and sandbox without reading /state by hand.
import { FlagError, show } from '../protocol/index.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { ago, allTasks, ApiError, fetchMasterState, parseHostPort, readTrust, table, TRUST_SPECS } from './master-api.js';

const SPECS = {
  master: { type: 'string', help: 'the master, HOST:PORT or https://HOST:PORT', required: true },
  json: { type: 'boolean', help: 'print a JSON array instead of a table', default: 'false' },
  ...TRUST_SPECS,
} satisfies Record<string, FlagSpec>;

const USAGE = '--master=HOST:PORT [--json] [--credential=PATH] [--ssl_ca_file=PATH]';

export async function main(argv: string[]): Promise<number> {
  const { flags, help, positional } = parseFlags('tasks', SPECS, argv);
  if (positional.length > 0) throw new FlagError(`lifeline tasks takes no arguments, got ${positional.map((arg) => show(arg)).join(' ')}`);
  if (help) {
    process.stdout.write(helpText('tasks', USAGE, SPECS));
    return 0;
  }
  const master = parseHostPort('master', flags.master);
  const trust = readTrust(flags);
  try {
    const state = await fetchMasterState(master, flags.master, trust);
    const rows = allTasks(state).map(({ task, framework }) => ({
      id: task.id,
      state: task.state,
      name: task.name ?? '',
      frameworkId: framework.id,
      frameworkName: framework.name,
      agentId: task.agentId,
      executorId: task.executorId,
      sandbox: task.sandbox ?? null,
      updated: task.statuses?.at(-1)?.timestamp ?? null,
    }));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      process.stdout.write(`no tasks on the master at ${flags.master}\n`);
      return 0;
    }
    const now = Date.now();
    process.stdout.write(
      table([
        ['ID', 'STATE', 'NAME', 'FRAMEWORK', 'AGENT', 'UPDATED'],
        ...rows.map((row) => [row.id, row.state, row.name || '-', row.frameworkId, row.agentId, ago(row.updated, now)]),
      ]),
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    process.stderr.write(`lifeline tasks: ${error.message}\n`);
    return 1;
  }
}
