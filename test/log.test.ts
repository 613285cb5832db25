import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, parseLogLevel, silentLogger, stderrIsJournal } from '../src/log.js';
import { FlagError } from '../src/protocol/errors.js';

const LOG = new URL('../src/log.js', import.meta.url).href;

/** Runs `script` in a child process with log.js imported as `log`, and returns its raw output. */
function runRaw(script: string, env: NodeJS.ProcessEnv = {}, stdio?: Array<'pipe' | 'ignore' | number>) {
  const source = `const log = await import(${JSON.stringify(LOG)});\n${script}`;
  const { LIFELINE_LOG_LEVEL: _level, LIFELINE_LOG_FORMAT: _format, JOURNAL_STREAM: _journal, ...parent } = process.env;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { env: { ...parent, ...env }, encoding: 'utf8', timeout: 30_000, ...(stdio && { stdio }) });
  assert.is(result.status, 0, result.stderr ?? '');
  return result;
}

/** runRaw, with stderr's JSON lines parsed. */
function runWithLog(script: string, env: NodeJS.ProcessEnv = {}) {
  const result = runRaw(script, env);
  return { stdout: result.stdout, lines: result.stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const log = suite('log');

log('the silent logger accepts every call and its children are silent too', () => {
  const child = silentLogger.child({ component: 'x' });
  assert.is(child, silentLogger);
  for (const logger of [silentLogger, child]) {
    logger.debug('d');
    logger.info({ a: 1 }, 'i');
    logger.warn('w');
    logger.error({ err: new Error('e') }, 'e');
  }
});

log('writes one JSON line per record on stderr, with the name, the pid and the bindings of a child', () => {
  const { stdout, lines } = runWithLog(`
    const logger = await log.createLogger('agent');
    logger.info({ taskId: 't1' }, 'launched');
    logger.child({ executorId: 'e1' }).warn('slow');
    process.stdout.write(String(process.pid));
  `);
  const pid = Number(stdout.trim());
  assert.is(lines.length, 2);
  assert.is(lines[0]!.name, 'agent');
  assert.is(lines[0]!.pid, pid);
  assert.is(lines[0]!.msg, 'launched');
  assert.is(lines[0]!.taskId, 't1');
  assert.is(lines[0]!.level, 'info');
  assert.is(lines[1]!.executorId, 'e1');
  assert.is(lines[1]!.level, 'warn');
});

log('logs at info and above by default', () => {
  const { lines } = runWithLog(`
    const logger = await log.createLogger('master');
    logger.debug('hidden');
    logger.info('shown');
  `);
  assert.equal(lines.map((line) => line.msg), ['shown']);
});

log('takes its level from LIFELINE_LOG_LEVEL', () => {
  const { lines } = runWithLog(`
    const logger = await log.createLogger('master');
    logger.info('hidden');
    logger.warn('shown');
  `, { LIFELINE_LOG_LEVEL: 'warn' });
  assert.equal(lines.map((line) => line.msg), ['shown']);
  const debug = runWithLog(`(await log.createLogger('agent')).debug('details');`, { LIFELINE_LOG_LEVEL: 'debug' });
  assert.equal(debug.lines.map((line) => line.msg), ['details']);
});

log('an explicit level wins over the environment', () => {
  const { lines } = runWithLog(`
    const logger = await log.createLogger('agent', 'error');
    logger.warn('hidden');
    logger.error('shown');
  `, { LIFELINE_LOG_LEVEL: 'debug' });
  assert.equal(lines.map((line) => line.msg), ['shown']);
});

log('keeps records written right before the process exits (synchronous writes)', () => {
  const { lines } = runWithLog(`
    const logger = await log.createLogger('agent');
    logger.error('last words');
    process.exit(0);
  `);
  assert.equal(lines.map((line) => line.msg), ['last words']);
});

log('refuses an unknown level', async () => {
  try {
    await createLogger('agent', 'chatty');
    assert.unreachable('expected an unknown level to be refused');
  } catch (error) {
    assert.match((error as Error).message, /chatty/);
  }
});

log('a child\'s component replaces its parent\'s: one component key per line', () => {
  const result = runRaw(`
    const logger = (await log.createLogger('agent')).child({ component: 'agent' });
    logger.child({ component: 'executor-endpoint' }).child({ executorId: 'e1' }).info('listening');
  `);
  const line = result.stderr.trim();
  assert.is(line.split('"component":').length - 1, 1, line);
  const record = JSON.parse(line) as Record<string, unknown>;
  assert.is(record.component, 'executor-endpoint');
  assert.is(record.executorId, 'e1');
});

log('takes Mesos\'s level names in any case, and names where a bad level came from', () => {
  const { lines } = runWithLog(`
    const logger = await log.createLogger('agent', 'WARNING');
    logger.info('hidden');
    logger.warn('shown');
  `);
  assert.equal(lines.map((line) => line.msg), ['shown']);
  assert.is(parseLogLevel('INFO'), 'info');
  assert.is(parseLogLevel('Error'), 'error');
  assert.throws(() => parseLogLevel('verbose', '--logging_level'), (error: Error) => error instanceof FlagError && /^invalid value for --logging_level: "verbose"/.test(error.message));
});

log('writes readable lines instead of JSON when asked for the pretty format (what a terminal gets)', () => {
  const result = runRaw(`(await log.createLogger('agent')).child({ component: 'master-link' }).warn({ attempt: 2 }, 'the master is unreachable');`, { LIFELINE_LOG_FORMAT: 'pretty' });
  const line = result.stderr.trim();
  assert.not.ok(line.startsWith('{'), line);
  assert.match(line, /WARN/);
  assert.match(line, /the master is unreachable/);
  assert.match(line, /attempt: 2/);
});

log('prefixes each JSON line with its syslog priority when stderr is the journal (JOURNAL_STREAM matches it)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-log-'));
  const file = path.join(dir, 'stderr');
  const fd = fs.openSync(file, 'w');
  try {
    const stat = fs.fstatSync(fd);
    runRaw(`
      const logger = await log.createLogger('agent', 'debug');
      logger.debug('d'); logger.info('i'); logger.warn('w'); logger.error('e');
    `, { JOURNAL_STREAM: `${stat.dev}:${stat.ino}` }, ['ignore', 'pipe', fd]);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.map((line) => line.slice(0, 3)), ['<7>', '<6>', '<4>', '<3>']);
    for (const line of lines) JSON.parse(line.slice(3));
    // Another stream's JOURNAL_STREAM (stderr is not the journal): plain JSON.
    assert.not.ok(stderrIsJournal({ JOURNAL_STREAM: '1:1' }));
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

log.run();
