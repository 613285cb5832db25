// `lifeline kill TASK_ID`: an operator's kill, sent to the master (POST /api/v1/tasks/<id>/kill),
// which asks the task's agent to kill it (or does so when the agent is back, if it is away). The
// task's framework then sees TASK_KILLED as if it had killed the task itself.
import { FlagError, isValidId, show } from '../protocol/index.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { ApiError, parseAnswer, parseHostPort, readTrust, request, takeOperand, TRUST_SPECS } from './master-api.js';

const SPECS = {
  master: { type: 'string', help: 'the master, HOST:PORT or https://HOST:PORT', required: true },
  framework: { type: 'string', help: 'the framework ID, when two frameworks use the same task ID' },
  json: { type: 'boolean', help: 'print the master\'s answer as JSON', default: 'false' },
  ...TRUST_SPECS,
} satisfies Record<string, FlagSpec>;

const USAGE = 'TASK_ID --master=HOST:PORT [--framework=ID] [--json] [--credential=PATH] [--ssl_ca_file=PATH]';

export async function main(argv: string[]): Promise<number> {
  const { operand: taskId, rest } = takeOperand(argv, SPECS, 'TASK_ID', 'kill');
  const { flags, help } = parseFlags('kill', SPECS, rest);
  if (help) {
    process.stdout.write(helpText('kill', USAGE, SPECS));
    return 0;
  }
  if (taskId === undefined) throw new FlagError('lifeline kill needs a TASK_ID (see lifeline tasks)');
  if (!isValidId(taskId)) throw new FlagError(`invalid TASK_ID ${show(taskId)} (task IDs match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$)`);
  const master = parseHostPort('master', flags.master);
  const trust = readTrust(flags);
  const query = flags.framework !== undefined ? `?framework_id=${encodeURIComponent(flags.framework)}` : '';
  try {
    const response = await request(master, `/api/v1/tasks/${encodeURIComponent(taskId)}/kill${query}`, { method: 'POST', body: '{}', where: `master at ${flags.master}` }, trust);
    const answer = parseAnswer<{ taskId: string; frameworkId: string; agentId: string; state: string; sent: boolean }>(response, `master at ${flags.master}`);
    if (flags.json) process.stdout.write(`${JSON.stringify(answer)}\n`);
    else if (answer.sent) process.stdout.write(`kill of task ${answer.taskId} (framework ${answer.frameworkId}) sent to agent ${answer.agentId}; it was ${answer.state}\n`);
    else process.stdout.write(`agent ${answer.agentId} is away: task ${answer.taskId} will be killed when it re-registers\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    process.stderr.write(`lifeline kill: ${error.message}\n`);
    return 1;
  }
}
