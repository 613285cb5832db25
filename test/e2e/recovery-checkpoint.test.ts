// Agent recovery end to end, from a damaged or unusual checkpoint: --recover=cleanup, strict and
// non-strict recovery over a corrupt JSON file and a corrupt record, a torn tail, stray temp files
// of interrupted atomic writes (DESIGN §5, §7 steps 1–3). (Mesos: CleanupExecutor; the damage
// cases have no Mesos scenario: its state.cpp reader is what they port.)
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeRecords, parseRecordLog, RECORD_HEADER_BYTES, tempPathFor } from '../../src/checkpoint/index.js';
import { isAlive, lifeline, waitFor } from '../helpers.js';
import { scenario, waitingTask, type Framework, type RunPaths, type Scenario, type ScenarioContext } from './scenario.js';

const Checkpoint = suite<ScenarioContext>('Recovery: from the checkpoint on disk');

Checkpoint.after.each(async (ctx) => {
  await ctx.s?.cleanup();
  ctx.s = undefined;
});

/** The value of a Prometheus counter (0 when absent). */
function counter(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Launches a waiting task, waits for TASK_RUNNING and for the agent to have recorded the framework's acknowledgement of it. */
async function runningTask(s: Scenario, fw: Framework, taskId: string): Promise<{ run: RunPaths; updates: string }> {
  await fw.launch([waitingTask(taskId)]);
  await fw.waitFor(taskId, 'TASK_RUNNING');
  const run = s.run(fw, taskId);
  await s.shimWithTask(run, taskId);
  const updates = s.taskUpdatesPath(run, taskId);
  const running = fw.of(taskId).find((st) => st.state === 'TASK_RUNNING')!;
  await waitFor(() => {
    const { records } = parseRecordLog(fs.readFileSync(updates), { file: updates, strict: true });
    return records.some((r) => r.kind === 'ACK' && r.uuid === running.uuid);
  }, { message: `the ACK of TASK_RUNNING recorded in ${updates}` });
  return { run, updates };
}

Checkpoint(
  '--recover=cleanup kills the old executors and their tasks and exits 0 without registering; the next start forwards their terminal updates',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run } = await runningTask(s, fw, 't1');
    const shim = s.shim(run);

    await s.killAgent();
    const cleanup = await s.startAgent(['--recover=cleanup'], { waitRunning: false });
    const exit = await cleanup.waitForExit(15_000);
    assert.is(exit.code, 0, s.logs());
    await s.expectDead([shim.pid, shim.tasks[0]!.pgid], 'the old executor and its task');
    await s.expectNoProcesses();
    assert.is(await s.masterAgentStatus(run.agentId), 'DISCONNECTED', 'cleanup does not register with the master');
    assert.ok(fs.existsSync(path.join(s.workDir, 'meta', 'agents', 'latest')), 'meta/agents/latest is kept');
    assert.equal(fw.terminals('t1'), [], 'nothing forwarded yet');

    await s.startAgent();
    const agent = await s.waitAgentRunning();
    assert.is(agent.id, run.agentId, 're-registers under its ID');
    const terminal = await fw.waitTerminal('t1');
    // The shim, shut down by the cleanup, killed its task and recorded TASK_KILLED; the agent kept it.
    assert.equal([terminal.state, terminal.source], ['TASK_KILLED', 'SOURCE_EXECUTOR'], fw.describe('t1'));
    assert.equal(fw.terminals('t1').map((t) => t.state), ['TASK_KILLED'], fw.describe('t1'));
    await s.expectNoProcesses();
  }),
);

