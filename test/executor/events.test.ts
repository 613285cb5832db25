import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeEvent } from '../../src/executor/events.js';
import { ExecutorEvent, ProtocolError, decodeFrame, encode } from '../../src/protocol/index.js';

const task = {
  taskId: 't1',
  name: 'sleep',
  agentId: 'a1',
  resources: { cpus: 0.1, mem: 32, disk: 10 },
  command: { value: 'sleep 1' },
  executor: { executorId: 'e1', frameworkId: 'f1', command: { value: 'x' }, name: 'n', shutdownGracePeriodMs: 5 },
  killPolicy: { gracePeriodMs: 100 },
  data: new Uint8Array([1, 2, 3]),
};

/** One valid event of every type (with every optional field somewhere). */
const VALID: Record<string, unknown>[] = [
  {
    type: 'SUBSCRIBED',
    agentId: 'a1',
    containerId: 'c1',
    executorInfo: { executorId: 'e1', frameworkId: 'f1', command: { value: 'lifeline shim' } },
    frameworkInfo: { id: 'f1', name: 'fw', failoverTimeoutMs: 1000 },
    heartbeatIntervalMs: 5000,
  },
  { type: 'LAUNCH', task },
  { type: 'LAUNCH', task: { taskId: 't2', name: '', agentId: 'a1', resources: { cpus: 0, mem: 0 } } },
  { type: 'KILL', taskId: 't1' },
  { type: 'KILL', taskId: 't1', gracePeriodMs: 0 },
  { type: 'ACKNOWLEDGED', taskId: 't1', uuid: '0e6f4c2a-8d1b-4c8e-9f7a-2b3c4d5e6f70' },
  { type: 'MESSAGE', data: Buffer.from('hello') },
  { type: 'SHUTDOWN', gracePeriodMs: 2000 },
  { type: 'HEARTBEAT' },
  { type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'wrong token' },
];

/** What valibot (the agent's check) says about a value: its output, or that it fails. */
function valibot(value: unknown): { ok: true; output: unknown } | { ok: false } {
  try {
    return { ok: true, output: decodeFrame(ExecutorEvent, encode(value)) };
  } catch (error) {
    assert.instance(error, ProtocolError);
    return { ok: false };
  }
}

/** What decodeEvent (the executor side) says: its output, or the ProtocolError's message. */
function light(value: unknown): { ok: true; output: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, output: decodeEvent(encode(value)) };
  } catch (error) {
    assert.instance(error, ProtocolError);
    assert.is((error as ProtocolError).code, 'ERR_PROTOCOL');
    return { ok: false, message: (error as Error).message };
  }
}

const Events = suite('decodeEvent (the executor side checks agent events with the ExecutorEvent valibot schema)');

Events('accepts every valid event with the same output as the agent-side valibot schema', () => {
  for (const event of VALID) {
    const expected = valibot(event);
    const actual = light(event);
    assert.ok(expected.ok, `valibot accepts ${event.type}`);
    assert.ok(actual.ok, `decodeEvent accepts ${event.type}: ${(actual as { message?: string }).message}`);
    assert.equal((actual as { output: unknown }).output, (expected as { output: unknown }).output);
  }
});

Events('drops unknown keys and fills frameworkInfo.checkpoint with false, as valibot does', () => {
  const result = light({ ...VALID[0], extra: 1, frameworkInfo: { name: 'fw', junk: true } });
  assert.ok(result.ok);
  const output = (result as { output: Record<string, unknown> }).output;
  assert.not.ok('extra' in output);
  assert.equal(output.frameworkInfo, { name: 'fw', checkpoint: false });
});

Events('rejects a missing required field and a bad value with a ProtocolError naming the field', () => {
  const missing = light({ type: 'SUBSCRIBED', ...VALID[0], heartbeatIntervalMs: undefined });
  assert.not.ok(missing.ok);
  assert.match((missing as { message: string }).message, /invalid SUBSCRIBED frame: field heartbeatIntervalMs /);
  const bad = light({ type: 'SHUTDOWN', gracePeriodMs: -1 });
  assert.not.ok(bad.ok);
  assert.match((bad as { message: string }).message, /invalid SHUTDOWN frame: field gracePeriodMs .*-1/);
});

Events('names the type, the field and the value in its error, like the agent', () => {
  const result = light({ type: 'LAUNCH', task: { ...task, taskId: '../x' } });
  assert.not.ok(result.ok);
  assert.match((result as { message: string }).message, /invalid LAUNCH frame: field task\.taskId .*"\.\.\/x"/);
  assert.match((light({ type: 'NOPE' }) as { message: string }).message, /unknown type "NOPE"/);
  assert.match((light([1, 2]) as { message: string }).message, /must be an object/);
  assert.throws(() => decodeEvent(Buffer.from([0x92, 0x01])), (error: Error) => error instanceof ProtocolError && /not valid msgpack/.test(error.message));
});

Events.run();
