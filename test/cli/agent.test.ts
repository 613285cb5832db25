// `lifeline agent` (cli/agent.ts): AGENT_FLAGS (its defaults are DESIGN §4's), main()'s refusals of
// bad flags before any agent starts (a FlagError of one line naming the flag or variable as
// written, never the Agent's option name, which main.js prints with exit 2: all run in one child
// process, a few as the built CLI too), and --recover=cleanup, which exits 0 without a master.
// The agent that registers, stops and shuts down is tested in test/agent/cli.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AGENT_FLAGS } from '../../src/cli/agent.js';
import { parseFlags } from '../../src/cli/flags.js';
import { LOGGING_LEVEL_FLAG } from '../../src/cli/logging.js';
import { lifeline, removeDir, tempDir, type Proc } from '../helpers.js';
import { runMains, type MainOutcome } from './in-child.js';
import { cleanEnv } from './stand-in.js';

/** The compiled cli/agent.ts next to this compiled test. */
const AGENT = new URL('../../src/cli/agent.js', import.meta.url);

const SECOND = 1000;
const MINUTE = 60 * SECOND;

const Flags = suite('cli/agent AGENT_FLAGS');

Flags('needs --master and --work_dir, and nothing else', () => {
  const required = Object.entries(AGENT_FLAGS).filter(([, spec]) => 'required' in spec && spec.required).map(([name]) => name);
  assert.equal(required.sort(), ['master', 'work_dir']);
  assert.throws(() => parseFlags('agent', AGENT_FLAGS, ['--work_dir=/w'], {}), /flag --master is required for lifeline agent/);
  assert.throws(() => parseFlags('agent', AGENT_FLAGS, ['--master=127.0.0.1:5050'], {}), /flag --work_dir is required for lifeline agent/);
});

Flags('defaults to the values of DESIGN §4', () => {
  const { flags } = parseFlags('agent', AGENT_FLAGS, ['--master=127.0.0.1:5050', '--work_dir=/w'], {});
  assert.is(flags.checkpoint, true);
  assert.is(flags.strict, true);
  assert.is(flags.recover, 'reconnect');
  assert.is(flags.recovery_timeout, 15 * MINUTE);
  assert.is(flags.executor_reregistration_timeout, 2 * SECOND);
  assert.is(flags.executor_shutdown_grace_period, 5 * SECOND);
  assert.is(flags.registration_backoff_factor, 1 * SECOND);
  assert.is(flags.gc_delay, 7 * 24 * 60 * MINUTE);
  assert.is(flags.status_update_retry_interval_min, 1 * SECOND);
  assert.is(flags.status_update_retry_interval_max, 1 * MINUTE);
  assert.is(flags.max_frame_bytes, 1_048_576);
  assert.is(flags.port, 5051);
  assert.is(flags.ip, '127.0.0.1');
  assert.is(flags.sandbox_log_max_size, 10 * 1024 * 1024);
  assert.is(flags.sandbox_log_max_files, 5);
  assert.is(flags.gc_disk_headroom, 0.1);
  assert.is(flags.switch_user, true);
  // Detected or derived when not given, so no default value at all.
  for (const name of ['runtime_dir', 'resources', 'hostname', 'credential', 'ssl_ca_file', 'ssl_cert_file', 'ssl_key_file', 'logging_level'] as const) {
    assert.is(flags[name], undefined, name);
  }
});

Flags('takes --recover as reconnect or cleanup only', () => {
  assert.is(parseFlags('agent', AGENT_FLAGS, ['--master=m:1', '--work_dir=/w', '--recover=cleanup'], {}).flags.recover, 'cleanup');
  assert.throws(() => parseFlags('agent', AGENT_FLAGS, ['--master=m:1', '--work_dir=/w', '--recover=wipe'], {}), /invalid value for --recover: "wipe" \(expected one of reconnect, cleanup\)/);
});

Flags('hides --checkpoint_batching (benchmark-only) and files --logging_level under Logging', () => {
  assert.is(AGENT_FLAGS.checkpoint_batching.hidden, true);
  const { group, ...spec } = AGENT_FLAGS.logging_level;
  assert.is(group, 'Logging');
  assert.equal(spec, LOGGING_LEVEL_FLAG);
});

