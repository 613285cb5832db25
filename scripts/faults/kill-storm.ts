// Entry point of the "kill-storm" fault run (its logic, run() and printReport(), is harness/faults/kill-storm.ts;
// docs/reliability.md): node dist/scripts/faults/kill-storm.js [--seed=N] [--rounds=200] [--concurrency=12] [--quick] [--verbose]
import { isMain, parseScriptFlags, runScript } from '../../harness/lib/args.js';
import { printReport, run } from '../../harness/faults/kill-storm.js';

async function main(): Promise<number> {
  const flags = parseScriptFlags('kill-storm', { seed: Date.now() % 1_000_000, rounds: 200, concurrency: 12, quick: false, verbose: false });
  const rounds = flags.quick ? 10 : flags.rounds;
  process.stdout.write(`kill-storm: seed ${flags.seed}, ${rounds} agent kills (repeat with --seed=${flags.seed} --rounds=${rounds})\n`);
  const result = await run({ seed: flags.seed, rounds, concurrency: flags.concurrency, ...(flags.verbose ? { log: (line: string) => process.stdout.write(`${line}\n`) } : {}) });
  printReport(result);
  return result.violations.length === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(main);
