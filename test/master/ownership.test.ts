// Who may register as an agent or framework ID, against a real Registry: an unowned ID is anyone's
// (a principal claims it), an owned one its owner's only, and a refusal names both principals.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from '../../src/master/registry.js';
import { notItsTask, ownership } from '../../src/master/ownership.js';
import { UnauthorizedError } from '../../src/protocol/errors.js';

/** The UnauthorizedError `run` threw (fails the test otherwise). */
function unauthorized(run: () => unknown): UnauthorizedError {
  try {
    run();
  } catch (error) {
    assert.instance(error, UnauthorizedError);
    assert.is((error as UnauthorizedError).code, 'ERR_UNAUTHORIZED');
    return error as UnauthorizedError;
  }
  assert.unreachable('the registration was allowed');
  throw new Error('unreachable');
}

const test = suite('master ownership');

test('an unowned ID registered without authentication is acted on as its owner, and stays unowned', () => {
  const registry = new Registry();
  assert.is(ownership(registry, 'agent', 'agent-1', undefined, 'reregister'), 'owner');
  assert.is(registry.owner('agent', 'agent-1'), undefined);
});

test('an unowned ID registered by a principal is claimed', () => {
  const registry = new Registry();
  assert.is(ownership(registry, 'framework', 'fw-1', 'alice', 'subscribe as'), 'claim');
  assert.is(ownership(registry, 'agent', 'agent-1', 'alice', 'reregister'), 'claim');
});

test('an ID owned by the same principal is acted on as its owner', () => {
  const registry = new Registry();
  registry.setOwner('framework', 'fw-1', 'alice');
  assert.is(ownership(registry, 'framework', 'fw-1', 'alice', 'subscribe as'), 'owner');
});

test('an ID owned by another principal is refused with ERR_UNAUTHORIZED naming both', () => {
  const registry = new Registry();
  registry.setOwner('agent', 'agent-1', 'alice');
  const error = unauthorized(() => ownership(registry, 'agent', 'agent-1', 'mallory', 'reregister'));
  assert.is(error.message, 'agent agent-1 belongs to principal alice: principal mallory cannot reregister it');
});

test('an owned ID is refused to an unauthenticated peer', () => {
  const registry = new Registry();
  registry.setOwner('framework', 'fw-1', 'alice');
  const error = unauthorized(() => ownership(registry, 'framework', 'fw-1', undefined, 'subscribe as'));
  assert.match(error.message, /framework fw-1 belongs to principal alice: an unauthenticated peer cannot subscribe as it/);
});

test('owners are kept per kind: an agent ID says nothing of a framework of the same ID', () => {
  const registry = new Registry();
  registry.setOwner('agent', 'same-id', 'alice');
  assert.is(ownership(registry, 'framework', 'same-id', 'bob', 'subscribe as'), 'claim');
  unauthorized(() => ownership(registry, 'agent', 'same-id', 'bob', 'reregister'));
});

test("an agent acting on another's task is refused naming the agent, its principal, the task and where", () => {
  const error = notItsTask('agent-2', 'bob', 'update', 'fw-1', 't-1', 'the task runs on agent-1');
  assert.instance(error, UnauthorizedError);
  assert.is(error.message, 'agent agent-2 (principal bob) cannot update task t-1 of framework fw-1: the task runs on agent-1');
  assert.match(notItsTask('agent-2', undefined, 'update', 'fw-1', 't-1', 'x').message, /\(an unauthenticated peer\)/);
});

test.run();
