// The ExecutorDriver's API surface on its own (src/executor/driver-api.ts): the constructor's option
// checks, how callbacks are called and what a throwing one becomes, the environment that loses its
// token, how an update becomes a TaskStatus (and which updates are refused), and the states' table.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CALLBACKS, Callbacks, DRIVER_TRANSITIONS, checkCallbacks, makeStatus, takeEnvironment, type DriverState, type ExecutorUpdate } from '../../src/executor/driver-api.js';
import { EnvironmentError } from '../../src/executor/environment.js';
import { StateMachine } from '../../src/lifecycle/state-machine.js';
import { IllegalStateError, LifelineError, type TaskInfo } from '../../src/protocol/index.js';
import { Proc } from '../helpers.js';
import { commandTask } from './fake-agent.js';

const CALLBACKS_FIXTURE = fileURLToPath(new URL('../fixtures/executor-callbacks.js', import.meta.url));

function thrown(fn: () => unknown): LifelineError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, LifelineError, `expected a LifelineError, got ${String(error)}`);
    return error as LifelineError;
  }
  assert.unreachable('expected a LifelineError to be thrown');
  throw new Error('unreachable');
}

/** A turn of the event loop: a rejected callback's handler and queued microtasks have run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

// ---- checkCallbacks ----

const Options = suite('checkCallbacks');

Options('returns a copy of valid callbacks, so later changes to the caller object do not reach the driver', () => {
  const onLaunch = () => {};
  const options: Record<string, unknown> = { onLaunch };
  const checked = checkCallbacks(options as never);
  assert.is.not(checked, options);
  options.onLaunch = 'changed';
  assert.is(checked.onLaunch, onLaunch);
});

Options('accepts every callback name it lists, and no callbacks at all', () => {
  const all = Object.fromEntries(CALLBACKS.map((name) => [name, () => {}]));
  assert.equal(Object.keys(checkCallbacks(all)).sort(), [...CALLBACKS].sort());
  assert.equal(checkCallbacks({}), {});
});

Options('refuses options that are not an object, with ERR_INVALID_OPTION echoing the value', () => {
  for (const bad of [null, 42, 'onLaunch']) {
    const error = thrown(() => checkCallbacks(bad as never));
    assert.is(error.code, 'ERR_INVALID_OPTION');
    assert.match(error.message, 'option options must be an object of callbacks');
    assert.match(error.message, `got ${JSON.stringify(bad)}`);
  }
});

Options('refuses an unknown option by name, listing the known ones (a typo is not silently ignored)', () => {
  const error = thrown(() => checkCallbacks({ onLanuch: () => {} } as never));
  assert.is(error.code, 'ERR_INVALID_OPTION');
  assert.match(error.message, 'option onLanuch must be one of onLaunch, onKill, onShutdown');
  assert.match(error.message, '(unknown option)');
});

Options('refuses a callback that is not a function, naming it', () => {
  const error = thrown(() => checkCallbacks({ onKill: 42 } as never));
  assert.is(error.code, 'ERR_INVALID_OPTION');
  assert.is(error.message, 'option onKill must be a function, got 42');
  assert.not.throws(() => checkCallbacks({ onKill: undefined }), 'undefined means "not given"');
});

Options.run();

// ---- Callbacks ----

const Calls = suite('Callbacks');

Calls('calls the named callback with its arguments; has() tells which are given; a missing one is a no-op', () => {
  const seen: Array<[string, number]> = [];
  const callbacks = new Callbacks({ onKill: (taskId, grace) => void seen.push([taskId, grace]) });
  callbacks.call('onKill', 'task-1', 2_000);
  assert.equal(seen, [['task-1', 2_000]]);
  assert.ok(callbacks.has('onKill'));
  assert.not.ok(callbacks.has('onLaunch'));
  assert.not.throws(() => callbacks.call('onLaunch', commandTask('task-2', 'true')));
});

Calls('a callback that throws goes to onError, and call() returns normally', () => {
  const errors: Error[] = [];
  const callbacks = new Callbacks({
    onResubscribed: () => {
      throw new Error('boom');
    },
    onError: (error) => void errors.push(error),
  });
  callbacks.call('onResubscribed');
  assert.equal(errors.map((e) => e.message), ['boom']);
});

Calls('a callback whose promise rejects goes to onError once it rejects', async () => {
  const errors: Error[] = [];
  const callbacks = new Callbacks({
    onLaunch: async (task: TaskInfo) => {
      throw new Error(`cannot launch ${task.taskId}`);
    },
    onError: (error) => void errors.push(error),
  });
  callbacks.call('onLaunch', commandTask('task-1', 'true'));
  assert.equal(errors, [], 'not before the promise has rejected');
  await turn();
  assert.equal(errors.map((e) => e.message), ['cannot launch task-1']);
});

Calls('a thrown value that is not an Error reaches onError as an Error showing the value', () => {
  const errors: Error[] = [];
  const callbacks = new Callbacks({
    onMessage: () => {
      throw 'a string';
    },
    onError: (error) => void errors.push(error),
  });
  callbacks.call('onMessage', new Uint8Array([1]));
  assert.instance(errors[0], Error);
  assert.is(errors[0]!.message, '"a string"');
});

Calls('report() hands the error to onError as it is', () => {
  const errors: Error[] = [];
  const error = new LifelineError('ERR_PROTOCOL', 'bad frame');
  new Callbacks({ onError: (e) => void errors.push(e) }).report(error);
  assert.is(errors[0], error);
});

async function runFixture(mode: string): Promise<Proc> {
  const proc = new Proc(process.execPath, [CALLBACKS_FIXTURE, mode]);
  await proc.waitForExit(10_000);
  return proc;
}

Calls('without onError, a throwing callback is rethrown after call() returned: uncaught, like an unhandled "error"', async () => {
  const proc = await runFixture('throw');
  assert.match(proc.stdout, 'returned', 'call() itself did not throw');
  assert.is(proc.exit?.code, 1);
  assert.match(proc.stderr, 'boom from onLaunch');
});

Calls('without onError, a rejecting callback is rethrown too', async () => {
  const proc = await runFixture('reject');
  assert.is(proc.exit?.code, 1);
  assert.match(proc.stderr, 'async boom from onLaunch');
});

Calls('an onError that throws is rethrown, not swallowed', async () => {
  const proc = await runFixture('throwing-onError');
  assert.match(proc.stdout, 'returned');
  assert.is(proc.exit?.code, 1);
  assert.match(proc.stderr, 'boom from onError');
});

Calls('without onError, report() emits a process warning and the process lives on', async () => {
  const proc = await runFixture('report');
  assert.is(proc.exit?.code, 0, proc.stderr);
  assert.match(proc.stdout, 'warning: the outbox cannot be written');
  assert.match(proc.stdout, 'returned');
});

Calls.run();

// ---- takeEnvironment ----

const Environment = suite('takeEnvironment');

function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    LIFELINE_AGENT_ENDPOINT: '/run/lifeline/agent.sock',
    LIFELINE_AGENT_ID: 'agent-1',
    LIFELINE_FRAMEWORK_ID: 'framework-1',
    LIFELINE_EXECUTOR_ID: 'executor-1',
    LIFELINE_CONTAINER_ID: 'container-1',
    LIFELINE_DIRECTORY: '/var/lib/lifeline/sandbox',
    LIFELINE_CHECKPOINT: '1',
    LIFELINE_EXECUTOR_TOKEN: 'secret',
    ...extra,
  };
}

Environment('reads the environment and deletes the token from it, leaving the other variables', () => {
  const source = environment();
  const env = takeEnvironment(source);
  assert.is(env.token, 'secret');
  assert.is(env.executorId, 'executor-1');
  assert.is(env.checkpoint, true);
  assert.not.ok('LIFELINE_EXECUTOR_TOKEN' in source, 'tasks never inherit the token');
  assert.is(source.LIFELINE_EXECUTOR_ID, 'executor-1');
});

Environment('deletes the token even when the environment is invalid, and throws the EnvironmentError', () => {
  const source = environment({ LIFELINE_CHECKPOINT: 'yes' });
  const error = thrown(() => takeEnvironment(source));
  assert.instance(error, EnvironmentError);
  assert.is(error.code, 'ERR_ENVIRONMENT');
  assert.match(error.message, 'LIFELINE_CHECKPOINT');
  assert.not.ok('LIFELINE_EXECUTOR_TOKEN' in source);
});

Environment.run();

// ---- makeStatus ----

const Status = suite('makeStatus');

Status('fills in a fresh uuid, the timestamp and the executor source; optional fields only when given', () => {
  const before = Date.now();
  const first = makeStatus({ taskId: 'task-1', state: 'TASK_RUNNING' });
  const second = makeStatus({ taskId: 'task-1', state: 'TASK_RUNNING' });
  const after = Date.now();
  assert.match(first.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.is.not(first.uuid, second.uuid, 'each update has a uuid of its own');
  assert.ok(first.timestamp >= before && first.timestamp <= after);
  assert.equal(Object.keys(first).sort(), ['source', 'state', 'taskId', 'timestamp', 'uuid'], 'no undefined fields sent');
  assert.is(first.source, 'SOURCE_EXECUTOR');
});

Status('carries message, reason and data when given', () => {
  const data = new Uint8Array([1, 2, 3]);
  const status = makeStatus({ taskId: 'task-1', state: 'TASK_FAILED', message: 'exit 3', reason: 'REASON_EXECUTOR_RECOVERY_TIMEOUT', data });
  assert.is(status.message, 'exit 3');
  assert.is(status.reason, 'REASON_EXECUTOR_RECOVERY_TIMEOUT');
  assert.is(status.data, data);
});

Status('a message of exactly 64 KiB is accepted; one character more is refused', () => {
  assert.is(makeStatus({ taskId: 't', state: 'TASK_RUNNING', message: 'x'.repeat(64 * 1024) }).message!.length, 64 * 1024);
  const error = thrown(() => makeStatus({ taskId: 't', state: 'TASK_RUNNING', message: 'x'.repeat(64 * 1024 + 1) }));
  assert.is(error.code, 'ERR_INVALID_OPTION');
  assert.match(error.message, 'option message must be a string of at most 65536 characters');
});

Status('refuses a bad update field by field, with ERR_INVALID_OPTION naming the field', () => {
  const cases: Array<[unknown, string]> = [
    [null, 'option update must be an object'],
    [{ taskId: '../etc', state: 'TASK_RUNNING' }, 'option taskId must be an ID matching'],
    [{ taskId: 'task-1', state: 'RUNNING' }, 'option state must be one of TASK_STAGING'],
    [{ taskId: 'task-1', state: 'TASK_NEWER_THAN_US' }, 'option state must be one of'],
    [{ taskId: 'task-1', state: 'TASK_RUNNING', reason: 'REASON_MADE_UP' }, 'option reason must be one of REASON_AGENT_DISCONNECTED'],
    [{ taskId: 'task-1', state: 'TASK_RUNNING', message: 42 }, 'option message must be a string'],
    [{ taskId: 'task-1', state: 'TASK_RUNNING', data: [1, 2] }, 'option data must be a Uint8Array, got [1,2]'],
  ];
  for (const [update, message] of cases) {
    const error = thrown(() => makeStatus(update as ExecutorUpdate));
    assert.is(error.code, 'ERR_INVALID_OPTION', JSON.stringify(update));
    assert.match(error.message, message);
  }
});

Status.run();

// ---- DRIVER_TRANSITIONS ----

const States = suite('DRIVER_TRANSITIONS');

const ALL: DriverState[] = ['NEW', 'CONNECTING', 'SUBSCRIBING', 'SUBSCRIBED', 'DISCONNECTED', 'STOPPED'];

States('every state but STOPPED may stop, and STOPPED is final', () => {
  for (const state of ALL) {
    const machine = new StateMachine<DriverState>('driver', state, DRIVER_TRANSITIONS);
    assert.is(machine.can('STOPPED'), state !== 'STOPPED', state);
  }
  assert.equal(DRIVER_TRANSITIONS.STOPPED, []);
});

States('a subscription goes NEW → CONNECTING → SUBSCRIBING → SUBSCRIBED, and back through DISCONNECTED after a break', () => {
  const machine = new StateMachine<DriverState>('the executor driver', 'NEW', DRIVER_TRANSITIONS);
  for (const to of ['CONNECTING', 'SUBSCRIBING', 'SUBSCRIBED', 'DISCONNECTED', 'CONNECTING', 'DISCONNECTED', 'CONNECTING'] as const) machine.transition(to);
  assert.is(machine.state, 'CONNECTING');
});

States('refuses to skip the handshake or to reconnect without a disconnection, by name', () => {
  const machine = new StateMachine<DriverState>('the executor driver', 'NEW', DRIVER_TRANSITIONS);
  assert.throws(() => machine.transition('SUBSCRIBED'), (error: unknown) => error instanceof IllegalStateError && /from NEW to SUBSCRIBED/.test(error.message));
  machine.transition('CONNECTING');
  machine.transition('SUBSCRIBING');
  machine.transition('SUBSCRIBED');
  assert.not.ok(machine.can('CONNECTING'), 'a subscribed driver disconnects first');
});

States.run();
