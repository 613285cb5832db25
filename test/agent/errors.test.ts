import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentAlreadyRunningError, AgentInfoChangedError, AgentOptionError, RuntimeDirError } from '../../src/agent/errors.js';
import { InvalidOptionError, LifelineError } from '../../src/protocol/errors.js';

const test = suite('agent errors');

test('a second agent on the same runtime dir is told what to do, naming the socket and the flag', () => {
  const error = new AgentAlreadyRunningError('/run/ll/executors/agent.sock', '--runtime_dir');
  assert.is(error.code, 'ERR_AGENT_ALREADY_RUNNING');
  assert.match(error.message, /already listening on \/run\/ll\/executors\/agent\.sock; stop it first, or give this agent another --runtime_dir/);
});

test('a bad option keeps its name, so that the CLI can name the flag', () => {
  const error = new AgentOptionError('recoveryTimeoutMs', -5, 'a positive number of milliseconds');
  assert.instance(error, InvalidOptionError);
  assert.is(error.option, 'recoveryTimeoutMs');
  assert.is(error.code, 'ERR_INVALID_OPTION');
  assert.match(error.message, /recoveryTimeoutMs must be a positive number of milliseconds, got -5/);
});

test('a changed agent names each difference with both values and both ways out', () => {
  const recorded = { hostname: 'node-1', resources: { cpus: 2, mem: 1024, disk: 100 } };
  const error = new AgentInfoChangedError('/w/meta/agents/a1/agent.json', recorded, { hostname: 'node-2', resources: { cpus: 4, mem: 1024, disk: 100 } }, '/w/meta/agents/latest');
  assert.is(error.code, 'ERR_RECOVERY');
  assert.match(error.message, /hostname "node-1" \(recorded\) vs "node-2" \(now\)/);
  assert.match(error.message, /resources cpus:2;mem:1024;disk:100 \(recorded\) vs cpus:4;mem:1024;disk:100 \(now\)/);
  assert.match(error.message, /remove \/w\/meta\/agents\/latest to register as a new agent/);
  assert.equal(error.recorded, recorded);
  const onlyHost = new AgentInfoChangedError('f', recorded, { ...recorded, hostname: 'other' }, 'l');
  assert.not.match(onlyHost.message, /resources cpus/);
});

test('a runtime dir that cannot hold the socket safely is an environment error with its cause', () => {
  const cause = new Error('EACCES');
  const error = new RuntimeDirError('/tmp/x is owned by uid 1001', { cause });
  assert.instance(error, LifelineError);
  assert.is(error.code, 'ERR_ENVIRONMENT');
  assert.is(error.cause, cause);
});

test.run();
