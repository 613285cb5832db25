// `npm run faults`: the fault runs of issue 4 in turn (docs/reliability.md), each in its own
// process, with one seed for all so that a failing run can be repeated. Exits 1 when any run
// found a violation (each prints its own figures and what it found).
//
//   npm run faults                                   full runs, seed from the clock (printed)
//   npm run faults -- --seed=42 --rounds=300         repeat a run; more agent kills
//   npm run faults -- --only=corrupt,hostile --mutations=10000
//   npm run faults -- --soak=30m                     the soak alone (issue 13): 50 executors, agent kill -9 every minute
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseScriptFlags, runScript, ScriptFlagError } from '../harness/lib/args.js';
import { printTable } from '../harness/lib/report.js';

/** Each run and the runner flags it takes (0 = the run's own default). */
const RUNS = {
  'kill-storm': ['seed', 'rounds'],
  corrupt: ['seed', 'mutations'],
  hostile: ['seed', 'frames'],
  security: ['seed'],
  soak: ['duration'],
} as const;
type RunName = keyof typeof RUNS;

function runOne(name: RunName, args: string[]): Promise<{ code: number; ms: number }> {
  const file = fileURLToPath(new URL(`./faults/${name}.js`, import.meta.url));
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), ms: performance.now() - started }));
  });
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('faults', { only: Object.keys(RUNS).filter((name) => name !== 'soak').join(','), seed: Date.now() % 1_000_000, rounds: 0, mutations: 0, frames: 0, soak: '' });
  // --soak=DURATION runs the soak alone (it takes its length from the flag, not a seed).
  const only = (flags.soak ? 'soak' : flags.only).split(',').map((s) => s.trim()).filter(Boolean) as RunName[];
  const soakArgs = flags.soak ? [`--duration=${flags.soak}`] : [];
  for (const name of only) {
    if (!(name in RUNS)) throw new ScriptFlagError(`faults: unknown run ${JSON.stringify(name)} in --only (known: ${Object.keys(RUNS).join(', ')})`);
  }
  process.stdout.write(`faults: seed ${flags.seed} (repeat with --seed=${flags.seed})\n`);
  const rows: string[][] = [];
  let failures = 0;
  for (const name of only) {
    process.stdout.write(`\n=== faults/${name} ===\n`);
    const args = name === 'soak' ? soakArgs : RUNS[name].flatMap((flag) => (flag in flags && flags[flag as keyof typeof flags] ? [`--${flag}=${flags[flag as keyof typeof flags]}`] : []));
    const { code, ms } = await runOne(name, args);
    if (code !== 0) failures++;
    rows.push([name, `${(ms / 1000).toFixed(1)} s`, code === 0 ? 'pass' : `FAIL (exit ${code})`]);
  }
  printTable(`fault runs, seed ${flags.seed}`, ['run', 'wall time', 'result'], rows);
  return failures === 0 ? 0 : 1;
}

runScript(main);
