import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidIdError, InvalidOptionError, LifelineError } from '../../src/protocol/errors.js';
import { checkOptions, type SchedulerDriverOptions } from '../../src/scheduler/options.js';

const base = (): SchedulerDriverOptions => ({ master: '127.0.0.1:5050', frameworkInfo: { name: 'fw' } });

function refuses(options: unknown, pattern: RegExp, type: new (...args: never[]) => LifelineError = InvalidOptionError) {
  let caught: unknown;
  try {
    checkOptions(options as SchedulerDriverOptions);
  } catch (error) {
    caught = error;
  }
  assert.instance(caught, type, `expected a ${type.name} matching ${pattern}`);
  assert.match((caught as Error).message, pattern);
}

const options = suite('scheduler options');

options('accepts the smallest and a complete set of options', () => {
  checkOptions(base());
  checkOptions({
    master: '[::1]:5050',
    frameworkInfo: { name: 'fw', id: 'f-1', checkpoint: true, failoverTimeoutMs: 0 },
    autoAcknowledge: false,
    onSubscribed() {}, onOffers() {}, onRescind() {}, onUpdate: async () => {}, onMessage() {}, onFailure() {}, onError() {}, onDisconnected() {},
    backoffMinMs: 10, backoffMaxMs: 10, connectTimeoutMs: 500, maxFrameBytes: 1024,
  });
});

options('refuses a missing options object or a bad master address, naming the option and the value', () => {
  refuses(undefined, /^option options must be an object, got undefined$/);
  refuses({ ...base(), master: 'localhost' }, /^option master must be a HOST:PORT string .*, got "localhost"$/);
  refuses({ ...base(), master: 5050 }, /option master .*got 5050$/);
});

options('takes a client certificate as cert and key together, PEM as a string or Buffer', () => {
  checkOptions({ ...base(), master: 'https://127.0.0.1:5050', cert: 'PEM', key: Buffer.from('PEM') });
  refuses({ ...base(), cert: 'PEM' }, /^option key must be PEM .*cert and key go together/);
  refuses({ ...base(), key: 'PEM' }, /^option cert must be PEM .*cert and key go together/);
  refuses({ ...base(), cert: 5, key: 'PEM' }, /^option cert must be PEM as a string or Buffer, got 5$/);
});

options('refuses a bad frameworkInfo field by its dotted name', () => {
  refuses({ ...base(), frameworkInfo: null }, /^option frameworkInfo must be an object with a name, got null$/);
  refuses({ ...base(), frameworkInfo: { name: 5 } }, /^option frameworkInfo\.name /);
  refuses({ ...base(), frameworkInfo: { name: 'x'.repeat(1025) } }, /^option frameworkInfo\.name must be a string of at most 1024 characters/);
  refuses({ ...base(), frameworkInfo: { name: 'fw', id: 7 } }, /^option frameworkInfo\.id must be a framework ID string, got 7$/);
  refuses({ ...base(), frameworkInfo: { name: 'fw', checkpoint: 'yes' } }, /^option frameworkInfo\.checkpoint must be a boolean/);
  refuses({ ...base(), frameworkInfo: { name: 'fw', failoverTimeoutMs: 1.5 } }, /^option frameworkInfo\.failoverTimeoutMs .*got 1\.5$/);
  refuses({ ...base(), frameworkInfo: { name: 'fw', failoverTimeoutMs: -1 } }, /frameworkInfo\.failoverTimeoutMs/);
});

options('refuses a framework ID that cannot be a directory name with an InvalidIdError', () => {
  refuses({ ...base(), frameworkInfo: { name: 'fw', id: '../etc' } }, /^invalid frameworkInfo\.id: "\.\.\/etc"/, InvalidIdError);
});

options('refuses a callback that is not a function', () => {
  for (const name of ['onSubscribed', 'onOffers', 'onRescind', 'onUpdate', 'onMessage', 'onFailure', 'onError', 'onDisconnected']) {
    refuses({ ...base(), [name]: 'log' }, new RegExp(`^option ${name} must be a function, got "log"$`));
  }
  refuses({ ...base(), autoAcknowledge: 1 }, /^option autoAcknowledge must be a boolean, got 1$/);
});

options('refuses durations and sizes that are not positive finite numbers', () => {
  for (const name of ['backoffMinMs', 'backoffMaxMs', 'connectTimeoutMs', 'maxFrameBytes']) {
    for (const value of [0, -1, Infinity, NaN, '100']) refuses({ ...base(), [name]: value }, new RegExp(`^option ${name} must be a positive number`));
  }
});

options('refuses a backoff cap below its first delay, and lets a large first delay raise the default cap', () => {
  refuses({ ...base(), backoffMinMs: 500, backoffMaxMs: 100 }, /^option backoffMaxMs must be at least backoffMinMs \(500\), got 100$/);
  refuses({ ...base(), backoffMaxMs: 100 }, /^option backoffMaxMs must be at least backoffMinMs .*, got 100$/);
  checkOptions({ ...base(), backoffMinMs: 60_000 });
});

options.run();
