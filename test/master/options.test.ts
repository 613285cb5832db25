import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveHa, resolveOptions } from '../../src/master/options.js';
import { InvalidOptionError } from '../../src/protocol/index.js';

/** Asserts that `fn` throws an InvalidOptionError whose message matches `pattern`. */
function refuses(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof InvalidOptionError && error.code === 'ERR_INVALID_OPTION' && pattern.test(error.message));
}

const Options = suite('resolveOptions');

Options('fills in the defaults and keeps what is given', () => {
  const resolved = resolveOptions({ port: 0, offerTimeoutMs: 5_000 });
  assert.is(resolved.ip, '127.0.0.1');
  assert.is(resolved.port, 0);
  assert.is(resolved.offerTimeoutMs, 5_000);
  assert.is(resolved.allocationIntervalMs, 1_000);
  assert.is(resolved.maxFrameBytes, 1_048_576);
  assert.is(resolved.maxConnectionBufferBytes, 64 * 1024 * 1024);
});

Options('refuses a bad value, naming the option and echoing the value', () => {
  refuses(() => resolveOptions(null as never), /option options must be an object/);
  refuses(() => resolveOptions({ port: 70_000 }), /option port must be an integer from 0 to 65535, got 70000/);
  refuses(() => resolveOptions({ ip: '' }), /option ip must be a non-empty host address/);
  refuses(() => resolveOptions({ offerTimeoutMs: 2 ** 31 }), /option offerTimeoutMs must be a number of milliseconds from 1 to 2147483647/);
  refuses(() => resolveOptions({ maxAgentPingTimeouts: 0 }), /option maxAgentPingTimeouts must be a positive integer/);
  refuses(() => resolveOptions({ maxConnections: 1.5 }), /option maxConnections must be a positive integer/);
  refuses(() => resolveOptions({ maxReregisterBytes: 1024 }), /option maxReregisterBytes must be an integer of at least 65536/);
  refuses(() => resolveOptions({ maxFrameBytes: 100 }), /option maxFrameBytes must be an integer of at least 1024/);
  refuses(() => resolveOptions({ logger: {} as never }), /option logger must be a Logger/);
});

Options.run();

const Ha = suite('resolveHa');

Ha('fills in the lease, the removal limit and the advertised address', () => {
  assert.equal(resolveHa({}), { workDir: undefined, registry: undefined, leaderLeaseTtlMs: 10_000, recoveryAgentRemovalLimit: 1, advertiseIp: '127.0.0.1', onDeposed: undefined });
  assert.is(resolveHa({ ip: '10.0.0.7' }).advertiseIp, '10.0.0.7');
  // A master on every interface is reached on loopback unless told otherwise.
  assert.is(resolveHa({ ip: '0.0.0.0' }).advertiseIp, '127.0.0.1');
  assert.is(resolveHa({ ip: '::', advertiseIp: 'master-1' }).advertiseIp, 'master-1');
});

Ha('refuses a bad value, naming the option', () => {
  refuses(() => resolveHa({ workDir: '' }), /option workDir must be a directory path/);
  refuses(() => resolveHa({ leaderLeaseTtlMs: 500 }), /option leaderLeaseTtlMs must be a number of milliseconds from 1000 to 3600000/);
  refuses(() => resolveHa({ recoveryAgentRemovalLimit: 1.5 }), /option recoveryAgentRemovalLimit must be a fraction from 0 to 1/);
  refuses(() => resolveHa({ onDeposed: 'no' as never }), /option onDeposed must be a function/);
  refuses(() => resolveHa({ advertiseIp: '' }), /option advertiseIp must be a host address/);
});

Ha.run();
