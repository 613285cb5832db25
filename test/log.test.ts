import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, silentLogger } from '../src/log.js';

const LOG = new URL('../src/log.js', import.meta.url).href;

/** Runs `script` in a child process with log.js imported as `log`, and returns its output. */
function runWithLog(script: string, env: NodeJS.ProcessEnv = {}) {
  const source = `const log = await import(${JSON.stringify(LOG)});\n${script}`;
  const { LIFELINE_LOG_LEVEL: _level, ...parent } = process.env;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { env: { ...parent, ...env }, encoding: 'utf8', timeout: 30_000 });
  assert.is(result.status, 0, result.stderr);
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

log.run();
