import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FlagError, InvalidOptionError } from '../../src/protocol/index.js';
import { helpText, optionFlagError, parseFlags, type FlagSpec } from '../../src/cli/flags.js';

const specs = {
  master: { type: 'string', required: true, help: 'master address' },
  work_dir: { type: 'string', help: 'work dir' },
  checkpoint: { type: 'boolean', default: 'true', help: 'checkpoint' },
  recover: { type: 'string', default: 'reconnect', values: ['reconnect', 'cleanup'], help: 'recover mode' },
  recovery_timeout: { type: 'duration', default: '15mins', help: 'timeout' },
  port: { type: 'integer', default: '5051', help: 'port' },
} satisfies Record<string, FlagSpec>;

function fails(argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) {
  try {
    parseFlags('agent', specs, argv, env);
  } catch (error) {
    assert.instance(error, FlagError);
    assert.match((error as Error).message, pattern);
    assert.not.match((error as Error).message, /\n/);
    return;
  }
  assert.unreachable(`expected a FlagError for ${argv.join(' ')}`);
}

const flags = suite('flags');

flags('applies defaults and converts types', () => {
  const { flags: f } = parseFlags('agent', specs, ['--master=h:1'], {});
  assert.equal(f, { master: 'h:1', work_dir: undefined, checkpoint: true, recover: 'reconnect', recovery_timeout: 900_000, port: 5051 });
});

flags('accepts Mesos names, kebab-case aliases and separate values', () => {
  const { flags: f } = parseFlags('agent', specs, ['--master', 'h:1', '--work-dir=/tmp/w', '--recovery-timeout=2s', '--port', '7'], {});
  assert.is(f.work_dir, '/tmp/w');
  assert.is(f.recovery_timeout, 2_000);
  assert.is(f.port, 7);
});

flags('reads booleans as --flag, --flag=false and --no-flag', () => {
  assert.is(parseFlags('agent', specs, ['--master=h', '--checkpoint=false'], {}).flags.checkpoint, false);
  assert.is(parseFlags('agent', specs, ['--master=h', '--no-checkpoint'], {}).flags.checkpoint, false);
  assert.is(parseFlags('agent', specs, ['--master=h', '--checkpoint'], {}).flags.checkpoint, true);
});

flags('takes flags from LIFELINE_<SUBCOMMAND>_<FLAG>, the command line winning', () => {
  const env = { LIFELINE_AGENT_MASTER: 'env:1', LIFELINE_AGENT_WORK_DIR: '/w', LIFELINE_AGENT_NOT_A_FLAG: 'ignored' };
  const { flags: f } = parseFlags('agent', specs, ['--work_dir=/cli'], env);
  assert.is(f.master, 'env:1');
  assert.is(f.work_dir, '/cli');
});

flags('names an unknown flag', () => fails(['--master=h', '--no_such_flag=1'], /--no_such_flag/));
flags('names a missing required flag', () => fails([], /--master is required/));
flags('names a flag with a bad duration', () => fails(['--master=h', '--recovery_timeout=soon'], /--recovery_timeout.*"soon"/));
flags('names a flag with a bad integer', () => fails(['--master=h', '--port=80x'], /--port.*"80x"/));
flags('names a flag with a value outside its choices', () => fails(['--master=h', '--recover=pray'], /--recover.*"pray".*reconnect, cleanup/));
flags('names a bad value that came from the environment', () => fails(['--master=h'], /LIFELINE_AGENT_PORT.*"x"/, { LIFELINE_AGENT_PORT: 'x' }));
flags('names a bad boolean', () => fails(['--master=h', '--checkpoint=maybe'], /--checkpoint.*"maybe"/));

flags('does not require flags when only --help is asked', () => {
  assert.is(parseFlags('agent', specs, ['--help'], {}).help, true);
});

flags('help lists every flag with its default', () => {
  const text = helpText('agent', '--master=HOST:PORT', specs);
  for (const name of Object.keys(specs)) assert.match(text, `--${name}`);
  assert.match(text, '(default: 15mins)');
  assert.match(text, '(required)');
});

