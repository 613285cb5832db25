// Command-line flags with Mesos names (`--work_dir`), kebab-case aliases (`--work-dir`) and
// environment variables (`LIFELINE_AGENT_WORK_DIR`). Precedence: command line, then environment,
// then default. A bad flag is a FlagError whose one-line message names the flag and the value.
import { parseBytes } from '../protocol/bytes.js';
import { formatDuration, parseDuration } from '../protocol/duration.js';
import { FlagError, show } from '../protocol/errors.js';

type Kind = 'string' | 'boolean' | 'duration' | 'integer' | 'number' | 'bytes';

export interface FlagSpec {
  readonly type: Kind;
  readonly help: string;
  /** Default as written on the command line (`'15mins'`, `'true'`); absent: the flag is optional. */
  readonly default?: string;
  readonly required?: boolean;
  /** Allowed values of a string flag. */
  readonly values?: readonly string[];
  /** Shown instead of the default in --help (a default computed at run time). */
  readonly defaultHelp?: string;
  /** The value's placeholder in --help (`HOST:PORT`, `PATH`); by default from the type (`DURATION`, `N`). */
  readonly placeholder?: string;
  /** The heading the flag is listed under in --help (flags without one come first). */
  readonly group?: string;
  /** Left out of --help (benchmark-only flags); still accepted. */
  readonly hidden?: boolean;
}

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['type'] extends 'string'
    ? string
    : number;

export type Flags<T extends Record<string, FlagSpec>> = {
  [K in keyof T]: T[K] extends { default: string } | { required: true } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export interface Parsed<T extends Record<string, FlagSpec>> {
  flags: Flags<T>;
  help: boolean;
  /** Always empty: a stray argument is refused (a command taking an operand removes it first). */
  positional: string[];
  /** Where each flag given (command line or environment) came from, and its text as written. */
  sources: Partial<Record<keyof T, FlagSource>>;
}

export interface FlagSource {
  /** `--work_dir` or `LIFELINE_AGENT_WORK_DIR`. */
  readonly from: string;
  readonly text: string;
}

/** Parses argv (without the subcommand) and the environment against the specs. */
export function parseFlags<T extends Record<string, FlagSpec>>(
  subcommand: string,
  specs: T,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Parsed<T> {
  const raw = new Map<string, string>();
  const positional: string[] = [];
  /** The boolean flag given without `=` just before each positional argument, for the hint. */
  const after = new Map<number, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      const previous = argv[i - 1];
      if (previous?.startsWith('--') && !previous.includes('=')) after.set(positional.length, previous);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = normalise(eq === -1 ? arg.slice(2) : arg.slice(2, eq));
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let spec = specs[name];
    if (!spec && value === undefined && name.startsWith('no_') && specs[name.slice(3)]?.type === 'boolean') {
      name = name.slice(3);
      spec = specs[name];
      value = 'false';
    }
    if (!spec) throw new FlagError(`unknown flag --${name} for lifeline ${subcommand} (see lifeline ${subcommand} --help)`);
    if (value === undefined) {
      if (spec.type === 'boolean') value = 'true';
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i]!;
      else throw new FlagError(`flag --${name} needs a value`);
    }
    raw.set(name, value);
  }
  if (positional.length > 0 && !help) throw strayArguments(subcommand, positional, after);
  const sources: Record<string, FlagSource> = {};
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const envName = `LIFELINE_${subcommand.toUpperCase()}_${name.toUpperCase()}`;
    let text = raw.get(name);
    let from = `--${name}`;
    if (text === undefined && env[envName] !== undefined) {
      text = env[envName];
      from = envName;
    }
    if (text !== undefined) sources[name] = { from, text };
    if (text === undefined) text = spec.default;
    if (text === undefined) {
      if (spec.required && !help) throw new FlagError(`flag --${name} is required for lifeline ${subcommand}`);
      flags[name] = undefined;
      continue;
    }
    flags[name] = convert(from, spec, text);
  }
  return { flags: flags as Flags<T>, help, positional: [], sources: sources as Parsed<T>['sources'] };
}

/**
 * Every subcommand refuses stray arguments (Mesos's flags have no operands): `lifeline run
 * --checkpoint false` would otherwise run a checkpointing framework. A `true`/`false` right after
 * a boolean flag gets the hint to write it with `=`.
 */
function strayArguments(subcommand: string, positional: readonly string[], after: ReadonlyMap<number, string>): FlagError {
  const list = positional.map((arg) => show(arg)).join(' ');
  const what = positional.length === 1 ? `unexpected argument ${list}` : `unexpected arguments ${list}`;
  const index = positional.findIndex((arg, i) => after.has(i) && /^(true|false|0|1)$/.test(arg));
  const hint = index === -1 ? '' : `; a boolean flag takes its value after =, as in ${after.get(index)}=${positional[index]}`;
  return new FlagError(`${what} for lifeline ${subcommand}${hint} (flags are --name=value; see lifeline ${subcommand} --help)`);
}

