// `npm run bench`: every scripts/bench-* in turn, each in its own process so that one bench's
// heap and file handles do not colour the next, then the DESIGN §10 bars checked against the
// JSON lines they printed. Exits 1 when a bench fails or a bar is missed.
//
//   npm run bench                       all of them, full size
//   npm run bench -- --quick            smaller sizes, for a smoke run
//   npm run bench -- --only=updates,shim
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseScriptFlags, runScript, ScriptFlagError } from '../harness/lib/args.js';
import { parseBarLines, printTable, type Bar, type BarLine } from '../harness/lib/report.js';

const BENCHES = ['updates', 'reconnect', 'recovery', 'shim', 'launch', 'failover'] as const;

/** DESIGN §10, as checks on the printed lines. */
export const BARS: readonly Bar[] = [
  { bench: 'updates', n: 100, metric: 'durable-updates', rule: 'ratio ≥ 10 (group commit vs one fdatasync per update)', met: (l) => l.ratio >= 10 },
  { bench: 'reconnect', n: 200, metric: 'resubscribe-max', rule: 'value ≤ 250 ms', met: (l) => l.value <= 250 },
  { bench: 'recovery', n: 1000, metric: 'listening', rule: 'value < 1000 ms', met: (l) => l.value < 1000 },
  { bench: 'shim-rss', n: 1, metric: 'peak-rss', rule: 'ratio ≤ 1.35 (vs bare node -e 0)', met: (l) => l.ratio <= 1.35 },
  { bench: 'shim-start', n: 1, metric: 'time-to-running', rule: 'ratio ≤ 1.5 (vs bare node start-up)', met: (l) => l.ratio <= 1.5 },
  { bench: 'shim-private', n: 50, metric: 'private', rule: 'value ≤ 12 MiB per shim', met: (l) => l.value <= 12 },
];

function runBench(name: string, args: string[]): Promise<{ code: number; lines: BarLine[] }> {
  const file = fileURLToPath(new URL(`./bench-${name}.js`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), lines: parseBarLines(stdout) }));
  });
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('bench', { only: BENCHES.join(','), quick: false });
  const only = flags.only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of only) {
    if (!(BENCHES as readonly string[]).includes(name)) throw new ScriptFlagError(`bench: unknown bench ${JSON.stringify(name)} in --only (known: ${BENCHES.join(', ')})`);
  }
  const lines: BarLine[] = [];
  const failed: string[] = [];
  for (const name of only) {
    process.stdout.write(`\n=== bench-${name} ===\n`);
    const result = await runBench(name, flags.quick ? ['--quick'] : []);
    if (result.code !== 0) failed.push(`bench-${name} exited ${result.code}`);
    lines.push(...result.lines);
  }
  const rows = BARS.filter((bar) => only.includes(bar.bench.startsWith('shim') ? 'shim' : bar.bench)).map((bar) => {
    const line = lines.find((l) => l.bench === bar.bench && l.n === bar.n && l.metric === bar.metric);
    if (!line) failed.push(`no ${bar.bench} ${bar.metric} line at n=${bar.n}`);
    else if (!bar.met(line)) failed.push(`${bar.bench} ${bar.metric} at n=${bar.n} missed: ${bar.rule}`);
    return [bar.bench, String(bar.n), bar.metric, line ? `${line.value} ${line.unit}` : '-', line ? String(line.baseline) : '-', line ? String(line.ratio) : '-', bar.rule, line ? (bar.met(line) ? 'met' : 'MISSED') : 'NO DATA'];
  });
  printTable('DESIGN §10 bars', ['bench', 'n', 'metric', 'value', 'baseline', 'ratio', 'bar', 'verdict'], rows);
  for (const failure of failed) process.stdout.write(`FAIL ${failure}\n`);
  return failed.length === 0 ? 0 : 1;
}

runScript(main);
