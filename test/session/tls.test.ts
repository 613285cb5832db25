import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readPem, splitScheme, webSocketUrl } from '../../src/session/tls.js';

test('splitScheme takes https:// (and a trailing slash) off; anything else is the address as written', () => {
  assert.equal(splitScheme('https://127.0.0.1:5050'), { secure: true, address: '127.0.0.1:5050' });
  assert.equal(splitScheme('HTTPS://master.example.com:5050/'), { secure: true, address: 'master.example.com:5050' });
  assert.equal(splitScheme('127.0.0.1:5050'), { secure: false, address: '127.0.0.1:5050' });
  assert.equal(splitScheme('http://h:1'), { secure: false, address: 'http://h:1' }, 'left for the address check to refuse');
});

test('webSocketUrl uses wss:// for https:// and ws:// otherwise', () => {
  assert.is(webSocketUrl(splitScheme('https://[::1]:5050'), '/api/v1/agent'), 'wss://[::1]:5050/api/v1/agent');
  assert.is(webSocketUrl(splitScheme('h:1'), '/api/v1/scheduler'), 'ws://h:1/api/v1/scheduler');
});

test('readPem names the flag, the file and the reason', () => {
  assert.throws(() => readPem('--ssl_ca_file', '/nonexistent/ca.pem'), (error: Error & { code?: string }) => error.code === 'ERR_INVALID_FLAG' && /--ssl_ca_file=\/nonexistent\/ca\.pem: ENOENT/.test(error.message));
});

test.run();
