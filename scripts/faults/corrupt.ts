// Entry point of the "corrupt" fault run (its logic, run() and printReport(), is harness/faults/corrupt.ts;
// docs/reliability.md): node dist/scripts/faults/corrupt.js [--seed=N] [--mutations=3000] [--truncations=1500] [--cli_every=100]
import { isMain, parseScriptFlags, runScript } from '../../harness/lib/args.js';
import { printReport, run } from '../../harness/faults/corrupt.js';

async function main(): Promise<number> {
  const flags = parseScriptFlags('faults/corrupt', { seed: Date.now() % 1_000_000, mutations: 3000, truncations: 1500, cli_every: 100 });
  process.stdout.write(`faults/corrupt: seed ${flags.seed} (repeat with --seed=${flags.seed})\n`);
  const result = await run({
    seed: flags.seed,
    mutations: flags.mutations,
    truncations: flags.truncations,
    cliEvery: flags.cli_every,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  printReport(result);
  return result.violations.length === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(main);
