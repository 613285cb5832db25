import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../src/log.js';

const LOG_MODULE = fileURLToPath(new URL('../src/log.js', import.meta.url));
const test = suite('log');

/** Runs `body` in a child with `logger` made by createLogger, and returns its stderr lines. */
function logLines(body: string, env: NodeJS.ProcessEnv = {}): string[] {
  const script = `const { createLogger } = await import(${JSON.stringify(LOG_MODULE)}); const logger = await createLogger('agent'); ${body}`;
  const { stderr, status } = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LIFELINE_LOG_LEVEL: '', ...env }, timeout: 30_000 });
  assert.is(status, 0, stderr);
  return stderr.split('\n').filter(Boolean);
}

test('writes JSON lines on stderr with the name, the pid, the fields and the message', () => {
  const lines = logLines(`logger.child({ component: 'endpoint' }).info({ executorId: 'e1' }, 'executor subscribed');`, { LIFELINE_LOG_LEVEL: 'info' });
  assert.is(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.is(line.msg, 'executor subscribed');
  assert.is(line.name, 'agent');
  assert.is(line.executorId, 'e1');
  assert.is(line.component, 'endpoint');
  assert.type(line.pid, 'number');
});

test('takes its level from LIFELINE_LOG_LEVEL: debug lines appear only at debug', () => {
  const body = `logger.debug('a debug line'); logger.warn('a warning');`;
  assert.equal(logLines(body, { LIFELINE_LOG_LEVEL: 'info' }).map((text) => JSON.parse(text).msg), ['a warning']);
  assert.equal(logLines(body, { LIFELINE_LOG_LEVEL: 'debug' }).map((text) => JSON.parse(text).msg), ['a debug line', 'a warning']);
});

test('the silent logger accepts everything and its children are silent too', () => {
  silentLogger.info({ a: 1 }, 'nothing');
  assert.is(silentLogger.child({ component: 'x' }), silentLogger);
});

test.run();
