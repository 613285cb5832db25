// Entry point of the "security" fault run (its logic, run() and printReport(), is harness/faults/security.ts;
// docs/reliability.md): node dist/scripts/faults/security.js [--seed=N]
import { isMain, parseScriptFlags, runScript } from '../../harness/lib/args.js';
import { printReport, run } from '../../harness/faults/security.js';

async function main(): Promise<number> {
  const flags = parseScriptFlags('faults/security', { seed: Date.now() % 1_000_000 });
  process.stdout.write(`faults/security: seed ${flags.seed} (repeat with --seed=${flags.seed})\n`);
  const result = await run({ seed: flags.seed, log: (line) => process.stderr.write(`${line}\n`) });
  printReport(result);
  return result.violations.length === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(main);
