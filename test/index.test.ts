// `lifeline`, the package's main entry: the two client libraries (lifeline/executor and
// lifeline/scheduler) and what users match on (the LifelineError subclasses with their codes, the
// protocol's constants), each the same binding as in its own entry. Not the agent or the master
// (docs/decisions.md): they are programs, and exporting them would make every `import 'lifeline'`
// load pino and prom-client, which a real child process checks here.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as lifeline from '../src/index.js';
import type { AgentInfo, ErrorCode, ExecutorDriverOptions, ExecutorUpdate, Offer, SchedulerDriverOptions, TaskState, TaskStatus } from '../src/index.js';
import * as executor from '../src/executor/index.js';
import * as scheduler from '../src/scheduler/index.js';
import * as protocolErrors from '../src/protocol/errors.js';
import * as common from '../src/protocol/common.js';
import { Proc } from './helpers.js';

/** Beside the two libraries: the error classes users match on, and the protocol's constants. */
const OWN: Record<string, Record<string, unknown>> = {
  ConnectionError: protocolErrors,
  IllegalStateError: protocolErrors,
  InvalidDurationError: protocolErrors,
  InvalidIdError: protocolErrors,
  InvalidOptionError: protocolErrors,
  ProtocolError: protocolErrors,
  UnauthorizedError: protocolErrors,
  REASONS: common,
  SOURCES: common,
  TASK_STATES: common,
};

// The types a user imports from 'lifeline' (a missing one fails the build).
export type Surface = [AgentInfo, ErrorCode, ExecutorDriverOptions, ExecutorUpdate, Offer, SchedulerDriverOptions, TaskState, TaskStatus];

const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));
const AGENT_INDEX = fileURLToPath(new URL('../src/agent/index.js', import.meta.url));

const exported = lifeline as unknown as Record<string, unknown>;
const test = suite('index');

test('exports lifeline/executor and lifeline/scheduler whole, the error classes and the protocol\'s constants, and nothing else', () => {
  const expected = new Set([...Object.keys(executor), ...Object.keys(scheduler), ...Object.keys(OWN)]);
  assert.equal(Object.keys(lifeline).sort(), [...expected].sort());
  for (const [name, value] of [...Object.entries(executor), ...Object.entries(scheduler)]) assert.is(exported[name], value, name);
  for (const [name, module] of Object.entries(OWN)) {
    assert.ok(module[name] !== undefined, `${name} is defined by its module`);
    assert.is(exported[name], module[name], name);
  }
});

test('exports neither the agent nor the master nor their parts', () => {
  for (const name of ['Agent', 'Master', 'Checkpointer', 'StatusUpdateManager', 'ExecutorEndpoint', 'MasterLink', 'recoverState']) {
    assert.not.ok(name in lifeline, `${name} is not exported`);
  }
});

test('every error class it exports is a LifelineError', () => {
  const classes = Object.keys(lifeline).filter((name) => name.endsWith('Error') && name !== 'LifelineError');
  assert.ok(classes.length >= 10, `found the error classes (${classes.join(', ')})`);
  for (const name of classes) assert.ok((exported[name] as { prototype: object }).prototype instanceof lifeline.LifelineError, name);
  const error = new lifeline.InvalidOptionError('master', 42, 'HOST:PORT');
  assert.is(error.code, 'ERR_INVALID_OPTION');
  assert.is(error.name, 'InvalidOptionError');
});

test('importing it loads neither pino nor prom-client (the agent\'s barrel, for contrast, loads prom-client)', async () => {
  // require.cache lists the CommonJS packages an ESM import pulled in (pino and prom-client are CommonJS).
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const loaded = () => [...new Set(Object.keys(require.cache).map((f) => /node_modules\\/(pino|prom-client)\\//.exec(f)?.[1]).filter(Boolean))].sort();
    await import(${JSON.stringify(INDEX)});
    const index = loaded();
    await import(${JSON.stringify(AGENT_INDEX)});
    console.log(JSON.stringify({ index, agent: loaded() }));
  `;
  const child = new Proc(process.execPath, ['--input-type=module', '-e', script]);
  const { code } = await child.waitForExit(15_000);
  assert.is(code, 0, child.stderr);
  assert.equal(JSON.parse(child.stdout), { index: [], agent: ['prom-client'] });
});

test.run();
