// `lifeline shim`: the command executor. The agent launches it for a command task (executor ID =
// task ID) with the environment of DESIGN §2; it is not meant to be run by hand.
import { FlagError } from '../protocol/index.js';
import { runCommandShim } from '../executor/command-shim.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';

const FLAGS: Record<string, FlagSpec> = {};

/** After the shim is done, the process must end even if something forgot to let go of it. */
const EXIT_FALLBACK_MS = 1_000;

export async function main(argv: string[]): Promise<number> {
  const { help, positional } = parseFlags('shim', FLAGS, argv);
  if (help) {
    process.stdout.write(
      helpText('shim', '(no arguments; configured by the LIFELINE_* environment the agent sets)', FLAGS),
    );
    return 0;
  }
  if (positional.length > 0) throw new FlagError(`lifeline shim takes no arguments, got ${JSON.stringify(positional[0])}`);
  const code = await runCommandShim();
  setTimeout(() => process.exit(code), EXIT_FALLBACK_MS).unref();
  return code;
}
