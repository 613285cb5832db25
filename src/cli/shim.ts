// `lifeline shim`: the command executor. The agent launches it for a command task (executor ID =
// task ID) with the environment of DESIGN §2; it is not meant to be run by hand.
//
// One shim runs per task, so its footprint is every node's per-task cost (DESIGN §10). Nothing in
// it is hot enough to pay back V8's optimizing compiler: left on, TurboFan optimizes two path
// helpers of the module loader during start-up, which pages in about 4 MB of compiler code (RSS)
// and spends a background thread on it. So the shim turns it off for itself (the baseline
// compiler still runs), before it loads the executor's modules — hence the dynamic import. When
// main.js loads the shim from its one-file bundle (scripts/bundle-shim.mjs) it sets the flag itself
// first, since that file holds the executor's code too.
import v8 from 'node:v8';
import { helpText, parseFlags, type FlagSpec } from './flags.js';

const FLAGS: Record<string, FlagSpec> = {};

/** After the shim is done, the process must end even if something forgot to let go of it. */
const EXIT_FALLBACK_MS = 1_000;

export async function main(argv: string[]): Promise<number> {
  // A stray argument is refused by parseFlags (exit 2, naming it).
  const { help } = parseFlags('shim', FLAGS, argv);
  if (help) {
    process.stdout.write(
      helpText('shim', '(no arguments; configured by the LIFELINE_* environment the agent sets)', FLAGS),
    );
    return 0;
  }
  v8.setFlagsFromString('--no-opt');
  const { runCommandShim } = await import('../executor/command-shim.js');
  const code = await runCommandShim();
  setTimeout(() => process.exit(code), EXIT_FALLBACK_MS).unref();
  return code;
}
