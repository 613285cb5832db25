import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AddressError, formatMasterSpec, parseMasterSpec } from '../../src/protocol/address.js';

const address = suite('protocol/address: the one master address parser');

address('parses HOST:PORT, a list, and an etcd:// URL with its prefix', () => {
  assert.equal(parseMasterSpec('127.0.0.1:5050', '--master'), { kind: 'hosts', hosts: [{ host: '127.0.0.1', port: 5050 }] });
  assert.equal(parseMasterSpec('m1:5050,[::1]:5051', '--master'), { kind: 'hosts', hosts: [{ host: 'm1', port: 5050 }, { host: '::1', port: 5051 }] });
  assert.equal(parseMasterSpec('etcd://e1:2379,e2:2379/lifeline/prod', '--master'), {
    kind: 'etcd',
    endpoints: [{ host: 'e1', port: 2379 }, { host: 'e2', port: 2379 }],
    prefix: 'lifeline/prod',
  });
  assert.is(formatMasterSpec(parseMasterSpec('etcd://e1:2379/p', 'x')), 'etcd://e1:2379/p');
  assert.is(formatMasterSpec(parseMasterSpec('a:1,[::1]:2', 'x')), 'a:1,[::1]:2');
});

address('refuses bad values naming the flag, the value and what is wrong', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['a..b:5050', /"a\.\.b:5050" is not HOST:PORT/],
    ['h:1,', /"" is not HOST:PORT/],
    ['h:1,h:1', /h:1 is listed twice/],
    ['http://h:1', /the only scheme accepted is etcd:\/\//],
    ['etcd://h:2379', /no \/PREFIX/],
    ['etcd://h:2379/', /prefix "" must be/],
    ['etcd://h:2379/a b', /prefix "a b" must be/],
    ['etcd://h/p', /"h" is not HOST:PORT/],
    ['', /not a non-empty string/],
    [5050, /not a non-empty string/],
    [Array.from({ length: 33 }, (_, i) => `h${i}:1`).join(','), /more than 32 addresses/],
  ];
  for (const [value, why] of cases) {
    assert.throws(
      () => parseMasterSpec(value, '--master'),
      (error: unknown) => error instanceof AddressError && error.code === 'ERR_INVALID_FLAG' && error.message.startsWith('invalid value for --master: ') && why.test(error.message),
      String(value),
    );
  }
});

address.run();
