// A real checkpoint written by the Checkpointer, for the reader's tests, the fuzz loop and
// `lifeline inspect`: an agent with two frameworks, several executors, runs and tasks, updates and
// acks in task.updates, and each live run's sandbox with the executor's shim.json and outbox.log.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import {
  Checkpointer,
  outboxPath,
  RecordLog,
  sandboxDir,
  shimInfoPath,
  shimStateDir,
  writeJsonAtomic,
  type LogRecord,
  type RunRef,
  type TaskRef,
} from '../src/checkpoint/index.js';
import type { TaskInfo, TaskState, TaskStatus } from '../src/protocol/index.js';

export const AGENT = 'agent-1';
export const BOOT = 'boot-1';
export const TOKEN_HASH = 'ab'.repeat(32);

export interface SampleTask {
  ref: TaskRef;
  info: TaskInfo;
  updates: TaskStatus[];
  acks: string[];
}
export interface SampleRun {
  ref: RunRef;
  forked?: { pid: number; startTime: number };
  completed: boolean;
  shim: boolean;
  outbox: LogRecord[];
  tasks: SampleTask[];
}
export interface Sample {
  agentInfo: { id: string; hostname: string; resources: { cpus: number; mem: number; disk: number }; checkpoint: boolean };
  frameworks: Array<{ id: string; name: string; executors: Array<{ id: string; generated: boolean; command: string; latest: string; runs: SampleRun[] }> }>;
  runs: SampleRun[];
  tasks: SampleTask[];
}

let clock = 1_700_000_000_000;
export function status(taskId: string, state: TaskState, extra: Partial<TaskStatus> = {}): TaskStatus {
  clock += 1;
  return { taskId, state, uuid: randomUUID(), timestamp: clock, source: 'SOURCE_EXECUTOR', ...extra };
}

function taskInfo(ref: TaskRef, withData: boolean): TaskInfo {
  return {
    taskId: ref.taskId,
    name: `task ${ref.taskId}`,
    agentId: ref.agentId,
    resources: { cpus: 0.1, mem: 32 },
    command: { value: `echo ${ref.taskId}` },
    ...(withData ? { data: Buffer.from([0, 1, 2, 250, 255]) } : {}),
  };
}

/**
 * Writes the sample under `workDir` with a real Checkpointer (group commit) and returns what it
 * wrote. Runs: f1/e1 has an old completed run and a live latest one with two tasks; f1/t3 is a
 * command task's executor; f2/e2 is a live custom executor.
 */
