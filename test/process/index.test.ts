// The process barrel: pid + start time, liveness and process-group kill, each the defining
// module's own binding, and nothing of its own.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as processIndex from '../../src/process/index.js';
import type { GroupIdentity, KillGroupResult, LeaderState, ProcStat, TerminateGroupResult } from '../../src/process/index.js';
import * as killGroup from '../../src/process/kill-group.js';
import * as procStat from '../../src/process/proc-stat.js';

/** What the agent, the executor side and the checkpoint import from the barrel. */
const USED = ['ProcessIdentity', 'bootId', 'groupIsEmpty', 'groupMembers', 'isSameProcess', 'killGroup', 'listProcesses', 'parseProcStat', 'processIdentity', 'readProcStat', 'terminateGroup'];

// The types its users take from the barrel (a missing one fails the build).
export type Surface = [GroupIdentity, KillGroupResult, LeaderState, ProcStat, TerminateGroupResult, processIndex.ProcessIdentity];

const exported = processIndex as unknown as Record<string, unknown>;
const test = suite('process/index');

test('exports every name of proc-stat and kill-group, as their own bindings, and nothing else', () => {
  const modules: Record<string, Record<string, unknown>> = { procStat, killGroup };
  const expected: string[] = [];
  for (const [from, module] of Object.entries(modules)) {
    for (const name of Object.keys(module)) {
      expected.push(name);
      assert.is(exported[name], module[name], `${name} from ${from}`);
    }
  }
  assert.equal(Object.keys(processIndex).sort(), expected.sort());
});

test('exports what the rest of lifeline imports from it', () => {
  for (const name of USED) assert.ok(exported[name] !== undefined, `${name} is exported`);
});

test('works through the barrel: this process is itself, by pid and start time', () => {
  const me = processIndex.processIdentity(process.pid);
  assert.ok(me, 'this process has an identity');
  assert.is(me!.pid, process.pid);
  assert.ok(processIndex.isSameProcess(me!));
  assert.not.ok(processIndex.isSameProcess({ pid: process.pid, startTime: me!.startTime + 1 }), 'another start time is another process');
});

test.run();
