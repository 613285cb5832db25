// cli/logging.ts: --logging_level's spec and loggingLevel(): Mesos's names and pino's, the flag
// (or its LIFELINE_<COMMAND>_LOGGING_LEVEL) winning over LIFELINE_LOG_LEVEL, and a bad level
// refused by the name it was given under.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFlags } from '../../src/cli/flags.js';
import { LOGGING_LEVEL_FLAG, loggingLevel } from '../../src/cli/logging.js';
import { FlagError } from '../../src/protocol/index.js';

const Logging = suite<{ saved: string | undefined }>('cli/logging');

// loggingLevel() reads LIFELINE_LOG_LEVEL when called: each test starts without it, as it found it after.
Logging.before.each((ctx) => {
  ctx.saved = process.env.LIFELINE_LOG_LEVEL;
  delete process.env.LIFELINE_LOG_LEVEL;
});
Logging.after.each((ctx) => {
  if (ctx.saved === undefined) delete process.env.LIFELINE_LOG_LEVEL;
  else process.env.LIFELINE_LOG_LEVEL = ctx.saved;
});

const FROM_FLAG = { from: '--logging_level', text: '' };

Logging('takes Mesos\'s INFO, WARNING and ERROR as pino\'s info, warn and error', () => {
  assert.is(loggingLevel('INFO', FROM_FLAG), 'info');
  assert.is(loggingLevel('WARNING', FROM_FLAG), 'warn');
  assert.is(loggingLevel('ERROR', FROM_FLAG), 'error');
  assert.is(loggingLevel('warning', FROM_FLAG), 'warn');
});

Logging('takes pino\'s level names in any case', () => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) {
    assert.is(loggingLevel(level, FROM_FLAG), level);
    assert.is(loggingLevel(level.toUpperCase(), FROM_FLAG), level);
  }
});

Logging('the flag wins over the fallback; without it the fallback is used', () => {
  assert.is(loggingLevel('debug', FROM_FLAG, 'error'), 'debug');
  assert.is(loggingLevel(undefined, undefined, 'WARNING'), 'warn');
});

Logging('falls back to LIFELINE_LOG_LEVEL as it is when called, else info', () => {
  assert.is(loggingLevel(undefined, undefined), 'info');
  process.env.LIFELINE_LOG_LEVEL = 'ERROR';
  assert.is(loggingLevel(undefined, undefined), 'error');
  assert.is(loggingLevel('trace', FROM_FLAG), 'trace', 'the flag still wins');
});

Logging('refuses a bad level with a FlagError naming where it came from', () => {
  const refused = (run: () => unknown): FlagError => {
    try {
      run();
    } catch (error) {
      assert.instance(error, FlagError);
      return error as FlagError;
    }
    throw new Error('the level was accepted');
  };
  assert.match(refused(() => loggingLevel('chatty', FROM_FLAG)).message, /^invalid value for --logging_level: "chatty" \(expected one of INFO, WARNING, ERROR or trace, debug, info, warn, error, fatal, silent\)$/);
  assert.match(refused(() => loggingLevel('chatty', { from: 'LIFELINE_MASTER_LOGGING_LEVEL', text: 'chatty' })).message, /^invalid value for LIFELINE_MASTER_LOGGING_LEVEL: "chatty"/);
  // No source (a caller that did not say): the flag's name.
  assert.match(refused(() => loggingLevel('chatty', undefined)).message, /^invalid value for --logging_level: "chatty"/);
  assert.match(refused(() => loggingLevel(undefined, undefined, 'verbose')).message, /^invalid value for LIFELINE_LOG_LEVEL: "verbose"/);
  process.env.LIFELINE_LOG_LEVEL = 'loud';
  assert.match(refused(() => loggingLevel(undefined, undefined)).message, /^invalid value for LIFELINE_LOG_LEVEL: "loud"/);
  // A good flag does not look at a bad LIFELINE_LOG_LEVEL.
  assert.is(loggingLevel('info', FROM_FLAG), 'info');
});

Logging('has no default, so that LIFELINE_LOG_LEVEL applies when the flag is not given', () => {
  assert.not.ok('default' in LOGGING_LEVEL_FLAG);
  assert.is(LOGGING_LEVEL_FLAG.type, 'string');
  const { flags, sources } = parseFlags('agent', { logging_level: LOGGING_LEVEL_FLAG }, [], {});
  assert.is(flags.logging_level, undefined);
  process.env.LIFELINE_LOG_LEVEL = 'warn';
  assert.is(loggingLevel(flags.logging_level, sources.logging_level), 'warn');
});

Logging('names LIFELINE_<COMMAND>_LOGGING_LEVEL when the level came from it through parseFlags', () => {
  const env = { LIFELINE_AGENT_LOGGING_LEVEL: 'WARNING' };
  const good = parseFlags('agent', { logging_level: LOGGING_LEVEL_FLAG }, [], env);
  assert.is(loggingLevel(good.flags.logging_level, good.sources.logging_level), 'warn');
  const bad = parseFlags('agent', { logging_level: LOGGING_LEVEL_FLAG }, [], { LIFELINE_AGENT_LOGGING_LEVEL: 'noisy' });
  assert.throws(() => loggingLevel(bad.flags.logging_level, bad.sources.logging_level), /^invalid value for LIFELINE_AGENT_LOGGING_LEVEL: "noisy"/);
  // The command line wins over the variable.
  const both = parseFlags('agent', { logging_level: LOGGING_LEVEL_FLAG }, ['--logging_level=error'], env);
  assert.is(loggingLevel(both.flags.logging_level, both.sources.logging_level), 'error');
});

Logging.run();
