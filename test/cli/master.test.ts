// `lifeline master` (cli/master.ts): parsePercent, the flag combinations main() refuses before a
// Master is made (each a FlagError of one line naming the flag, which main.js prints after
// `lifeline: ` with exit 2: all run in one child process, a few as the built CLI too), and a master
// that starts on --port=0 and stops on SIGTERM.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePercent } from '../../src/cli/master.js';
import { FlagError } from '../../src/protocol/index.js';
import { freePort, getJson, lifeline, removeDir, tempDir, waitFor, type Proc } from '../helpers.js';
import { runMains, type MainOutcome } from './in-child.js';
import { cleanEnv } from './stand-in.js';

/** The compiled cli/master.ts next to this compiled test. */
const MASTER = new URL('../../src/cli/master.js', import.meta.url);

const Percent = suite('cli/master parsePercent');

Percent('reads a percentage from 0% to 100% as a fraction', () => {
  assert.is(parsePercent('100%', 'limit'), 1);
  assert.is(parsePercent('50%', 'limit'), 0.5);
  assert.is(parsePercent('12.5%', 'limit'), 0.125);
  assert.is(parsePercent('0%', 'limit'), 0);
  assert.is(parsePercent('0.5%', 'limit'), 0.005);
  assert.is(parsePercent(' 25% ', 'limit'), 0.25);
});

Percent('reads a bare fraction from 0 to 1 as it is', () => {
  assert.is(parsePercent('0.5', 'limit'), 0.5);
  assert.is(parsePercent('0', 'limit'), 0);
  assert.is(parsePercent('1', 'limit'), 1);
  assert.is(parsePercent('1.0', 'limit'), 1);
});

Percent('refuses anything else with a FlagError naming the flag and echoing the value', () => {
  for (const bad of ['101%', '-1%', 'abc', '', '%', '1.5', '50', '-0.5', '50 %', '0x1', '1e-1', '100.1%']) {
    try {
      parsePercent(bad, 'recovery_agent_removal_limit');
      assert.unreachable(`${JSON.stringify(bad)} was accepted`);
    } catch (error) {
      assert.instance(error, FlagError, JSON.stringify(bad));
      assert.is(
        (error as FlagError).message,
        `invalid value for --recovery_agent_removal_limit: ${JSON.stringify(bad)} (expected a percentage from 0% to 100%)`,
      );
    }
  }
});

Percent.run();

// --- refusals -----------------------------------------------------------------------------------

/** Secret files the refusals name: private, readable by others, by the group; made in before(). */
const files = { dir: '', private: '', open: '', group: '' };

function credentials(name: string, mode: number): string {
  const file = path.join(files.dir, name);
  fs.writeFileSync(file, JSON.stringify({ credentials: [{ principal: 'ops', secret: 's3cret-not-shown' }] }));
  fs.chmodSync(file, mode);
  return file;
}

