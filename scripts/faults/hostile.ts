// Entry point of the "hostile" fault run (its logic, run() and printReport(), is harness/faults/hostile.ts;
// docs/reliability.md): node dist/scripts/faults/hostile.js [--seed=N] [--frames=3000] [--flood=300] [--concurrency=8]
import { isMain, parseScriptFlags, runScript } from '../../harness/lib/args.js';
import { printReport, run } from '../../harness/faults/hostile.js';

async function main(): Promise<number> {
  const flags = parseScriptFlags('faults/hostile', { seed: Date.now() % 1_000_000, frames: 3000, flood: 300, concurrency: 8 });
  process.stdout.write(`faults/hostile: seed ${flags.seed} (repeat with --seed=${flags.seed})\n`);
  const result = await run({ seed: flags.seed, frames: flags.frames, flood: flags.flood, concurrency: flags.concurrency, log: (line) => process.stderr.write(`${line}\n`) });
  printReport(result);
  return result.violations.length === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(main);
