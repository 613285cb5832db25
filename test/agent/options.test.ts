import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentOptionError } from '../../src/agent/errors.js';
import { validateOptions, type AgentOptions } from '../../src/agent/options.js';
import { SocketPathTooLongError } from '../../src/protocol/index.js';

const base: AgentOptions = { master: '127.0.0.1:5050', workDir: '/tmp/ll-work', resources: { cpus: 2, mem: 1024, disk: 4096 } };

/** Validates `base` with `change` applied and returns the AgentOptionError (fails when it is accepted). */
function refusal(change: Record<string, unknown>): AgentOptionError {
  try {
    validateOptions({ ...base, ...change } as AgentOptions);
  } catch (error) {
    assert.instance(error, AgentOptionError);
    assert.is((error as AgentOptionError).code, 'ERR_INVALID_OPTION');
    return error as AgentOptionError;
  }
  assert.unreachable(`expected ${JSON.stringify(change)} to be refused`);
  throw new Error('unreachable');
}

const options = suite('agent/options');

options('fills in every default', () => {
  const config = validateOptions(base);
  assert.equal(config, {
    master: '127.0.0.1:5050',
    workDir: '/tmp/ll-work',
    runtimeDir: '/tmp/ll-work/run',
    socketPath: '/tmp/ll-work/run/executors/agent.sock',
    checkpoint: true,
    strict: true,
    recover: 'reconnect',
    recoveryTimeoutMs: 15 * 60_000,
    executorReregistrationTimeoutMs: 2_000,
    executorShutdownGracePeriodMs: 5_000,
    registrationBackoffFactorMs: 1_000,
    gcDelayMs: 7 * 24 * 3_600_000,
    sandboxLogMaxBytes: 10 * 1024 * 1024,
    sandboxLogMaxFiles: 5,
    sandboxLogCheckIntervalMs: 2_000,
    gcDiskHeadroom: 0.1,
    diskWatchIntervalMs: 60_000,
    statusUpdateRetryIntervalMinMs: 1_000,
    statusUpdateRetryIntervalMaxMs: 60_000,
    maxFrameBytes: 1024 * 1024,
    port: 5051,
    ip: '127.0.0.1',
    resources: { cpus: 2, mem: 1024, disk: 4096 },
    hostname: os.hostname(),
    executorHeartbeatIntervalMs: 5_000,
    checkpointBatching: true,
    maxStatusUpdatesPerTask: 10_000,
    maxStatusUpdateBytesPerTask: 16 * 1024 * 1024,
    executorBacklogMaxUpdates: 10_000,
    executorBacklogMaxBytes: 16 * 1024 * 1024,
    switchUser: true,
  });
  for (const name of ['maxStatusUpdatesPerTask', 'maxStatusUpdateBytesPerTask', 'executorBacklogMaxUpdates'] as const) {
    assert.is(refusal({ [name]: 0 }).option, name);
    assert.is(validateOptions({ ...base, [name]: 7 })[name], 7);
  }
  assert.is(refusal({ executorBacklogMaxBytes: 1000 }).option, 'executorBacklogMaxBytes', 'an executor backlog holds at least 1 KiB');
});

options('keeps the values given, and only the three resource amounts', () => {
  const config = validateOptions({
    ...base,
    runtimeDir: '/tmp/ll-rt',
    checkpoint: false,
    strict: false,
    recover: 'cleanup',
    executorShutdownGracePeriodMs: 0,
    port: 0,
    ip: '::1',
    hostname: 'node-7',
    maxFrameBytes: 1024,
    checkpointBatching: false,
    resources: { cpus: 0, mem: 0, disk: 0, gpus: 4 } as AgentOptions['resources'],
  });
  assert.is(config.socketPath, '/tmp/ll-rt/executors/agent.sock');
  assert.equal([config.checkpoint, config.strict, config.recover, config.checkpointBatching], [false, false, 'cleanup', false]);
  assert.equal([config.executorShutdownGracePeriodMs, config.port, config.ip, config.hostname, config.maxFrameBytes], [0, 0, '::1', 'node-7', 1024]);
  assert.equal(config.resources, { cpus: 0, mem: 0, disk: 0 });
});

options('makes a relative runtime dir absolute in the socket path', () => {
  const config = validateOptions({ ...base, runtimeDir: 'rt' });
  assert.is(config.socketPath, path.join(process.cwd(), 'rt', 'executors', 'agent.sock'));
});

options('moves the default runtime dir under the temp dir when the work dir is too deep for a socket', () => {
  const workDir = `/tmp/${'deep/'.repeat(25)}work`;
  const config = validateOptions({ ...base, workDir });
  assert.ok(config.runtimeDir.startsWith(path.join(os.tmpdir(), 'lifeline-')), config.runtimeDir);
  assert.ok(Buffer.byteLength(config.socketPath) <= 107, config.socketPath);
  assert.is(validateOptions({ ...base, workDir }).runtimeDir, config.runtimeDir, 'the same work dir gets the same runtime dir');
});

