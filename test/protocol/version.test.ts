// Protocol versions (issue 11): the range a release serves, what each first frame says, the
// version two peers agree on or the refusal naming both, and statuses shaped for protocol 1.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  answeredVersion,
  firstFrameVersion,
  isVersionRefusal,
  negotiate,
  OLDEST_PROTOCOL_VERSION,
  peerVersion,
  PROTOCOL_VERSION,
  ProtocolVersionError,
  RELEASE,
  shapeStatus,
  versionFields,
} from '../../src/protocol/version.js';
import { AgentCall, ExecutorCall, SchedulerCall, validate } from '../../src/protocol/index.js';

const test = suite('protocol versions');

test('this release is the package version, speaks protocol 2 and still serves protocol 1 (0.1.0)', () => {
  const pkg = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
  assert.is(RELEASE, pkg.version);
  assert.is(PROTOCOL_VERSION, 2);
  assert.is(OLDEST_PROTOCOL_VERSION, 1);
  assert.equal(firstFrameVersion(), { protocol: 1, protocolMax: 2, release: RELEASE });
});

test('reads a 0.1.0 first frame (executor protocol 1, or no version at all) as protocol 1', () => {
  assert.equal(peerVersion({ protocol: 1 }), { oldest: 1, newest: 1, release: undefined });
  assert.equal(peerVersion({}), { oldest: 1, newest: 1, release: undefined });
  assert.equal(answeredVersion({}), { protocol: 1, release: undefined });
  assert.equal(peerVersion({ protocol: 1, protocolMax: 4, release: '0.5.0' }), { oldest: 1, newest: 4, release: '0.5.0' });
});

test('agrees on the highest version both speak', () => {
  assert.is(negotiate(peerVersion({}), 'agent a'), 1);
  assert.is(negotiate(peerVersion({ protocol: 1, protocolMax: 2 }), 'agent a'), 2);
  assert.is(negotiate(peerVersion({ protocol: 2, protocolMax: 9 }), 'agent a'), 2);
});

test('refuses a range that does not meet its own, naming both sides and which is too old', () => {
  const tooNew = () => negotiate(peerVersion({ protocol: 3, protocolMax: 4, release: '1.0.0' }), 'executor e1');
  assert.throws(tooNew, (error: unknown) => error instanceof ProtocolVersionError && error.code === 'ERR_PROTOCOL_VERSION'
    && /executor e1 speaks protocols 3\.\.4 \(lifeline 1\.0\.0\) and this peer speaks protocols 1\.\.2 \(lifeline 0\.2\.0\): it is newer than this release/.test(error.message));
  const tooOld = () => negotiate(peerVersion({ protocol: 1 }), 'agent a1', { oldest: 2, current: 3 });
  assert.throws(tooOld, (error: unknown) => error instanceof ProtocolVersionError && /agent a1 speaks protocol 1 and this peer speaks protocols 2\.\.3 .*too old/.test(error.message));
});

test('tells a version refusal apart from other errors, in its own words and in 0.1.0\'s', () => {
  assert.ok(isVersionRefusal('ERR_PROTOCOL_VERSION', 'whatever'));
  assert.ok(isVersionRefusal('ERR_PROTOCOL', 'executor protocol 2 is not supported (this agent speaks 1)'));
  assert.not.ok(isVersionRefusal('ERR_PROTOCOL', 'invalid UPDATE frame: field status.uuid'));
  assert.not.ok(isVersionRefusal('ERR_UNAUTHORIZED', 'protocol 2 is not supported'));
});

test('shapes a status for protocol 1: unknown reason and source dropped, unknown state sent as TASK_RUNNING with its name', () => {
  const known = { taskId: 't', state: 'TASK_FINISHED', uuid: 'aaaaaaaa', timestamp: 1, reason: 'REASON_RECONCILIATION', source: 'SOURCE_AGENT' };
  assert.is(shapeStatus(known, 1), known);
  const future = { taskId: 't', state: 'TASK_PAUSED', uuid: 'aaaaaaaa', timestamp: 1, reason: 'REASON_FUTURE', source: 'SOURCE_FUTURE', message: 'why' };
  assert.is(shapeStatus(future, 2), future);
  assert.equal(shapeStatus(future, 1), { taskId: 't', state: 'TASK_RUNNING', uuid: 'aaaaaaaa', timestamp: 1, message: 'TASK_PAUSED: why' });
});

test('the version fields pass every link\'s first-frame schema and are copied only when present', () => {
  const agentInfo = { hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true };
  const register = validate(AgentCall, { type: 'REGISTER', agentInfo, ...firstFrameVersion() }, 'frame');
  assert.equal(versionFields(register as Parameters<typeof versionFields>[0]), firstFrameVersion());
  assert.equal(versionFields({ protocol: 1 }), { protocol: 1 });
  validate(SchedulerCall, { type: 'SUBSCRIBE', frameworkInfo: { name: 'f' }, ...firstFrameVersion() }, 'frame');
  validate(ExecutorCall, { type: 'SUBSCRIBE', frameworkId: 'f', executorId: 'e', containerId: 'c', token: 't', unacknowledgedTasks: [], unacknowledgedUpdates: [], ...firstFrameVersion() }, 'frame');
  assert.throws(() => validate(AgentCall, { type: 'REGISTER', agentInfo, release: 'not a version!' }, 'frame'), /release/);
  assert.throws(() => validate(AgentCall, { type: 'REGISTER', agentInfo, protocolMax: 0 }, 'frame'), /protocolMax/);
});

test.run();
