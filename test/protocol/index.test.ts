// The protocol barrel (protocol/index.ts): it re-exports each of its modules whole, so no name is
// lost to two `export *` that clash (ESM drops such a name silently); the names the other layers
// import from it are there; and, as its comment says, the protocol imports nothing else of ours.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as protocol from '../../src/protocol/index.js';
import * as address from '../../src/protocol/address.js';
import * as agent from '../../src/protocol/agent.js';
import * as authentication from '../../src/protocol/authentication.js';
import * as bytes from '../../src/protocol/bytes.js';
import * as codec from '../../src/protocol/codec.js';
import * as common from '../../src/protocol/common.js';
import * as duration from '../../src/protocol/duration.js';
import * as errors from '../../src/protocol/errors.js';
import * as executor from '../../src/protocol/executor.js';
import * as ids from '../../src/protocol/ids.js';
import * as scheduler from '../../src/protocol/scheduler.js';
import * as tolerant from '../../src/protocol/tolerant.js';
import * as version from '../../src/protocol/version.js';
import { ROOT } from '../helpers.js';

const test = suite('protocol/index');

const MODULES: Record<string, object> = { address, agent, authentication, bytes, codec, common, duration, errors, executor, ids, scheduler, tolerant, version };

test('re-exports every runtime export of each protocol module, as the same object', () => {
  const barrel = protocol as Record<string, unknown>;
  for (const [name, module] of Object.entries(MODULES)) {
    for (const [key, value] of Object.entries(module)) {
      assert.ok(key in barrel, `${name}.${key} is missing from protocol/index`);
      assert.is(barrel[key], value, `${name}.${key}`);
    }
  }
});

test('exports what the master, agent, scheduler and CLI import from it', () => {
  const used = [
    'AgentCall', 'AgentEvent', 'ExecutorCall', 'SchedulerCall', 'SchedulerEvent', 'TaskInfo', 'FrameworkInfo', 'AgentInfo', 'ExecutorInfo', 'Id',
    'Principal', 'PRINCIPAL_PATTERN', 'CHALLENGE_BYTES', 'USER_PATTERN', 'TASK_STATES', 'isTerminal',
    'LifelineError', 'ProtocolError', 'ConnectionError', 'FlagError', 'IllegalStateError', 'InvalidOptionError', 'SocketPathTooLongError', 'UnauthenticatedError', 'UnauthorizedError', 'ProtocolVersionError', 'UnknownTypeError', 'UnknownTypes',
    'decode', 'encode', 'decodeFrame', 'validate', 'show', 'assertId', 'isValidId', 'newId',
    'firstFrameVersion', 'answerVersion', 'answeredVersion', 'versionFields', 'shapeStatus',
    'formatAddress', 'formatDuration', 'formatMasterSpec', 'parseMasterSpec', 'parseEtcdUrl',
    'MAX_OFFERS_PER_EVENT', 'MAX_REREGISTER_ITEMS', 'MAX_REREGISTER_PARTS', 'MAX_RESOURCE', 'REREGISTER_LISTS', 'REREGISTER_PART_BYTES', 'SCHEDULER_EVENT_TYPES',
  ];
  const missing = used.filter((name) => (protocol as Record<string, unknown>)[name] === undefined);
  assert.equal(missing, []);
});

test('the protocol imports nothing of ours outside src/protocol', () => {
  const dir = path.join(ROOT, 'src', 'protocol');
  const outside: string[] = [];
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const match of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)) {
      const specifier = match[1] ?? match[2]!;
      if (specifier.startsWith('.') && !specifier.startsWith('./')) outside.push(`${file}: ${specifier}`);
    }
  }
  assert.equal(outside, []);
});

test.run();