/** Each refusal: what is wrong, the flags (besides --port=0), and its message (printed after `lifeline: `). */
const REFUSALS: Array<[string, () => string[], RegExp]> = [
  ['--ssl_cert_file without --ssl_key_file', () => ['--ssl_cert_file=/nonexistent/cert.pem'], /^--ssl_cert_file and --ssl_key_file go together: give both \(HTTPS and WSS\) or neither$/],
  ['--ssl_require_cert without a certificate', () => ['--ssl_require_cert'], /^--ssl_require_cert needs --ssl_cert_file and --ssl_key_file /],
  ['--ssl_require_cert without --ssl_ca_file', () => ['--ssl_require_cert', '--ssl_cert_file=/nonexistent/c.pem', '--ssl_key_file=/nonexistent/k.pem'], /^--ssl_require_cert needs --ssl_ca_file /],
  ['--ssl_ca_file without --ssl_require_cert', () => ['--ssl_ca_file=/nonexistent/ca.pem'], /^--ssl_ca_file is only used with --ssl_require_cert: give both or neither$/],
  ['--credentials readable by others (0604)', () => [`--credentials=${files.open}`], /^--credentials=\S+open\.json is readable by others \(mode 0604\); a secret file must be private: chmod 600 \S+open\.json$/],
  ['--credentials readable by its group (0640)', () => [`--credentials=${files.group}`], /^--credentials=\S+group\.json is readable by its group \(mode 0640\)/],
  ['--authenticate_agents without --credentials', () => ['--authenticate_agents'], /^--authenticate_agents needs --credentials /],
  ['--authenticate_frameworks without --credentials', () => ['--authenticate_frameworks'], /^--authenticate_frameworks needs --credentials /],
  ['--operator_principals without --credentials', () => ['--operator_principals=ops'], /^--operator_principals needs --credentials /],
  [
    '--operator_principals naming a principal --credentials lacks',
    () => [`--credentials=${files.private}`, '--authenticate_agents', '--operator_principals=ops,ghost'],
    /^invalid value for --operator_principals: "ops,ghost" \(expected a principal listed in credentials \(--credentials\)\)$/,
  ],
  [
    '--ip=0.0.0.0 without --authenticate_agents and --authenticate_frameworks',
    () => ['--ip=0.0.0.0'],
    /^the master listens on 0\.0\.0\.0, beyond loopback, .*turn on --authenticate_agents and --authenticate_frameworks \(with --credentials\), or say --authenticate_agents=false --authenticate_frameworks=false explicitly/,
  ],
  [
    '--ip=0.0.0.0 with --authenticate_agents=false only',
    () => ['--ip=0.0.0.0', '--authenticate_agents=false'],
    /^the master listens on 0\.0\.0\.0, beyond loopback, .*turn on --authenticate_frameworks \(with --credentials\), or say --authenticate_frameworks=false explicitly to run without$/,
  ],
  ['--recovery_agent_removal_limit over 100%', () => ['--recovery_agent_removal_limit=101%'], /^invalid value for --recovery_agent_removal_limit: "101%" \(expected a percentage from 0% to 100%\)$/],
  ['--registry that is no etcd:// URL', () => ['--registry=http://127.0.0.1:2379'], /^invalid value for --registry: "http:\/\/127\.0\.0\.1:2379"/],
  ['--registry with --work_dir', () => ['--registry=etcd://127.0.0.1:2379/ll', `--work_dir=${files.dir}/registry`], /^flags --registry and --work_dir cannot be given together for lifeline master /],
];

interface Ctx {
  /** What main() did with each refusal's flags, in one child process (in-child.ts). */
  outcomes: Map<string, MainOutcome>;
  procs: Proc[];
}

const Refusals = suite<Ctx>('lifeline master refusals');

Refusals.before(async (ctx) => {
  files.dir = tempDir('ll-mcli-');
  files.private = credentials('private.json', 0o600);
  files.open = credentials('open.json', 0o604);
  files.group = credentials('group.json', 0o640);
  ctx.procs = [];
  // --port=0: should a refusal regress, the master it starts takes no fixed port.
  const outcomes = await runMains(MASTER, REFUSALS.map(([, args]) => ({ argv: ['--port=0', ...args()] })));
  ctx.outcomes = new Map(REFUSALS.map(([what], i) => [what, outcomes[i]!]));
});
Refusals.after(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  removeDir(files.dir);
});

for (const [what, , pattern] of REFUSALS) {
  Refusals(`refuses ${what} with a FlagError of one line (exit 2)`, (ctx) => {
    const { code, error } = ctx.outcomes.get(what)!;
    assert.ok(error, `main() returned ${code}`);
    assert.ok(error.flagError, `${error.name}: ${error.message}`);
    assert.match(error.message, pattern);
    assert.not.match(error.message, '\n');
    assert.not.match(error.message, 's3cret-not-shown');
  });
}

Refusals('made nothing for the refused --work_dir', () => {
  assert.not.ok(fs.existsSync(`${files.dir}/registry`));
});

