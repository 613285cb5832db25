// AgentPings on a stand-in connection whose timer is fired by hand: a PING each interval, a PONG
// starting the count again, and the connection dropped after maxPingTimeouts unanswered in a row.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log.js';
import { AgentPings, type PingedConnection } from '../../src/master/agent-pings.js';
import type { AgentEvent } from '../../src/protocol/index.js';

const Pings = suite('master/agent-pings: AgentPings');

function connection() {
  const state = { ms: 0, tick: () => {}, sent: [] as AgentEvent[], terminated: 0 };
  const conn: PingedConnection = {
    every: (ms, fn) => {
      state.ms = ms;
      state.tick = fn;
    },
    send: (event) => (state.sent.push(event), true),
    terminate: () => void (state.terminated += 1),
  };
  return { conn, state };
}

Pings('sends a PING every interval on the connection', () => {
  const { conn, state } = connection();
  new AgentPings(conn, 'a1', { intervalMs: 15_000, maxPingTimeouts: 5, logger: silentLogger });
  assert.is(state.ms, 15_000);
  state.tick();
  state.tick();
  assert.equal(state.sent, [{ type: 'PING' }, { type: 'PING' }]);
});

Pings('drops the connection after maxPingTimeouts PINGs in a row without a PONG, and says so', () => {
  const { conn, state } = connection();
  const warned: unknown[] = [];
  const logger = { ...silentLogger, warn: (obj: object | string, msg?: string) => void warned.push([obj, msg]) };
  const pings = new AgentPings(conn, 'a1', { intervalMs: 10, maxPingTimeouts: 2, logger });
  state.tick(); // PING 1
  state.tick(); // missed 1, PING 2
  assert.is(pings.missed, 1);
  assert.is(state.terminated, 0);
  state.tick(); // missed 2: dropped
  assert.is(state.terminated, 1);
  assert.is(state.sent.length, 2, 'no PING after the last one missed');
  assert.equal(warned, [[{ agentId: 'a1', missed: 2 }, 'agent did not answer pings: disconnecting it']]);
});

Pings('a PONG starts the count again', () => {
  const { conn, state } = connection();
  const pings = new AgentPings(conn, 'a1', { intervalMs: 10, maxPingTimeouts: 2, logger: silentLogger });
  state.tick();
  state.tick();
  assert.is(pings.missed, 1);
  pings.pong();
  assert.is(pings.missed, 0);
  state.tick();
  state.tick();
  assert.is(state.terminated, 0);
  assert.is(state.sent.length, 4);
});

Pings.run();