options('refuses a runtime dir whose socket path is too long, naming --runtime_dir', () => {
  try {
    validateOptions({ ...base, runtimeDir: `/tmp/${'r'.repeat(120)}` });
    assert.unreachable('expected a refusal');
  } catch (error) {
    assert.instance(error, SocketPathTooLongError);
    assert.match((error as Error).message, /choose a shorter --runtime_dir/);
  }
});

options('refuses options that are not an object', () => {
  for (const value of [null, undefined, 'master=x']) {
    try {
      validateOptions(value as unknown as AgentOptions);
      assert.unreachable('expected a refusal');
    } catch (error) {
      assert.instance(error, AgentOptionError);
      assert.is((error as AgentOptionError).option, 'options');
    }
  }
});

options('refuses a master that is not HOST:PORT, naming it', () => {
  for (const master of [undefined, '', 'localhost', '127.0.0.1:0', '127.0.0.1:70000', 'http://h:1', ':5050', 5050, 'a..b:5050', 'h:1,', 'etcd://h:1']) {
    const error = refusal({ master });
    assert.is(error.option, 'master', String(master));
    assert.match(error.message, /^option master must be HOST:PORT, HOST:PORT,HOST:PORT or etcd:\/\/HOST:PORT\/PREFIX, https:\/\/ before a host list for TLS \(.+\), got /);
  }
  assert.is(validateOptions({ ...base, master: 'm1:5050,m2:5050' }).master, 'm1:5050,m2:5050');
  assert.is(validateOptions({ ...base, master: 'etcd://127.0.0.1:2379/lifeline' }).master, 'etcd://127.0.0.1:2379/lifeline');
  assert.is(validateOptions({ ...base, master: '[::1]:5050' }).master, '[::1]:5050');
  assert.is(validateOptions({ ...base, master: 'master.example.com:1' }).master, 'master.example.com:1');
});

options('refuses each bad option, naming it and echoing the value', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['workDir', '', /must be a directory path, got ""/],
    ['workDir', 42, /must be a directory path, got 42/],
    ['runtimeDir', '', /must be a directory path/],
    ['recover', 'rebuild', /must be reconnect or cleanup, got "rebuild"/],
    ['port', -1, /must be a port number \(0-65535\), got -1/],
    ['port', 65_536, /got 65536/],
    ['port', 1.5, /got 1\.5/],
    ['ip', 'localhost', /must be an IP address, got "localhost"/],
    ['hostname', '', /must be a non-empty host name/],
    ['hostname', 'h'.repeat(1025), /must be a non-empty host name/],
    ['resources', { cpus: 1, mem: 1 }, /must be \{cpus, mem, disk\} with non-negative numbers/],
    ['resources', { cpus: -1, mem: 1, disk: 1 }, /non-negative/],
    ['resources', { cpus: '1', mem: 1, disk: 1 }, /non-negative/],
    ['resources', null, /got null/],
    ['maxFrameBytes', 1023, /must be an integer ≥ 1024, got 1023/],
    ['maxFrameBytes', 2048.5, /got 2048\.5/],
    ['checkpoint', 'yes', /must be a boolean, got "yes"/],
    ['strict', 1, /must be a boolean, got 1/],
    ['checkpointBatching', 'false', /must be a boolean/],
    ['recoveryTimeoutMs', 0, /must be a number of milliseconds ≥ 1, got 0/],
    ['executorReregistrationTimeoutMs', Infinity, /must be a number of milliseconds/],
    ['executorShutdownGracePeriodMs', -1, /≥ 0, got -1/],
    ['registrationBackoffFactorMs', '1s', /got "1s"/],
    ['gcDelayMs', NaN, /must be a number of milliseconds/],
    ['sandboxLogMaxBytes', 100, /≥ 1KB, got 100/],
    ['sandboxLogMaxFiles', 0, /an integer from 1 to 1000, got 0/],
    ['gcDiskHeadroom', 1.5, /a fraction from 0 to 1, got 1\.5/],
    ['gcDiskHeadroom', NaN, /a fraction/],
    ['diskWatchIntervalMs', 0, /≥ 1/],
    ['statusUpdateRetryIntervalMinMs', 0, /≥ 1/],
    ['statusUpdateRetryIntervalMaxMs', -5, /≥ 1/],
    ['executorHeartbeatIntervalMs', 0, /≥ 1/],
  ];
  for (const [option, value, pattern] of cases) {
    const error = refusal({ [option]: value });
    assert.is(error.option, option, `${option}=${String(value)} was refused as ${error.option}`);
    assert.ok(error.message.startsWith(`option ${option} must be `), error.message);
    assert.match(error.message, pattern);
  }
});

options('refuses a maximum status update retry interval below the minimum', () => {
  const error = refusal({ statusUpdateRetryIntervalMinMs: 5_000, statusUpdateRetryIntervalMaxMs: 4_000 });
  assert.is(error.option, 'statusUpdateRetryIntervalMaxMs');
  assert.match(error.message, /must be ≥ statusUpdateRetryIntervalMinMs \(5000\), got 4000/);
  assert.is(validateOptions({ ...base, statusUpdateRetryIntervalMinMs: 5_000, statusUpdateRetryIntervalMaxMs: 5_000 }).statusUpdateRetryIntervalMaxMs, 5_000);
});

options.run();
