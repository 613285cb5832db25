// Flags of the scripts (`--rounds=50 --seed=7`): typed by their defaults, unknown or malformed
// flags are an error that names the flag and the value (exit 2), as for the CLI.

export type ScriptFlags = Record<string, number | string | boolean>;

export class ScriptFlagError extends Error {
  readonly code = 'ERR_FLAG';
}

/** Parses `--name=value` (or `--name` for booleans) into a copy of `defaults`, typed like them. */
export function parseScriptFlags<T extends ScriptFlags>(script: string, defaults: T, argv: readonly string[] = process.argv.slice(2)): T {
  const flags: ScriptFlags = { ...defaults };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      const rows = Object.entries(defaults).map(([name, value]) => `  --${name}=${String(value)}`);
      process.stdout.write(`Usage: ${script} [flags]\n\nFlags (with their defaults):\n${rows.join('\n')}\n`);
      process.exit(0);
    }
    const match = /^--([a-z][a-z0-9_-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ScriptFlagError(`${script}: unexpected argument ${JSON.stringify(arg)} (flags are --name=value)`);
    const name = match[1]!.replaceAll('-', '_');
    const raw = match[2];
    if (!(name in defaults)) throw new ScriptFlagError(`${script}: unknown flag --${match[1]} (known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')})`);
    const fallback = defaults[name];
    if (typeof fallback === 'boolean') {
      if (raw === undefined || raw === 'true') flags[name] = true;
      else if (raw === 'false') flags[name] = false;
      else throw new ScriptFlagError(`${script}: --${name} must be true or false, got ${JSON.stringify(raw)}`);
    } else if (typeof fallback === 'number') {
      const value = Number(raw);
      if (raw === undefined || raw.trim() === '' || !Number.isFinite(value)) throw new ScriptFlagError(`${script}: --${name} must be a number, got ${JSON.stringify(raw ?? '')}`);
      flags[name] = value;
    } else {
      if (raw === undefined) throw new ScriptFlagError(`${script}: --${name} needs a value (--${name}=…)`);
      flags[name] = raw;
    }
  }
  return flags as T;
}

/** Runs a script's main: a flag error exits 2 with one line, anything else exits 1 with its stack. */
export function runScript(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof ScriptFlagError) {
        process.stderr.write(`${error.message}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
        process.exitCode = 1;
      }
    },
  );
}

/** True when the module at `url` is the script node was started with (not imported by a test). */
export function isMain(url: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && new URL(url).pathname === entry;
}
