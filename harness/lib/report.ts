// How every benchmark reports: a readable table, then one JSON line per quality bar in the exact
// shape issue 5 asks for, `{"bench","n","metric","value","unit","baseline","ratio"}`, in that key
// order, so that a runner (or a person with `grep '^{"bench"'`) can compare runs.

export type BenchName = 'updates' | 'reconnect' | 'recovery' | 'shim-rss' | 'shim-start' | 'shim-private' | 'launch' | 'failover' | 'registry-restart';
export type Unit = 'ops/s' | 'ms' | 'MiB';

export interface BarLine {
  bench: BenchName;
  /** The executor count the bar is about. */
  n: number;
  metric: string;
  value: number;
  unit: Unit;
  baseline: number;
  /** value / baseline. */
  ratio: number;
}

/** Rounds for printing: 3 significant decimals is more than the noise allows. */
export function round(value: number, decimals = 3): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** Builds a bar line; `ratio` is always value / baseline, computed here and nowhere else. */
export function barLine(bench: BenchName, n: number, metric: string, value: number, unit: Unit, baseline: number): BarLine {
  for (const [name, x] of [['value', value], ['baseline', baseline], ['n', n]] as const) {
    if (!Number.isFinite(x)) throw new TypeError(`barLine(${bench}, ${metric}): ${name} must be a finite number, got ${x}`);
  }
  return { bench, n, metric, value: round(value), unit, baseline: round(baseline), ratio: round(baseline === 0 ? Number.NaN : value / baseline) };
}

/** Prints the bar as one JSON line on stdout (key order as in the issue). */
export function printBar(line: BarLine): void {
  const { bench, n, metric, value, unit, baseline, ratio } = line;
  process.stdout.write(`${JSON.stringify({ bench, n, metric, value, unit, baseline, ratio })}\n`);
}

/** The DESIGN §10 bars, checked against printed lines by the `npm run bench` runner. */
export interface Bar {
  bench: BenchName;
  n: number;
  metric: string;
  /** Human form, e.g. "ratio ≥ 10". */
  rule: string;
  met(line: BarLine): boolean;
}

/** Parses the bar lines out of a bench's stdout (every line starting with `{"bench"`). */
export function parseBarLines(stdout: string): BarLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{"bench"'))
    .map((line) => JSON.parse(line) as BarLine);
}

/** A plain text table: a title, a header row and rows, columns padded to their widest cell. */
export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
  const cells = [header, ...rows].map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(cells[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of cells.slice(1)) process.stdout.write(`${line(row)}\n`);
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}
