// Command-line flags with Mesos names (`--work_dir`), kebab-case aliases (`--work-dir`) and
// environment variables (`LIFELINE_AGENT_WORK_DIR`). Precedence: command line, then environment,
// then default. A bad flag is a FlagError whose one-line message names the flag and the value.
import { parseBytes } from '../protocol/bytes.js';
import { parseDuration } from '../protocol/duration.js';
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
  positional: string[];
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
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
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
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const envName = `LIFELINE_${subcommand.toUpperCase()}_${name.toUpperCase()}`;
    let text = raw.get(name);
    let from = `--${name}`;
    if (text === undefined && env[envName] !== undefined) {
      text = env[envName];
      from = envName;
    }
    if (text === undefined) text = spec.default;
    if (text === undefined) {
      if (spec.required && !help) throw new FlagError(`flag --${name} is required for lifeline ${subcommand}`);
      flags[name] = undefined;
      continue;
    }
    flags[name] = convert(from, spec, text);
  }
  return { flags: flags as Flags<T>, help, positional };
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
  for (const [name, spec] of Object.entries(specs)) {
    const shown = spec.defaultHelp ?? spec.default;
    const def = spec.required ? ' (required)' : shown !== undefined ? ` (default: ${shown})` : '';
    lines.push(`  --${name}${spec.type === 'boolean' ? '' : '=VALUE'}`);
    lines.push(`      ${spec.help}${def}`);
  }
  return lines.join('\n') + '\n';
}