/** Placeholders that follow from a flag's name, the same in every subcommand. */
const PLACEHOLDER_OF_NAME: Record<string, string> = {
  master: 'HOST:PORT',
  agent: 'HOST:PORT',
  command: 'CMD',
  executor: 'CMD',
  resources: 'RESOURCES',
  name: 'NAME',
  registry: 'URL',
  recovery_agent_removal_limit: 'PERCENT',
  advertise_ip: 'IP',
  ip: 'IP',
  env: 'KEY=VALUE',
  user: 'USER',
  framework: 'ID',
  hostname: 'HOST',
};

/** The placeholder of a flag's value in --help: its own, else from its name, values or type. */
function placeholderOf(name: string, spec: FlagSpec): string {
  if (spec.placeholder) return spec.placeholder;
  if (spec.type === 'string' && PLACEHOLDER_OF_NAME[name]) return PLACEHOLDER_OF_NAME[name];
  if (spec.type === 'string' && (name.endsWith('_dir') || name.endsWith('_file') || name.startsWith('credential'))) return 'PATH';
  if (spec.values) return spec.values.join('|');
  switch (spec.type) {
    case 'duration':
      return 'DURATION';
    case 'integer':
      return 'N';
    case 'number':
      return 'NUMBER';
    case 'bytes':
      return 'SIZE';
    default:
      return 'VALUE';
  }
}

/** An option's camelCase name in a component's message, as the flag an operator wrote. */
function flagWords(text: string, flagOf: Readonly<Record<string, string>>): string {
  return text
    .replace(/\b([a-z]+(?:[A-Z][a-z0-9]*)+)\b/g, (word) => (flagOf[word] ? `--${flagOf[word]}` : word))
    .replace(/\ba number of milliseconds from (\d+) to (\d+)/g, (_, min: string, max: string) => `a duration from ${formatDuration(Number(min))} to ${formatDuration(Number(max))}`)
    .replace(/\ba number of milliseconds ([≥>]=?) (\d+)/g, (_, op: string, min: string) => `a duration ${op} ${formatDuration(Number(min))}`)
    .replace(/\ba number of milliseconds\b/g, 'a duration');
}

/**
 * A component's InvalidOptionError (`option agentPingTimeoutMs must be …, got 0`) as the CLI's
 * FlagError: the flag (or variable) as written, its value as written, and what is expected, with
 * no internal option name left in it. Undefined when the option does not come from a flag.
 */
export function optionFlagError(
  error: Error,
  flagOf: Readonly<Record<string, string>>,
  sources: Readonly<Partial<Record<string, FlagSource>>>,
): FlagError | undefined {
  const match = /^option (\w+) must be (.*), got (.*)$/s.exec(error.message);
  const option = match?.[1] ?? (error as { option?: string }).option;
  const flag = option === undefined ? undefined : flagOf[option];
  if (!match || !flag) return undefined;
  const source = sources[flag];
  const from = source?.from ?? `--${flag}`;
  const value = source ? show(source.text) : match[3]!;
  return new FlagError(`invalid value for ${from}: ${value} (expected ${flagWords(match[2]!, flagOf)})`, { cause: error });
}

function normalise(name: string): string {
  return name.replace(/-/g, '_');
}

function convert(from: string, spec: FlagSpec, text: string): string | number | boolean {
  const bad = (expected: string) => new FlagError(`invalid value for ${from}: ${show(text)} (expected ${expected})`);
  switch (spec.type) {
    case 'boolean':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw bad('true or false');
    case 'duration':
      try {
        return parseDuration(text);
      } catch {
        throw bad('a duration such as 500ms, 2secs, 15mins or 2s');
      }
    case 'bytes':
      try {
        return parseBytes(text);
      } catch {
        throw bad('a size such as 512KB, 10MB or 1GB');
      }
    case 'integer': {
      const n = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw bad('an integer');
      return n;
    }
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw bad('a number');
      return n;
    }
    case 'string':
      if (spec.values && !spec.values.includes(text)) throw bad(`one of ${spec.values.join(', ')}`);
      return text;
  }
}

/** The text of `lifeline <subcommand> --help`: usage, then every flag with its default. */
export function helpText(subcommand: string, usage: string, specs: Record<string, FlagSpec>): string {
  const lines = [`Usage: lifeline ${subcommand} ${usage}`, '', 'Flags (also --kebab-case, or LIFELINE_' + subcommand.toUpperCase() + '_<FLAG> in the environment):'];
  const groups = new Map<string, Array<[string, FlagSpec]>>();
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.hidden) continue;
    const group = spec.group ?? '';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push([name, spec]);
  }
  const ordered = [...groups].sort(([a], [b]) => Number(a !== '') - Number(b !== ''));
  for (const [group, entries] of ordered) {
    if (group !== '') lines.push('', `${group}:`);
    for (const [name, spec] of entries) {
      const shown = spec.defaultHelp ?? spec.default;
      const def = spec.required ? ' (required)' : shown !== undefined ? ` (default: ${shown})` : '';
      lines.push(`  --${name}${spec.type === 'boolean' ? '' : `=${placeholderOf(name, spec)}`}`);
      lines.push(`      ${spec.help}${def}`);
    }
  }
  return lines.join('\n') + '\n';
}
