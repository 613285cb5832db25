// `lifeline inspect --work_dir=DIR [--strict=false] [--json]`: prints what a restarting agent would
// recover from DIR (DESIGN §5), without starting one and without changing anything on disk: the
// same reader as the agent's recovery, so an operator sees the same damage the agent would.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointCorruptError } from '../checkpoint/errors.js';
import { CheckpointFormatError, readCheckpointFormat, versionDocument, type CheckpointFormat } from '../checkpoint/format.js';
import { latestAgentPath, metaDir, sandboxDir } from '../checkpoint/layout.js';
import { recoverState } from '../checkpoint/recover.js';
import type { RecoveredRun, RecoveredState, RecoveredTask } from '../checkpoint/state.js';
import { FlagError, show } from '../protocol/errors.js';
import { helpText, parseFlags } from './flags.js';

const FLAGS = {
  work_dir: { type: 'string', required: true, help: 'the agent work directory to read' },
  strict: { type: 'boolean', default: 'true', help: 'fail on any damaged checkpoint file, as the agent would; false: list the damage and show the rest' },
  json: { type: 'boolean', default: 'false', help: 'print JSON instead of text' },
} as const;

export async function main(argv: string[]): Promise<number> {
  const { flags, help } = parseFlags('inspect', FLAGS, argv);
  if (help) {
    process.stdout.write(helpText('inspect', '--work_dir=PATH [--strict=false] [--json]', FLAGS));
    return 0;
  }
  const workDir = path.resolve(flags.work_dir);
  let isDir = false;
  try {
    isDir = fs.statSync(workDir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new FlagError(`invalid value for --work_dir: ${show(flags.work_dir)} (no such directory)`);
  let state: RecoveredState;
  let format: CheckpointFormat;
  try {
    // A newer format is refused before anything else is read; inspect writes nothing either way.
    format = await readCheckpointFormat(workDir);
    state = await recoverState(workDir, { strict: flags.strict });
  } catch (error) {
    if (error instanceof CheckpointFormatError) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ error: { code: error.code, file: error.file, format: error.format, writtenBy: error.writtenBy ?? null, message: error.message } })}\n`);
      process.stderr.write(`lifeline: ${error.message} [${error.code}]\n`);
      return 1;
    }
    if (!(error instanceof CheckpointCorruptError)) throw error;
    if (flags.json) {
      const body = { code: error.code, file: error.file, ...(error.offset === undefined ? {} : { offset: error.offset }), message: error.message };
      process.stdout.write(`${JSON.stringify({ error: body })}\n`);
    }
    process.stderr.write(`lifeline: ${error.message} [${error.code}]\n`);
    return 1;
  }
  process.stdout.write(flags.json ? `${JSON.stringify(withFormat(toJson(state, workDir), format), null, 2)}\n` : `${toText(workDir, state, flags.strict)}${formatLine(format)}`);
  return 0;
}

/** Bytes become base64 strings; undefined fields are left out. */
function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = jsonSafe(item);
    return out;
  }
  return value;
}

/** The `--json` document (DESIGN §5), plus `generated`, `outbox`, `repairs` and `strayTempFiles`. */
export function toJson(state: RecoveredState, workDir?: string): unknown {
  const sandboxOf = (frameworkId: string, executorId: string, containerId: string) =>
    workDir !== undefined && state.agentId !== undefined ? sandboxDir(workDir, { agentId: state.agentId, frameworkId, executorId, containerId }) : undefined;
  return jsonSafe({
    agentId: state.agentId ?? null,
    rebooted: state.rebooted,
    errors: state.errors,
    frameworks: state.frameworks.map((framework) => ({
      id: framework.id,
      info: framework.info,
      executors: framework.executors.map((executor) => ({
        id: executor.id,
        info: executor.info,
        generated: executor.generated,
        latest: executor.latest ?? null,
        runs: executor.runs.map((run) => ({
          containerId: run.containerId,
          sandbox: sandboxOf(framework.id, executor.id, run.containerId),
          forked: run.forked ?? null,
          shim: run.shim ?? null,
          completed: run.completed,
          tasks: run.tasks.map((task) => ({ id: task.id, info: task.info, updates: task.updates, acks: task.acks })),
          outbox: run.outbox ?? null,
        })),
      })),
    })),
    repairs: state.repairs,
    strayTempFiles: state.strayTempFiles,
  });
}

function taskLine(task: RecoveredTask): string {
  const last = task.updates.at(-1);
  const acked = new Set(task.acks);
  const unacked = task.updates.filter((update) => !acked.has(update.uuid)).length;
  const state = last ? `${last.state}${last.reason ? ` (${last.reason})` : ''}` : 'no update yet';
  const counts = `${task.updates.length} update${task.updates.length === 1 ? '' : 's'}, ${task.acks.length} ack${task.acks.length === 1 ? '' : 's'}`;
  return `task ${task.id} ${show(task.info.name)}: ${state}; ${counts}${unacked > 0 ? `, ${unacked} unacknowledged` : ''}`;
}

function runLine(run: RecoveredRun, latest: boolean, rebooted: boolean): string {
  const parts = [run.completed ? 'completed' : 'not completed'];
  if (rebooted) parts.push('recorded pids ignored (rebooted)');
  else parts.push(run.forked ? `pid ${run.forked.pid} (start time ${run.forked.startTime})` : 'no forked.json');
  if (run.shim) parts.push(`shim.json pid ${run.shim.pid}, ${run.shim.tasks.length} task group${run.shim.tasks.length === 1 ? '' : 's'}`);
  if (run.outbox) parts.push(`outbox ${run.outbox.length} record${run.outbox.length === 1 ? '' : 's'}`);
  return `run ${run.containerId}${latest ? ' (latest)' : ''}: ${parts.join('; ')}`;
}

/** The readable tree: framework → executor → run → task, then errors, repairs and stray temp files. */
export function toText(workDir: string, state: RecoveredState, strict: boolean): string {
  const lines: string[] = [];
  const boot = state.recordedBootId === undefined ? 'no boot id recorded' : state.rebooted ? 'the host has rebooted since (recorded pids are not trusted)' : 'same boot';
  if (state.agentId === undefined || state.agentInfo === undefined) {
    lines.push(`No checkpointed agent in ${metaDir(workDir)} (${latestAgentPath(workDir)} is absent${state.errors.some((e) => e.source !== 'sandbox') ? ' or damaged' : ''}): a starting agent registers afresh.`);
  } else {
    const { hostname, resources } = state.agentInfo;
    lines.push(`agent ${state.agentId} on ${hostname} (cpus ${resources.cpus}, mem ${resources.mem} MB, disk ${resources.disk} MB); ${boot}`);
    if (state.frameworks.length === 0) lines.push('  no checkpointed frameworks');
    for (const framework of state.frameworks) {
      lines.push(`  framework ${framework.id} ${show(framework.info.name)}`);
      if (framework.executors.length === 0) lines.push('    no checkpointed executors');
      for (const executor of framework.executors) {
        const what = executor.generated ? 'command executor (lifeline shim)' : `executor ${show(executor.info.command.value)}`;
        lines.push(`    executor ${executor.id}: ${what}; ${executor.runs.length} run${executor.runs.length === 1 ? '' : 's'}`);
        for (const run of executor.runs) {
          lines.push(`      ${runLine(run, run.containerId === executor.latest, state.rebooted)}`);
          lines.push(`        sandbox ${sandboxDir(workDir, { agentId: state.agentId, frameworkId: framework.id, executorId: executor.id, containerId: run.containerId })}`);
          for (const task of run.tasks) lines.push(`        ${taskLine(task)}`);
        }
      }
    }
  }
  if (state.errors.length > 0) {
    lines.push('', `Errors (${state.errors.length}${strict ? '' : ', skipped by --strict=false'}):`);
    for (const error of state.errors) lines.push(`  ${error.file}${error.offset === undefined ? '' : ` at offset ${error.offset}`}: ${error.message}`);
  }
  if (state.repairs.length > 0) {
    lines.push('', `Repairs a recovering agent would make (${state.repairs.length}):`);
    for (const repair of state.repairs) lines.push(`  truncate ${repair.file} to ${repair.length} bytes (${repair.reason})`);
  }
  if (state.strayTempFiles.length > 0) {
    lines.push('', `Stray temp files a recovering agent would remove (${state.strayTempFiles.length}):`);
    for (const file of state.strayTempFiles) lines.push(`  ${file}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The work dir's format and who wrote it, beside what this build reads (issue 11). */
function formatInfo(format: CheckpointFormat) {
  const reader = versionDocument();
  return { checkpoint: format.format, writtenBy: format.writtenBy ?? null, reader: { version: reader.version, formats: reader.formats } };
}

function withFormat(json: unknown, format: CheckpointFormat): unknown {
  return { format: formatInfo(format), ...(json as Record<string, unknown>) };
}

function formatLine(format: CheckpointFormat): string {
  const info = formatInfo(format);
  const by = info.writtenBy ? `written by lifeline ${info.writtenBy}` : 'no meta/format: written by lifeline 0.1.0 (or nothing checkpointed yet)';
  return `checkpoint format ${info.checkpoint} (${by}); read by lifeline ${info.reader.version}, which reads formats 1..${info.reader.formats.checkpoint}\n`;
}