Checkpoint(
  'strict recovery refuses a corrupt JSON file, naming it and the two ways out; --strict=false skips that framework and recovers the rest',
  scenario({}, async (s) => {
    await s.startAgent();
    const good = await s.framework({ name: 'good' });
    const bad = await s.framework({ name: 'bad' });
    const { run: goodRun } = await runningTask(s, good, 'g1');
    const { run: badRun } = await runningTask(s, bad, 'b1');
    const goodShim = s.shim(goodRun);
    const badShim = s.shim(badRun);

    await s.killAgent();
    const frameworkJson = path.join(s.workDir, 'meta', 'agents', badRun.agentId, 'frameworks', bad.frameworkId, 'framework.json');
    const corrupt = '{"id": "' + bad.frameworkId + '", "name": "bad", "checkpo';
    fs.writeFileSync(frameworkJson, corrupt);

    const strict = await s.startAgent([], { waitRunning: false });
    const exit = await strict.waitForExit(15_000);
    assert.is(exit.code, 1, `strict recovery fails\n${s.logs()}`);
    assert.ok(strict.stderr.includes(frameworkJson) || strict.stderr.includes(path.relative(s.workDir, frameworkJson)), `names the file\n${strict.stderr}`);
    assert.match(strict.stderr, /--strict=false/);
    assert.match(strict.stderr, /meta\/agents\/latest/);
    assert.is(fs.readFileSync(frameworkJson, 'utf8'), corrupt, 'strict recovery changes nothing');
    assert.ok(isAlive(goodShim.pid) && isAlive(badShim.pid), 'the executors still wait for their agent');

    // `lifeline inspect` sees the same damage, and changes nothing either.
    const inspectStrict = lifeline(['inspect', `--work_dir=${s.workDir}`]);
    assert.is((await inspectStrict.waitForExit()).code, 1, inspectStrict.stdout + inspectStrict.stderr);
    assert.ok(inspectStrict.stderr.includes('framework.json'), inspectStrict.stderr);
    const inspect = lifeline(['inspect', `--work_dir=${s.workDir}`, '--strict=false', '--json']);
    assert.is((await inspect.waitForExit()).code, 0, inspect.stderr);
    const report = JSON.parse(inspect.stdout) as { agentId: string; errors: Array<{ file: string }>; frameworks: Array<{ id: string }> };
    assert.is(report.agentId, badRun.agentId);
    assert.ok(report.errors.some((e) => e.file.endsWith('framework.json')), inspect.stdout);
    assert.equal(report.frameworks.map((f) => f.id), [good.frameworkId], 'the damaged framework is skipped, the other one shown');
    assert.is(fs.readFileSync(frameworkJson, 'utf8'), corrupt);

    await s.startAgent(['--strict=false']);
    const agent = await s.waitAgentRunning();
    const executor = agent.frameworks.find((f) => f.id === good.frameworkId)?.executors.find((e) => e.id === goodRun.executorId);
    assert.is(executor?.pid, goodShim.pid, `the intact framework's executor reconnected: ${JSON.stringify(agent)}`);
    assert.ok(counter(await s.agentMetrics(), 'lifeline_agent_recovery_errors_total') >= 1, 'the skipped damage is counted');
    // The executor of the skipped framework is unknown to this agent: told to shut down, it kills its task.
    await s.expectDead([badShim.pid, badShim.tasks[0]!.pgid], 'the executor of the skipped framework and its task');
    const lost = await bad.waitTerminal('b1');
    assert.equal([lost.state, lost.reason], ['TASK_LOST', 'REASON_RECONCILIATION'], bad.describe('b1'));

    s.release(goodRun);
    await good.waitFor('g1', 'TASK_FINISHED');
    await s.expectNoProcesses();
  }),
);

