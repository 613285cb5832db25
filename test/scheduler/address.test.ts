import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatAddress, parseAddress } from '../../src/scheduler/address.js';

const test = suite('scheduler address');

test('parses HOST:PORT and [IPV6]:PORT as operators write them', () => {
  assert.equal(parseAddress('127.0.0.1:5050'), { host: '127.0.0.1', port: 5050 });
  assert.equal(parseAddress('master-1.example:1'), { host: 'master-1.example', port: 1 });
  assert.equal(parseAddress('[::1]:65535'), { host: '::1', port: 65_535 });
});

test('refuses what is not one address: no port, a bad port, a bad host, a URL, a list, not a string', () => {
  for (const text of ['127.0.0.1', ':5050', 'host:0', 'host:65536', 'host:123456', '-bad:5050', 'a..b:5050', 'http://h:1', 'h:1,h:2', '::1:5050', ' h:1', 5050, undefined]) {
    assert.is(parseAddress(text), undefined, `${JSON.stringify(text)} was accepted`);
  }
});

test('formats an address for a URL, with IPv6 hosts in brackets, the inverse of parsing', () => {
  assert.is(formatAddress({ host: '127.0.0.1', port: 5050 }), '127.0.0.1:5050');
  assert.is(formatAddress({ host: '::1', port: 5050 }), '[::1]:5050');
  for (const text of ['127.0.0.1:5050', '[::1]:80', 'example:443']) assert.is(formatAddress(parseAddress(text)!), text);
});

test.run();
