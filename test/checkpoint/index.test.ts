// The checkpoint's barrel: everything its modules export, each the defining module's own binding,
// and nothing of its own. The framing, reading and group commit of record logs come through
// record-log.ts; disk-health.ts, compaction.ts and the recovery reader's parts are used by path.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as checkpoint from '../../src/checkpoint/index.js';
import type { LogRecord, RecoveredState, RecoverOptions, RecordLogContents, RunRef, TaskRef } from '../../src/checkpoint/index.js';
import * as atomicWrite from '../../src/checkpoint/atomic-write.js';
import * as checkpointer from '../../src/checkpoint/checkpointer.js';
import * as errors from '../../src/checkpoint/errors.js';
import * as files from '../../src/checkpoint/files.js';
import * as groupCommit from '../../src/checkpoint/group-commit.js';
import * as layout from '../../src/checkpoint/layout.js';
import * as recordFrame from '../../src/checkpoint/record-frame.js';
import * as recordLog from '../../src/checkpoint/record-log.js';
import * as recordLogRead from '../../src/checkpoint/record-log-read.js';
import * as records from '../../src/checkpoint/records.js';
import * as recover from '../../src/checkpoint/recover.js';
import * as shimInfo from '../../src/checkpoint/shim-info.js';
import * as state from '../../src/checkpoint/state.js';

/** The modules the barrel re-exports whole (`export *`). */
const MODULES: Record<string, Record<string, unknown>> = { errors, atomicWrite, records, recordLog, layout, shimInfo, files, state, checkpointer, recover };

/** What the agent, the CLI, the executor side and the harness import from the barrel. */
const USED = [
  'CheckpointCorruptError', 'Checkpointer', 'RecordLog', 'RECORD_HEADER_BYTES', 'encodeRecords', 'frameRecord', 'parseRecordLog', 'readRecordLog', 'repairRecordLog',
  'recoverState', 'readJson', 'readJsonSync', 'writeFileAtomic', 'writeJsonAtomic', 'writeJsonAtomicSync', 'makeDirDurable', 'isTempFileName', 'tempPathFor', 'removeStrayTempFiles',
  'readLatestSymlink', 'writeLatestSymlink', 'removeLatestSymlink', 'agentDir', 'agentInfoPath', 'bootIdPath', 'executorDir', 'executorInfoPath', 'forkedPath', 'frameworkDir',
  'frameworkInfoPath', 'frameworksDir', 'latestAgentPath', 'latestRunPath', 'outboxPath', 'runDir', 'runsDir', 'sandboxDir', 'sentinelPath', 'shimInfoPath', 'shimStateDir',
  'stderrPath', 'stdoutPath', 'taskDir', 'taskInfoPath', 'taskUpdatesPath', 'tokenHashPath',
];

// The types consumers take from the barrel (a missing one fails the build).
export type Surface = [LogRecord, RecoveredState, RecoverOptions, RecordLogContents, RunRef, TaskRef];

const exported = checkpoint as unknown as Record<string, unknown>;
const test = suite('checkpoint/index');

test('exports every name of the modules it re-exports, as their own bindings, and nothing of its own', () => {
  const expected = new Set<string>();
  for (const [from, module] of Object.entries(MODULES)) {
    for (const name of Object.keys(module)) {
      expected.add(name);
      assert.is(exported[name], module[name], `${name} from ${from}`);
    }
  }
  assert.equal(Object.keys(checkpoint).sort(), [...expected].sort());
});

test('exports what the rest of lifeline imports from it', () => {
  for (const name of USED) assert.ok(exported[name] !== undefined, `${name} is exported`);
});

test('exports the record log\'s framing, reading and group commit, from the modules that define them', () => {
  for (const name of ['RECORD_HEADER_BYTES', 'encodeRecords', 'frameRecord'] as const) assert.is(exported[name], recordFrame[name], name);
  for (const name of ['parseRecordLog', 'readRecordLog', 'repairRecordLog'] as const) assert.is(exported[name], recordLogRead[name], name);
  assert.is(exported.GroupCommitter, groupCommit.GroupCommitter);
});

test.run();
