import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentAlreadyRunningError, AgentInfoChangedError, AgentOptionError, RuntimeDirError } from '../../src/agent/errors.js';
import { InvalidOptionError, LifelineError } from '../../src/protocol/index.js';

const resources = { cpus: 2, mem: 1024, disk: 4096 };

const errors = suite('agent/errors');

errors('says another agent holds the socket, and which flag to change', () => {
  const error = new AgentAlreadyRunningError('/w/run/executors/agent.sock', '--runtime_dir');
  assert.instance(error, LifelineError);
  assert.is(error.code, 'ERR_AGENT_ALREADY_RUNNING');
  assert.is(error.name, 'AgentAlreadyRunningError');
  assert.is(error.message, 'another agent is already listening on /w/run/executors/agent.sock; stop it first, or give this agent another --runtime_dir');
});

errors('reports an unsafe runtime dir as an environment error with its cause', () => {
  const cause = new Error('EACCES');
  const error = new RuntimeDirError('/w/run belongs to uid 0', { cause });
  assert.is(error.code, 'ERR_ENVIRONMENT');
  assert.is(error.message, '/w/run belongs to uid 0');
  assert.is(error.cause, cause);
});

errors('an option error is an InvalidOptionError that keeps the option name for the CLI', () => {
  const error = new AgentOptionError('gcDelayMs', -1, 'a number of milliseconds ≥ 1');
  assert.instance(error, InvalidOptionError);
  assert.is(error.code, 'ERR_INVALID_OPTION');
  assert.is(error.name, 'AgentOptionError');
  assert.is(error.option, 'gcDelayMs');
  assert.is(error.message, 'option gcDelayMs must be a number of milliseconds ≥ 1, got -1');
});

errors('lists a changed hostname with both values, and what to do', () => {
  const error = new AgentInfoChangedError('/w/meta/slaves/a1/slave.info', { hostname: 'old', resources }, { hostname: 'new', resources }, '/w/meta/slaves/latest');
  assert.is(error.code, 'ERR_RECOVERY');
  assert.match(error.message, /^refusing to recover the agent: \/w\/meta\/slaves\/a1\/slave\.info records other values/);
  assert.match(error.message, /hostname "old" \(recorded\) vs "new" \(now\)/);
  assert.not.match(error.message, /resources cpus/);
  assert.match(error.message, /Restart with the recorded --hostname\/--resources, or remove \/w\/meta\/slaves\/latest to register as a new agent$/);
});

errors('lists changed resources, and both differences when both changed', () => {
  const more = { ...resources, mem: 2048 };
  const onlyResources = new AgentInfoChangedError('f', { hostname: 'h', resources }, { hostname: 'h', resources: more }, 'l');
  assert.match(onlyResources.message, /resources cpus:2;mem:1024;disk:4096 \(recorded\) vs cpus:2;mem:2048;disk:4096 \(now\)/);
  assert.not.match(onlyResources.message, /hostname "/);
  const both = new AgentInfoChangedError('f', { hostname: 'a', resources }, { hostname: 'b', resources: more }, 'l');
  assert.match(both.message, /hostname "a" \(recorded\) vs "b" \(now\); resources /);
});

errors('keeps the recorded and the current values for programs', () => {
  const recorded = { hostname: 'a', resources };
  const current = { hostname: 'b', resources };
  const error = new AgentInfoChangedError('f', recorded, current, 'l');
  assert.equal(error.recorded, recorded);
  assert.equal(error.current, current);
});

errors.run();
