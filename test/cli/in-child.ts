// Runs a command module's main(argv) for many argvs in one child node process (one start-up instead
// of one per case), each outcome reported as a JSON line: what main() returned, or what it threw
// (its class, whether it is the FlagError that main.js turns into exit 2 and one line). For the
// refusals that come before a command starts anything: should one regress, main() starts its
// server, the child is killed at the deadline, and the lines so far say which case hung.
import { fileURLToPath } from 'node:url';
import { Proc } from '../helpers.js';
import { cleanEnv } from './stand-in.js';

export interface MainCase {
  argv: string[];
  /** Variables set for this case only. */
  env?: Record<string, string>;
}

export interface MainOutcome {
  code?: number;
  error?: { name: string; flagError: boolean; code?: string; message: string };
}

/** The compiled protocol/errors.js next to this compiled file: FlagError as main.js sees it. */
const ERRORS = new URL('../../src/protocol/errors.js', import.meta.url).href;

const RUNNER = `
const [moduleUrl, errorsUrl, casesJson] = process.argv.slice(1);
const { main } = await import(moduleUrl);
const { FlagError } = await import(errorsUrl);
for (const { argv, env = {} } of JSON.parse(casesJson)) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let outcome;
  try {
    outcome = { code: await main(argv) };
  } catch (error) {
    outcome = { error: { name: error?.constructor?.name, flagError: error instanceof FlagError, code: error?.code, message: String(error?.message) } };
  }
  for (const name of Object.keys(env)) if (saved[name] === undefined) delete process.env[name]; else process.env[name] = saved[name];
  process.stdout.write(JSON.stringify(outcome) + '\\n');
}
process.exit(0);
`;

/** `module`: the compiled command module (a file: URL). Rejects when the child hangs or fails. */
export async function runMains(module: URL, cases: readonly MainCase[], timeoutMs = 30_000): Promise<MainOutcome[]> {
  const proc = new Proc(process.execPath, ['--input-type=module', '-e', RUNNER, module.href, ERRORS, JSON.stringify(cases)], { env: cleanEnv() });
  try {
    const exit = await proc.waitForExit(timeoutMs);
    if (exit.code !== 0) throw new Error(`the child running ${fileURLToPath(module)} exited ${JSON.stringify(exit)}\n${proc.stderr}`);
  } catch (error) {
    const done = proc.stdout.split('\n').filter(Boolean).length;
    throw new Error(`${(error as Error).message}\n(after ${done} of ${cases.length} cases; the next was ${JSON.stringify(cases[done])})`);
  } finally {
    await proc.stop();
  }
  return proc.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as MainOutcome);
}