Checkpoint(
  'strict recovery refuses a corrupt record in task.updates, naming the file and offset; --strict=false truncates the log there and recovers',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, updates } = await runningTask(s, fw, 't1');
    const shim = s.shim(run);

    await s.killAgent();
    const original = fs.readFileSync(updates);
    const { records, offsets } = parseRecordLog(original, { file: updates, strict: true });
    assert.ok(records.length >= 3, `at least three records: ${JSON.stringify(records)}`);
    // Damage a record that is not the last one: corruption, not a torn tail.
    const damaged = offsets[records.length - 2]!;
    const bytes = Buffer.from(original);
    bytes[damaged + RECORD_HEADER_BYTES + 1]! ^= 0xff;
    fs.writeFileSync(updates, bytes);

    const strict = await s.startAgent([], { waitRunning: false });
    assert.is((await strict.waitForExit(15_000)).code, 1, `strict recovery fails\n${s.logs()}`);
    assert.ok(strict.stderr.includes('task.updates'), strict.stderr);
    assert.ok(strict.stderr.includes(String(damaged)), `names offset ${damaged}\n${strict.stderr}`);
    assert.ok(fs.readFileSync(updates).equals(bytes), 'strict recovery changes nothing');

    await s.startAgent(['--strict=false']);
    const agent = await s.waitAgentRunning();
    assert.is(agent.frameworks.find((f) => f.id === fw.frameworkId)?.executors.find((e) => e.id === run.executorId)?.pid, shim.pid, JSON.stringify(agent));
    assert.ok(counter(await s.agentMetrics(), 'lifeline_agent_recovery_errors_total') >= 1, 'the skipped damage is counted');
    const after = fs.readFileSync(updates);
    assert.ok(after.subarray(0, damaged).equals(original.subarray(0, damaged)), 'the records before the damage are kept');
    parseRecordLog(after, { file: updates, strict: true }); // no corruption left (throws otherwise)

    s.release(run);
    await fw.waitFor('t1', 'TASK_FINISHED');
    await s.expectNoProcesses();
  }),
);

Checkpoint(
  'a torn tail is truncated without error, even in strict mode',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run, updates } = await runningTask(s, fw, 't1');
    const shim = s.shim(run);

    await s.killAgent();
    const original = fs.readFileSync(updates);
    const torn = encodeRecords([{ kind: 'UPDATE', status: { taskId: 't1', state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now(), source: 'SOURCE_EXECUTOR' } }]);
    fs.appendFileSync(updates, torn.subarray(0, RECORD_HEADER_BYTES + 3)); // a good header, a payload cut short

    await s.startAgent(); // strict (the default)
    const agent = await s.waitAgentRunning();
    assert.is(agent.frameworks.find((f) => f.id === fw.frameworkId)?.executors.find((e) => e.id === run.executorId)?.pid, shim.pid);
    assert.is(counter(await s.agentMetrics(), 'lifeline_agent_recovery_errors_total'), 0, 'a torn tail is not an error');
    const after = fs.readFileSync(updates);
    assert.ok(after.subarray(0, original.length).equals(original), 'the intact records are kept');
    assert.not.ok(parseRecordLog(after, { file: updates, strict: true }).tornTail, 'the torn bytes are gone');

    s.release(run);
    await fw.waitFor('t1', 'TASK_FINISHED');
    assert.equal(fw.terminals('t1').map((t) => t.state), ['TASK_FINISHED']);
    await s.expectNoProcesses();
  }),
);

Checkpoint(
  'stray temp files of interrupted atomic writes are removed on recovery, even in strict mode',
  scenario({}, async (s) => {
    await s.startAgent();
    const fw = await s.framework();
    const { run } = await runningTask(s, fw, 't1');
    const shim = s.shim(run);

    await s.killAgent();
    const agentDir = path.join(s.workDir, 'meta', 'agents', run.agentId);
    const strays = [
      tempPathFor(path.join(agentDir, 'agent.json')),
      tempPathFor(path.join(agentDir, 'frameworks', fw.frameworkId, 'framework.json')),
      tempPathFor(path.join(run.meta, 'forked.json')),
      tempPathFor(path.join(run.meta, 'tasks', 't1', 'task.json')),
    ];
    for (const stray of strays) fs.writeFileSync(stray, '{"half": "writ');

    await s.startAgent();
    const agent = await s.waitAgentRunning();
    assert.is(agent.frameworks.find((f) => f.id === fw.frameworkId)?.executors.find((e) => e.id === run.executorId)?.pid, shim.pid);
    for (const stray of strays) assert.not.ok(fs.existsSync(stray), `${stray} removed`);

    s.release(run);
    await fw.waitFor('t1', 'TASK_FINISHED');
    await s.expectNoProcesses();
  }),
);

Checkpoint.run();
