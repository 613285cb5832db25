// Entry point of the soak (its logic, run() and printReport(), is harness/faults/soak.ts;
// docs/reliability.md): node dist/scripts/faults/soak.js [--duration=30m] [--executors=50] [--kill_every=1m] [--tick=200ms]
import { isMain, parseScriptFlags, runScript, ScriptFlagError } from '../../harness/lib/args.js';
import { printReport, run } from '../../harness/faults/soak.js';
import { parseDuration } from '../../src/protocol/duration.js';

function duration(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new ScriptFlagError(`soak: --${flag} must be a duration such as 30m or 90secs, got ${JSON.stringify(text)}`);
  }
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('soak', { duration: '30m', executors: 50, kill_every: '1m', tick: '200ms', warmup: 2, verbose: true });
  const durationMs = duration('duration', flags.duration);
  process.stdout.write(`soak: ${flags.executors} executors for ${flags.duration}, the agent kill -9ed every ${flags.kill_every}\n`);
  const result = await run({
    durationMs,
    executors: flags.executors,
    killEveryMs: duration('kill_every', flags.kill_every),
    tickMs: duration('tick', flags.tick),
    warmupSamples: flags.warmup,
    ...(flags.verbose ? { log: (line: string) => process.stdout.write(`${line}\n`) } : {}),
  });
  printReport(result);
  return result.violations.length === 0 ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(main);
