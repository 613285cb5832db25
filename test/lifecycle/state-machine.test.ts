import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StateMachine } from '../../src/lifecycle/state-machine.js';
import { IllegalStateError } from '../../src/protocol/index.js';

type S = 'RECOVERING' | 'DISCONNECTED' | 'RUNNING' | 'TERMINATING';
const allowed: Record<S, readonly S[]> = {
  RECOVERING: ['DISCONNECTED', 'TERMINATING'],
  DISCONNECTED: ['RUNNING', 'TERMINATING'],
  RUNNING: ['DISCONNECTED', 'TERMINATING'],
  TERMINATING: [],
};

const test = suite('StateMachine');

test('moves along allowed transitions and reports each move', () => {
  const moves: string[] = [];
  const machine = new StateMachine<S>('agent', 'RECOVERING', allowed, (from, to) => moves.push(`${from}>${to}`));
  machine.transition('DISCONNECTED');
  machine.transition('RUNNING');
  machine.transition('TERMINATING');
  assert.is(machine.state, 'TERMINATING');
  assert.equal(moves, ['RECOVERING>DISCONNECTED', 'DISCONNECTED>RUNNING', 'RUNNING>TERMINATING']);
});

test('refuses an illegal move by name', () => {
  const machine = new StateMachine<S>('agent', 'RUNNING', allowed);
  try {
    machine.transition('RECOVERING');
    assert.unreachable('an illegal move was allowed');
  } catch (error) {
    assert.instance(error, IllegalStateError);
    assert.is((error as IllegalStateError).code, 'ERR_ILLEGAL_STATE');
    assert.is((error as Error).message, 'cannot move agent from RUNNING to RECOVERING');
  }
  assert.is(machine.state, 'RUNNING');
});

test('asserts that an action is allowed in the current state', () => {
  const machine = new StateMachine<S>('agent', 'TERMINATING', allowed);
  assert.throws(() => machine.assert(['RUNNING'], 'launch task t1'), /cannot launch task t1 in TERMINATING state/);
  machine.assert(['TERMINATING'], 'stop');
});

test('ensure() is idempotent: a move to the current state changes nothing and reports no move', () => {
  const moves: string[] = [];
  const machine = new StateMachine<S>('agent', 'RUNNING', allowed, (from, to) => moves.push(`${from}>${to}`));
  assert.is(machine.ensure('TERMINATING'), true);
  assert.is(machine.ensure('TERMINATING'), false);
  assert.equal(moves, ['RUNNING>TERMINATING']);
  assert.throws(() => machine.ensure('RUNNING'), /cannot move agent from TERMINATING to RUNNING/);
});

test('tryTransition() moves only where the table allows and never throws', () => {
  const machine = new StateMachine<S>('agent', 'RECOVERING', allowed);
  assert.is(machine.tryTransition('RUNNING'), false);
  assert.is(machine.state, 'RECOVERING');
  assert.is(machine.tryTransition('DISCONNECTED'), true);
  assert.is(machine.state, 'DISCONNECTED');
});

test('refuses an initial state missing from the table', () => {
  assert.throws(() => new StateMachine<S>('agent', 'NOPE' as S, allowed), /initial state NOPE is not in the table/);
});

test.run();
