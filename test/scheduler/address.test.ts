import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatAddress, parseAddress } from '../../src/scheduler/address.js';

const address = suite('scheduler/address');

address('parses a host name or IPv4 address and a port', () => {
  assert.equal(parseAddress('127.0.0.1:5050'), { host: '127.0.0.1', port: 5050 });
  assert.equal(parseAddress('localhost:1'), { host: 'localhost', port: 1 });
  assert.equal(parseAddress('master-1.example.com:65535'), { host: 'master-1.example.com', port: 65_535 });
});

address('parses a bracketed IPv6 address and drops the brackets', () => {
  assert.equal(parseAddress('[::1]:5050'), { host: '::1', port: 5050 });
  assert.equal(parseAddress('[fe80::1:2]:80'), { host: 'fe80::1:2', port: 80 });
  assert.equal(parseAddress('[::ffff:127.0.0.1]:5050'), { host: '::ffff:127.0.0.1', port: 5050 });
});

address('refuses ports outside 1-65535 and addresses without a port', () => {
  for (const text of ['127.0.0.1:0', 'host:65536', 'host:123456', 'host:', 'host', ':5050', 'host:50a', 'host:-1']) {
    assert.is(parseAddress(text), undefined, text);
  }
});

address('refuses an IPv6 address without brackets and brackets around something else', () => {
  for (const text of ['::1:5050', 'fe80::1:80', '[localhost]:5050', '[::1]5050', '[::1]:']) {
    assert.is(parseAddress(text), undefined, text);
  }
});

address('refuses host names with spaces, schemes, paths or bad labels', () => {
  for (const text of ['ws://host:5050', 'host/x:5050', 'my host:5050', ' host:5050', 'host:5050 ', '-host:5050', 'a..b:5050', 'host.:5050', '.host:5050', 'hóst:5050', `${'a'.repeat(64)}:5050`, 'a_b:5050']) {
    assert.is(parseAddress(text), undefined, text);
  }
  assert.ok(parseAddress(`${'a'.repeat(63)}:5050`));
});

address('refuses anything that is not a string', () => {
  for (const value of [undefined, null, 5050, { host: 'h', port: 1 }, ['h:1']]) assert.is(parseAddress(value), undefined);
});

address('formats IPv6 hosts in brackets and others as they are', () => {
  assert.is(formatAddress({ host: '127.0.0.1', port: 5050 }), '127.0.0.1:5050');
  assert.is(formatAddress({ host: 'localhost', port: 80 }), 'localhost:80');
  assert.is(formatAddress({ host: '::1', port: 5050 }), '[::1]:5050');
});

address('formats back to the text it parsed', () => {
  for (const text of ['127.0.0.1:5050', '[::1]:5050', 'node-2.local:8080']) assert.is(formatAddress(parseAddress(text)!), text);
});

address.run();
