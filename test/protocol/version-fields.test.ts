// The version fields every link's first frame and its answer spread in (protocol/version-fields.ts):
// all optional (0.1.0 sent none but the executor's `protocol`), each bounded, the answer without
// `protocolMax`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { AnswerVersion, FirstFrameVersion } from '../../src/protocol/version-fields.js';
import { AgentEvent, ExecutorCall, SchedulerCall, validate } from '../../src/protocol/index.js';
import { refusal } from './refusal.js';

const test = suite('protocol/version-fields');

const First = v.object({ ...FirstFrameVersion });
const Answer = v.object({ ...AnswerVersion });

test('a first frame carries protocol, protocolMax and release; an answer protocol and release', () => {
  assert.equal(Object.keys(FirstFrameVersion).sort(), ['protocol', 'protocolMax', 'release']);
  assert.equal(Object.keys(AnswerVersion).sort(), ['protocol', 'release']);
});

test('every field may be left out, as 0.1.0 did', () => {
  assert.equal(validate(First, {}, 'first frame'), {});
  assert.equal(validate(Answer, {}, 'answer'), {});
  assert.equal(validate(First, { protocol: 1, protocolMax: 2, release: '0.2.0' }, 'first frame'), { protocol: 1, protocolMax: 2, release: '0.2.0' });
});

test('a protocol version is an integer from 1 to 1000000', () => {
  for (const good of [1, 2, 1_000_000]) assert.ok(v.is(First, { protocol: good, protocolMax: good }), String(good));
  assert.match(refusal(First, { protocol: 0 }, 'first frame'), /^invalid first frame: field protocol invalid value: Expected >=1 but received 0: 0$/);
  assert.match(refusal(First, { protocolMax: 1_000_001 }, 'first frame'), /field protocolMax invalid value/);
  assert.match(refusal(First, { protocolMax: 1.5 }, 'first frame'), /field protocolMax invalid integer/);
  assert.match(refusal(First, { protocol: '1' }, 'first frame'), /field protocol invalid type: Expected number/);
  assert.match(refusal(Answer, { protocol: -2 }, 'answer'), /field protocol/);
});

test('a release is 1 to 64 of digits, letters and . + -', () => {
  for (const good of ['0.2.0', '1.0.0-rc.1', '0.3.0+build.7', 'x'.repeat(64)]) assert.ok(v.is(Answer, { release: good }), good);
  for (const bad of ['', 'x'.repeat(65), '0.2.0 beta', '0.2.0/../x', 'v1_0', 2]) {
    assert.not.ok(v.is(First, { release: bad }), String(bad));
  }
  assert.is(refusal(First, { release: '0.2 0' }, 'first frame'), 'invalid first frame: field release must be a release version like 0.2.0: "0.2 0"');
});

test('an answer drops a protocolMax (only the agreed version is answered)', () => {
  assert.equal(validate(Answer, { protocol: 2, protocolMax: 3, release: '0.2.0' }, 'answer'), { protocol: 2, release: '0.2.0' });
});

test('the links\' first frames and answers check them by name', () => {
  const subscribe = { type: 'SUBSCRIBE', frameworkId: 'f', executorId: 'e', containerId: 'c', token: 't', protocol: 1, unacknowledgedTasks: [], unacknowledgedUpdates: [] };
  assert.is(validate(ExecutorCall, { ...subscribe, protocolMax: 2, release: '0.2.0' }, 'frame').type, 'SUBSCRIBE');
  assert.match(refusal(ExecutorCall, { ...subscribe, protocolMax: 0 }), /^invalid SUBSCRIBE frame: field protocolMax /);
  assert.match(refusal(SchedulerCall, { type: 'SUBSCRIBE', frameworkInfo: { name: 'f', user: 'u' }, release: 'bad release' }), /^invalid SUBSCRIBE frame: field release must be a release version like 0\.2\.0/);
  assert.match(refusal(AgentEvent, { type: 'REGISTERED', agentId: 'a', pingIntervalMs: 1000, protocol: 0 }), /^invalid REGISTERED frame: field protocol /);
});

test.run();
