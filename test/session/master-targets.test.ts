// Which master a client connects to next: hosts in turn, a leader a standby named, and (issue 14)
// a leader written https://HOST:PORT — by etcd or a standby — reached over WSS even when the client
// was given a plain address.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMasterSpec } from '../../src/protocol/index.js';
import { MasterTargets } from '../../src/session/master-targets.js';
import type { Transport, TransportEvents } from '../../src/session/transport.js';

const Targets = suite('MasterTargets');

/** A connector's calls, recorded: the URLs it was asked to open. */
function recorder(targets: MasterTargets): { urls: string[]; attempt(): void } {
  const urls: string[] = [];
  const connector = targets.connector('/api/v1/agent', (url) => {
    urls.push(url);
    return { isOpen: false, bufferedAmount: 0, send: () => false, close: () => {}, terminate: () => {} } as unknown as Transport;
  });
  return { urls, attempt: () => void connector({} as TransportEvents) };
}

Targets('a host list is tried in turn over ws', () => {
  const targets = new MasterTargets(parseMasterSpec('127.0.0.1:5050,127.0.0.1:5051', 'test'));
  const { urls, attempt } = recorder(targets);
  attempt();
  targets.failed('127.0.0.1:5050');
  attempt();
  assert.equal(urls, ['ws://127.0.0.1:5050/api/v1/agent', 'ws://127.0.0.1:5051/api/v1/agent']);
});

Targets('https:// given: every master is reached over wss', () => {
  const targets = new MasterTargets(parseMasterSpec('127.0.0.1:5050', 'test'), undefined, true);
  const { urls, attempt } = recorder(targets);
  attempt();
  assert.equal(urls, ['wss://127.0.0.1:5050/api/v1/agent']);
  assert.is(targets.description, 'https://127.0.0.1:5050');
});

Targets('a leader named https://HOST:PORT is reached over wss, and the list resumes after it fails', () => {
  const targets = new MasterTargets(parseMasterSpec('127.0.0.1:5050,127.0.0.1:5051', 'test'));
  const { urls, attempt } = recorder(targets);
  targets.follow('https://127.0.0.1:6060');
  attempt();
  assert.is(targets.last, 'https://127.0.0.1:6060');
  targets.failed('https://127.0.0.1:6060');
  attempt();
  assert.equal(urls, ['wss://127.0.0.1:6060/api/v1/agent', 'ws://127.0.0.1:5050/api/v1/agent']);
});

Targets.run();