Flags.run();

// --- main() -------------------------------------------------------------------------------------

const SECRET = 'hunter2-not-shown';
/** The work dir and the --credential files the runs name; made in before(). */
const files = { dir: '', work: '', private: '', open: '', extra: '' };

function credential(name: string, body: object, mode: number): string {
  const file = path.join(files.dir, name);
  fs.writeFileSync(file, JSON.stringify(body));
  fs.chmodSync(file, mode);
  return file;
}

/** Resources given in full: no detection, and nothing to differ between runs. */
const RESOURCES = '--resources=cpus:1;mem:64;disk:64';

/** Each refusal: what is wrong, the flags after --master and --work_dir, its message (printed after `lifeline: `), and variables it sets. */
const REFUSALS: Array<[string, () => string[], RegExp, Record<string, string>?]> = [
  ['--resources with a resource given twice', () => ['--resources=cpus:2;cpus:4'], /^invalid value for --resources: "cpus:2;cpus:4" \(cpus given twice in "cpus:4"; expected cpus:N;mem:MB;disk:MB\)$/],
  ['--resources without an amount', () => ['--resources=mem'], /^invalid value for --resources: "mem" \(no ":" in "mem"; /],
  ['--ssl_cert_file without --ssl_key_file', () => [RESOURCES, '--ssl_cert_file=/nonexistent/cert.pem'], /^--ssl_cert_file and --ssl_key_file go together: give both \(HTTPS\) or neither$/],
  ['a --credential file readable by its group and others (0644)', () => [RESOURCES, `--credential=${files.open}`], /^--credential=\S+open\.json is readable by [a-z ]+ \(mode 0644\); a secret file must be private: chmod 600 \S+open\.json$/],
  ['a --credential file with a field too many', () => [RESOURCES, `--credential=${files.extra}`], /^--credential=\S+extra\.json must be \{"principal": "\.\.\.", "secret": "\.\.\."\}: field extra: /],
  ['an https:// --master without an address', () => ['--master=https://'], /^invalid value for --master: /],
  ['an --ip that is no IP address', () => [RESOURCES, '--ip=localhost'], /^invalid value for --ip: "localhost" \(expected an IP address\)$/],
  ['a --gc_disk_headroom over 1', () => [RESOURCES, '--gc_disk_headroom=2'], /^invalid value for --gc_disk_headroom: "2" \(expected a fraction from 0 to 1\)$/],
  ['a --sandbox_log_max_files of 0', () => [RESOURCES, '--sandbox_log_max_files=0'], /^invalid value for --sandbox_log_max_files: "0" \(expected an integer from 1 to 1000\)$/],
  ['a --max_status_updates_per_task of 0', () => [RESOURCES, '--max_status_updates_per_task=0'], /^invalid value for --max_status_updates_per_task: "0" \(expected a positive integer\)$/],
  ['a bad value from the environment', () => [RESOURCES], /^invalid value for LIFELINE_AGENT_GC_DISK_HEADROOM: "-1" \(expected a fraction from 0 to 1\)$/, { LIFELINE_AGENT_GC_DISK_HEADROOM: '-1' }],
  ['a LIFELINE_AGENT_LOGGING_LEVEL it does not know', () => [RESOURCES], /^invalid value for LIFELINE_AGENT_LOGGING_LEVEL: "chatty"/, { LIFELINE_AGENT_LOGGING_LEVEL: 'chatty' }],
];

interface Ctx {
  procs: Proc[];
  /** What main() did with each refusal's flags, in one child process (in-child.ts). */
  outcomes: Map<string, MainOutcome>;
}

/** The flags every run starts with: a master that is never reached, a work dir, any free port. */
function base(workDir = files.work): string[] {
  return ['--master=127.0.0.1:1', `--work_dir=${workDir}`, '--port=0'];
}

/** `lifeline agent` as a process, in its own work dir unless told. */
function agent(ctx: Ctx, args: string[], env: NodeJS.ProcessEnv = {}, workDir = files.work): Proc {
  const proc = lifeline(['agent', ...base(workDir), ...args], { env: cleanEnv(env) });
  ctx.procs.push(proc);
  return proc;
}

async function outcome(proc: Proc): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { code } = await proc.waitForExit(20_000);
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

const Cli = suite<Ctx>('lifeline agent flags');

Cli.before(async (ctx) => {
  files.dir = tempDir('ll-acli-');
  files.work = path.join(files.dir, 'work');
  files.private = credential('private.json', { principal: 'agent-1', secret: SECRET }, 0o600);
  files.open = credential('open.json', { principal: 'agent-1', secret: SECRET }, 0o644);
  files.extra = credential('extra.json', { principal: 'agent-1', secret: SECRET, extra: 1 }, 0o600);
  ctx.procs = [];
  const outcomes = await runMains(AGENT, REFUSALS.map(([, args, , env]) => ({ argv: [...base(), ...args()], ...(env && { env }) })));
  ctx.outcomes = new Map(REFUSALS.map(([what], i) => [what, outcomes[i]!]));
});
Cli.after(async (ctx) => {
  await Promise.all(ctx.procs.map((proc) => proc.stop()));
  removeDir(files.dir);
});

for (const [what, , pattern] of REFUSALS) {
  Cli(`refuses ${what} with a FlagError of one line (exit 2)`, (ctx) => {
    const { code, error } = ctx.outcomes.get(what)!;
    assert.ok(error, `main() returned ${code}`);
    assert.ok(error.flagError, `${error.name}: ${error.message}`);
    assert.match(error.message, pattern);
    assert.not.match(error.message, '\n');
    assert.not.match(error.message, SECRET);
    // The flag, never the Agent's option name (gcDiskHeadroom, sandboxLogMaxFiles, …).
    assert.not.match(error.message.replaceAll(files.dir, 'DIR'), /\b[a-z]+[A-Z][A-Za-z]*\b/);
  });
}

Cli('as the built CLI, a refusal is exit 2 with its one line on stderr', async (ctx) => {
  const chosen = ['a --credential file readable by its group and others (0644)', '--ssl_cert_file without --ssl_key_file', '--resources with a resource given twice'];
  await Promise.all(
    chosen.map(async (what) => {
      const [, args] = REFUSALS.find(([name]) => name === what)!;
      const out = await outcome(agent(ctx, args()));
      assert.is(out.code, 2, what);
      assert.is(out.stdout, '', what);
      assert.is(out.stderr, `lifeline: ${ctx.outcomes.get(what)!.error!.message}\n`, what);
    }),
  );
});

Cli('--recover=cleanup with a private --credential exits 0 without registering', async (ctx) => {
  // The master at 127.0.0.1:1 is never reached: cleanup stops before registering.
  const out = await outcome(agent(ctx, [RESOURCES, '--recover=cleanup', `--credential=${files.private}`], {}, path.join(files.dir, 'cleanup')));
  assert.is(out.code, 0, out.stderr);
  assert.match(out.stderr, /"msg":"cleanup done: the agent stops without registering"/);
  assert.not.match(out.stderr, /"level":"(warn|error)"/);
  assert.not.match(out.stderr, SECRET);
});

Cli('--logging_level=WARNING (or its variable) leaves the info lines out', async (ctx) => {
  const [flag, variable] = await Promise.all([
    // Two agents at once: each in its own work dir (and so its own runtime dir).
    outcome(agent(ctx, [RESOURCES, '--recover=cleanup', '--logging_level=WARNING'], {}, path.join(files.dir, 'quiet-flag'))),
    outcome(agent(ctx, [RESOURCES, '--recover=cleanup'], { LIFELINE_AGENT_LOGGING_LEVEL: 'error' }, path.join(files.dir, 'quiet-env'))),
  ]);
  assert.is(flag.code, 0, flag.stderr);
  assert.is(flag.stderr, '');
  assert.is(variable.code, 0, variable.stderr);
  assert.is(variable.stderr, '');
});

Cli.run();
