import os from 'node:os';
import type { IncomingMessage } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { originRefusal } from '../../src/session/origin.js';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('accepts an upgrade without Origin (the agent, the driver, the executor send none)', () => {
  assert.is(originRefusal(request({ host: '127.0.0.1:5050' })), undefined);
});

test("accepts the server's own origin on an IP, localhost or this machine's name", () => {
  for (const host of ['127.0.0.1:5050', '[::1]:5050', 'localhost:5050', `${os.hostname()}:5050`, '10.1.2.3:80']) {
    assert.is(originRefusal(request({ host, origin: `http://${host}` })), undefined, host);
  }
  assert.is(originRefusal(request({ host: '127.0.0.1:5050', origin: 'https://127.0.0.1:5050' })), undefined);
});

test('refuses a foreign origin, naming it and the Host', () => {
  const why = originRefusal(request({ host: '127.0.0.1:5050', origin: 'http://evil.example' }));
  assert.match(why ?? '', /Origin http:\/\/evil\.example is not this server's own \(127\.0\.0\.1:5050\)/);
  assert.match(originRefusal(request({ host: '127.0.0.1:5050', origin: 'http://127.0.0.1:8080' })) ?? '', /not this server's own/);
  assert.match(originRefusal(request({ host: '127.0.0.1:5050', origin: 'null' })) ?? '', /is not a URL/);
  assert.match(originRefusal(request({ host: '127.0.0.1:5050', origin: 'file:///x' })) ?? '', /not an http\(s\) origin/);
  assert.match(originRefusal(request({ origin: 'http://127.0.0.1:5050' })) ?? '', /no Host header/);
});

test('refuses a DNS-rebinding page: its origin matches its Host, but under a name that is not ours', () => {
  assert.match(originRefusal(request({ host: 'rebind.evil.example:5050', origin: 'http://rebind.evil.example:5050' })) ?? '', /names the host rebind\.evil\.example/);
});

test.run();