export async function writeSample(workDir: string, { bootId = BOOT }: { bootId?: string } = {}): Promise<Sample> {
  const checkpointer = new Checkpointer({ workDir });
  try {
    const agentInfo = { id: AGENT, hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };
    await checkpointer.writeBootId(bootId);
    await checkpointer.checkpointAgent(agentInfo);
    const plan = [
      { framework: 'f1', name: 'web', executors: [{ id: 'e1', generated: false, runs: [{ c: 'c-old', completed: true, tasks: ['t0'] }, { c: 'c-new', completed: false, tasks: ['t1', 't2'] }] }, { id: 't3', generated: true, runs: [{ c: 'c3', completed: false, tasks: ['t3'] }] }] },
      { framework: 'f2', name: 'batch', executors: [{ id: 'e2', generated: false, runs: [{ c: 'c4', completed: false, tasks: ['t4'] }] }] },
    ];
    const sample: Sample = { agentInfo, frameworks: [], runs: [], tasks: [] };
    let pid = 1000;
    for (const f of plan) {
      await checkpointer.checkpointFramework({ agentId: AGENT }, { id: f.framework, name: f.name, checkpoint: true });
      const framework: Sample['frameworks'][number] = { id: f.framework, name: f.name, executors: [] };
      sample.frameworks.push(framework);
      for (const e of f.executors) {
        const command = e.generated ? 'lifeline shim' : `node executor-${e.id}.mjs`;
        const executorRef = { agentId: AGENT, frameworkId: f.framework, executorId: e.id };
        const executor = { id: e.id, generated: e.generated, command, latest: e.runs.at(-1)!.c, runs: [] as SampleRun[] };
        framework.executors.push(executor);
        for (const r of e.runs) {
          await checkpointer.checkpointExecutor(executorRef, { executorId: e.id, frameworkId: f.framework, command: { value: command } }, { generated: e.generated });
          const ref: RunRef = { ...executorRef, containerId: r.c };
          await checkpointer.checkpointRun(ref, { tokenHash: TOKEN_HASH });
          pid += 1;
          const forked = { pid, startTime: pid * 10 };
          await checkpointer.checkpointForked(ref, forked);
          const run: SampleRun = { ref, forked, completed: r.completed, shim: !r.completed, outbox: [], tasks: [] };
          for (const t of r.tasks) {
            const taskRef: TaskRef = { ...ref, taskId: t };
            const info = taskInfo(taskRef, t === 't1');
            await checkpointer.checkpointTask(taskRef, info);
            const task: SampleTask = { ref: taskRef, info, updates: [], acks: [] };
            run.tasks.push(task);
            sample.tasks.push(task);
          }
          executor.runs.push(run);
          sample.runs.push(run);
        }
      }
    }
    // Updates: every task STARTING + RUNNING, acked; the completed run's task and t3 finish; t2 has
    // a progress update (same state, data) that is not acknowledged yet.
    const byId = new Map(sample.tasks.map((task) => [task.ref.taskId, task]));
    const append = async (taskId: string, statusValue: TaskStatus, acked: boolean) => {
      const task = byId.get(taskId)!;
      task.updates.push(statusValue);
      await checkpointer.appendRecords([{ ref: task.ref, record: { kind: 'UPDATE', status: statusValue } }]);
      if (acked) {
        task.acks.push(statusValue.uuid);
        await checkpointer.appendRecords([{ ref: task.ref, record: { kind: 'ACK', uuid: statusValue.uuid } }]);
      }
    };
    for (const task of sample.tasks) {
      await append(task.ref.taskId, status(task.ref.taskId, 'TASK_STARTING'), true);
      await append(task.ref.taskId, status(task.ref.taskId, 'TASK_RUNNING'), true);
    }
    await append('t0', status('t0', 'TASK_FINISHED', { message: 'exit code 0' }), true);
    await append('t3', status('t3', 'TASK_FINISHED', { message: 'exit code 0' }), false);
    await append('t2', status('t2', 'TASK_RUNNING', { data: Buffer.from('progress 50%'), message: 'progress' }), false);
    await checkpointer.markCompleted(sample.runs[0]!.ref);
    // The executors' own files, in each live run's sandbox.
    for (const run of sample.runs) {
      const sandbox = sandboxDir(workDir, run.ref);
      fs.mkdirSync(shimStateDir(sandbox), { recursive: true });
      fs.writeFileSync(`${sandbox}/stdout`, 'hello\n');
      if (!run.shim) continue;
      await writeJsonAtomic(shimInfoPath(sandbox), {
        pid: run.forked!.pid,
        startTime: run.forked!.startTime,
        protocol: 1,
        executorId: run.ref.executorId,
        containerId: run.ref.containerId,
        tasks: run.tasks.map((task, index) => ({ taskId: task.ref.taskId, pgid: run.forked!.pid + 100 + index, startTime: run.forked!.startTime + 1 })),
      });
      const log = await RecordLog.open(outboxPath(sandbox));
      for (const task of run.tasks) {
        for (const update of task.updates) {
          run.outbox.push({ kind: 'UPDATE', status: update });
          if (task.acks.includes(update.uuid)) run.outbox.push({ kind: 'ACK', uuid: update.uuid });
        }
      }
      await log.append(run.outbox);
      await log.sync();
      await log.close();
    }
    return sample;
  } finally {
    await checkpointer.close();
  }
}

/** Every entry under `dir`: path → type, mode, size, content hash or symlink target (to prove nothing changed). */
export function treeSnapshot(dir: string): string {
  const lines: string[] = [];
  const walk = (current: string, rel: string) => {
    for (const name of fs.readdirSync(current).sort()) {
      const full = `${current}/${name}`;
      const relPath = rel ? `${rel}/${name}` : name;
      const stats = fs.lstatSync(full);
      const mode = (stats.mode & 0o7777).toString(8);
      if (stats.isSymbolicLink()) lines.push(`${relPath} link ${fs.readlinkSync(full)}`);
      else if (stats.isDirectory()) {
        lines.push(`${relPath} dir ${mode}`);
        walk(full, relPath);
      } else if (stats.isFile()) lines.push(`${relPath} file ${mode} ${stats.size} ${fs.readFileSync(full).toString('base64')}`);
      else lines.push(`${relPath} other ${mode}`);
    }
  };
  walk(dir, '');
  return lines.join('\n');
}

/** Copies a checkpoint tree as it is (symlinks as symlinks, modes kept); faster than fs.cpSync. */
export function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
    else if (entry.isDirectory()) copyTree(source, target);
    else fs.copyFileSync(source, target);
  }
}
