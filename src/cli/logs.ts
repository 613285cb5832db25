// `lifeline logs TASK_ID`: a task's stdout (or stderr) from its sandbox, like `nomad alloc logs` or
// `mesos-tail`: the master says which agent runs the task and where its sandbox is, the agent's
// /files/read serves the bytes. --follow keeps reading (across an agent restart) until the task
// has ended and its output is read to the end. The operator's --credential goes to the master only:
// the agent's /files asks for none, and is read as the master names it (HOST:PORT, plain HTTP).
import { FlagError, isTerminal, isValidId, show } from '../protocol/index.js';
import { parseAddress, type Address } from '../scheduler/address.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { ApiError, fetchMasterState, findTask, getJson, parseHostPort, readTrust, takeOperand, TRUST_SPECS, type CallOptions, type Endpoint, type FoundTask } from './master-api.js';

const SPECS = {
  master: { type: 'string', help: 'the master, HOST:PORT or https://HOST:PORT', required: true },
  stderr: { type: 'boolean', help: 'print the task\'s stderr instead of its stdout', default: 'false' },
  follow: { type: 'boolean', help: 'keep printing new output until the task has ended', default: 'false' },
  framework: { type: 'string', help: 'the framework ID, when two frameworks use the same task ID' },
  ...TRUST_SPECS,
} satisfies Record<string, FlagSpec>;

const USAGE = 'TASK_ID --master=HOST:PORT [--stderr] [--follow] [--framework=ID] [--credential=PATH] [--ssl_ca_file=PATH]';
/** How often --follow reads again when there was nothing new. */
const POLL_MS = 500;
/** How often --follow asks the master whether the task has ended. */
const STATE_EVERY_MS = 2_000;
const CHUNK = 256 * 1024;

export async function main(argv: string[]): Promise<number> {
  const { operand: taskId, rest } = takeOperand(argv, SPECS, 'TASK_ID', 'logs');
  const { flags, help } = parseFlags('logs', SPECS, rest);
  if (help) {
    process.stdout.write(helpText('logs', USAGE, SPECS));
    return 0;
  }
  if (taskId === undefined) throw new FlagError('lifeline logs needs a TASK_ID (see lifeline tasks)');
  if (!isValidId(taskId)) throw new FlagError(`invalid TASK_ID ${show(taskId)} (task IDs match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$)`);
  const master = parseHostPort('master', flags.master);
  const trust = readTrust(flags);
  const file = flags.stderr ? 'stderr' : 'stdout';
  let stop = false;
  const onSignal = () => (stop = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let found = await locate(master, flags.master, taskId, flags.framework, trust);
    let agent = agentOf(found, flags.master);
    const filePath = `${found.sandbox}/${file}`;
    let offset = 0;
    let lastState = Date.now();
    let warned = false;
    for (;;) {
      let bytes = 0;
      try {
        const query = `path=${encodeURIComponent(filePath)}&offset=${offset}&length=${CHUNK}`;
        const answer = await getJson<{ data: string; offset: number; bytes?: number }>(agent.address, `/files/read?${query}`, `agent at ${agent.text}`);
        bytes = answer.bytes ?? Buffer.byteLength(answer.data);
        if (bytes > 0) process.stdout.write(answer.data);
        offset += bytes;
        warned = false;
      } catch (error) {
        if (!(error instanceof ApiError) || !flags.follow) throw error;
        // The agent is restarting: its task keeps running, and so does the read.
        if (!warned) process.stderr.write(`lifeline logs: ${error.message}; retrying\n`);
        warned = true;
      }
      if (bytes === CHUNK) continue;
      if (!flags.follow || stop) return 0;
      if (bytes === 0 && offset > 0) {
        // The agent rotates a large file by copying it aside and truncating it: start it over.
        const size = await getJson<{ offset: number }>(agent.address, `/files/read?path=${encodeURIComponent(filePath)}&offset=-1`, `agent at ${agent.text}`).then(
          (answer) => answer.offset,
          () => offset,
        );
        if (size < offset) {
          process.stderr.write(`lifeline logs: ${file} was rotated (cut to ${size} bytes); reading it from the start\n`);
          offset = 0;
          continue;
        }
      }
      if (Date.now() - lastState >= STATE_EVERY_MS) {
        lastState = Date.now();
        const ended = await locate(master, flags.master, taskId, flags.framework, trust).then(
          (again) => {
            found = again;
            // A restarted agent may listen elsewhere now.
            if (again.agentAddress !== agent.text) agent = agentOf(again, flags.master);
            return isTerminal(again.found.task.state);
          },
          () => false,
        );
        // Ended: one more read takes what it wrote last, then stop.
        if (ended && bytes === 0) return 0;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    process.stderr.write(`lifeline logs: ${error.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface Located {
  found: FoundTask;
  sandbox: string;
  agentAddress: string;
}

async function locate(master: Endpoint, masterText: string, taskId: string, frameworkId: string | undefined, trust: CallOptions): Promise<Located> {
  const state = await fetchMasterState(master, masterText, trust);
  const found = findTask(state, taskId, frameworkId);
  const sandbox = found.task.sandbox;
  if (!sandbox) throw new ApiError(`the master does not know the sandbox of task ${taskId} yet (it is ${found.task.state}; its agent reports it with the task's first update)`);
  const agent = state.agents.find((entry) => entry.id === found.task.agentId);
  if (!agent) throw new ApiError(`task ${taskId} ran on agent ${found.task.agentId}, which the master no longer knows`);
  if (!agent.address) throw new ApiError(`agent ${agent.id} did not tell the master its HTTP address (an older agent?)`);
  return { found, sandbox, agentAddress: agent.address };
}

function agentOf(located: Located, masterText: string): { address: Address; text: string } {
  const address = parseAddress(located.agentAddress);
  if (!address) throw new ApiError(`the master at ${masterText} gives agent ${located.found.task.agentId} the address ${show(located.agentAddress)}, which is not HOST:PORT`);
  return { address, text: located.agentAddress };
}