Refusals('as the built CLI, a refusal is exit 2 with its one line on stderr', async (ctx) => {
  const chosen = ['--ip=0.0.0.0 without --authenticate_agents and --authenticate_frameworks', '--credentials readable by others (0604)', '--ssl_require_cert without --ssl_ca_file', '--operator_principals without --credentials'];
  await Promise.all(
    chosen.map(async (what) => {
      const [, args] = REFUSALS.find(([name]) => name === what)!;
      const proc = lifeline(['master', '--port=0', ...args()], { env: cleanEnv() });
      ctx.procs.push(proc);
      assert.equal(await proc.waitForExit(20_000), { code: 2, signal: null }, what);
      assert.is(proc.stdout, '', what);
      assert.is(proc.stderr, `lifeline: ${ctx.outcomes.get(what)!.error!.message}\n`, what);
    }),
  );
});

Refusals.run();

// --- a master that runs ---------------------------------------------------------------------------

const Runs = suite<{ proc: Proc | undefined; dir: string }>('lifeline master running');

Runs.before.each((ctx) => {
  ctx.proc = undefined;
  ctx.dir = tempDir('ll-mrun-');
});
Runs.after.each(async (ctx) => {
  await ctx.proc?.stop();
  removeDir(ctx.dir);
});

Runs('listens on --port=0, serves /health, and on SIGTERM stops and exits 0', async (ctx) => {
  ctx.proc = lifeline(['master', '--port=0', `--work_dir=${ctx.dir}`, '--recovery_agent_removal_limit=12.5%', '--logging_level=INFO'], { env: cleanEnv() });
  const [, port] = await ctx.proc.waitForOutput(/"port":(\d+)[^\n]*"msg":"master listening"/, { stream: 'stderr' });
  assert.ok(Number(port) > 0, `port ${port}`);
  const health = await getJson(`http://127.0.0.1:${port}/health`);
  assert.equal(health, { status: 200, body: { status: 'ok' } });
  ctx.proc.signal('SIGTERM');
  assert.equal(await ctx.proc.waitForExit(10_000), { code: 0, signal: null }, ctx.proc.stderr);
  assert.match(ctx.proc.stderr, /"signal":"SIGTERM"[^\n]*"msg":"stopping"/);
  assert.match(ctx.proc.stderr, /"msg":"master stopped"/);
});

Runs('--logging_level=WARNING leaves its info lines out', async (ctx) => {
  // With nothing logged, /health is how to know it is up: ask the port it was given.
  const port = await freePort();
  ctx.proc = lifeline(['master', `--port=${port}`, '--logging_level=WARNING'], { env: cleanEnv() });
  await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, { message: 'the master to serve /health', timeoutMs: 10_000 });
  ctx.proc.signal('SIGTERM');
  assert.equal(await ctx.proc.waitForExit(10_000), { code: 0, signal: null }, ctx.proc.stderr);
  assert.is(ctx.proc.stderr, '');
});

Runs('--help lists its flags with their defaults and exits 0', async (ctx) => {
  ctx.proc = lifeline(['master', '--help'], { env: cleanEnv() });
  assert.equal(await ctx.proc.waitForExit(), { code: 0, signal: null });
  assert.match(ctx.proc.stdout, /^Usage: lifeline master \[flags\]\n/);
  assert.match(ctx.proc.stdout, /  --recovery_agent_removal_limit=\S+\n {6}.*\(default: 100%\)\n/);
  assert.match(ctx.proc.stdout, /  --ip=IP\n {6}.*\(default: 127\.0\.0\.1\)\n/);
  for (const flag of ['--credentials', '--authenticate_agents', '--authenticate_frameworks', '--operator_principals', '--ssl_require_cert', '--ssl_ca_file', '--logging_level']) {
    assert.match(ctx.proc.stdout, `  ${flag}`);
  }
});

Runs.run();