flags('refuses a stray argument, naming it and the subcommand', () => {
  fails(['--master=h', 'extra'], /^unexpected argument "extra" for lifeline agent \(/);
  fails(['--master=h', 'a', 'b'], /^unexpected arguments "a" "b" for lifeline agent/);
});

flags('hints at --flag=false when a boolean flag is followed by true or false', () => {
  // `lifeline run --checkpoint false` must not run a checkpointing framework.
  fails(['--master=h', '--checkpoint', 'false'], /unexpected argument "false" .*as in --checkpoint=false/);
});

flags('still takes the next argument as the value of a flag that needs one', () => {
  assert.is(parseFlags('agent', specs, ['--master', 'h:1'], {}).flags.master, 'h:1');
  assert.equal(parseFlags('agent', specs, ['--master', 'h:1'], {}).positional, []);
});

flags('says where each given flag came from, with its text as written', () => {
  const { sources } = parseFlags('agent', specs, ['--recovery-timeout=2s'], { LIFELINE_AGENT_MASTER: 'env:1' });
  assert.equal(sources.recovery_timeout, { from: '--recovery_timeout', text: '2s' });
  assert.equal(sources.master, { from: 'LIFELINE_AGENT_MASTER', text: 'env:1' });
  assert.is(sources.port, undefined);
});

flags('turns a component\'s option error into a flag error without the internal option name', () => {
  const { sources } = parseFlags('master', { agent_ping_timeout: { type: 'duration', help: 'p' } }, ['--agent_ping_timeout=0ms'], {});
  const error = optionFlagError(new InvalidOptionError('agentPingTimeoutMs', 0, 'a number of milliseconds from 1 to 2147483647'), { agentPingTimeoutMs: 'agent_ping_timeout' }, sources);
  assert.instance(error, FlagError);
  assert.is(error!.message, 'invalid value for --agent_ping_timeout: "0ms" (expected a duration from 1ms to 2147483647ms)');
  const related = optionFlagError(
    new InvalidOptionError('statusUpdateRetryIntervalMaxMs', 1000, '≥ statusUpdateRetryIntervalMinMs (120000)'),
    { statusUpdateRetryIntervalMaxMs: 'status_update_retry_interval_max', statusUpdateRetryIntervalMinMs: 'status_update_retry_interval_min' },
    {},
  );
  assert.is(related!.message, 'invalid value for --status_update_retry_interval_max: 1000 (expected ≥ --status_update_retry_interval_min (120000))');
  assert.is(optionFlagError(new InvalidOptionError('logger', 1, 'a Logger'), {}, {}), undefined);
});

flags('help shows typed placeholders, groups flags under headings and leaves hidden flags out', () => {
  const text = helpText('agent', '', {
    master: { type: 'string', help: 'm' },
    work_dir: { type: 'string', help: 'w' },
    timeout: { type: 'duration', help: 't', group: 'Recovery' },
    port: { type: 'integer', help: 'p', placeholder: 'PORT', group: 'Node' },
    mode: { type: 'string', values: ['a', 'b'], help: 'x', group: 'Recovery' },
    bench_only: { type: 'boolean', help: 'b', hidden: true },
  });
  assert.match(text, /--master=HOST:PORT\n/);
  assert.match(text, /--work_dir=PATH\n/);
  assert.match(text, /--timeout=DURATION\n/);
  assert.match(text, /--port=PORT\n/);
  assert.match(text, /--mode=a\|b\n/);
  assert.not.match(text, /bench_only/);
  assert.not.match(text, /=VALUE/);
  // Ungrouped flags first, then each heading once, in order of first appearance.
  assert.ok(text.indexOf('--work_dir') < text.indexOf('Recovery:') && text.indexOf('Recovery:') < text.indexOf('--timeout'));
  assert.ok(text.indexOf('--mode') < text.indexOf('Node:') && text.indexOf('Node:') < text.indexOf('--port'));
  assert.is(text.split('Recovery:').length, 2);
});

flags.run();
