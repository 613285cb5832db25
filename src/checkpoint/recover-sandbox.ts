// What recovery reads from a run's sandbox: shim.json and outbox.log, written by the executor.
// Untrusted and never fatal: damage is noted (through `note`) and the file ignored.
import { show } from '../protocol/index.js';
import { parseJson } from './atomic-write.js';
import { CheckpointCorruptError } from './errors.js';
import { outboxPath, shimInfoPath, shimStateDir, type RunRef } from './layout.js';
import { parseRecordLog } from './record-log-read.js';
import type { LogRecord } from './records.js';
import { article, lstatKind, MAX_JSON_BYTES, MAX_LOG_BYTES, readRegularFile } from './recover-fs.js';
import { ShimInfo } from './shim-info.js';
import { SANDBOX_FORMAT } from './format.js';
import { RELEASE } from '../protocol/version.js';

/** readShim's answer for a sandbox in a format newer than this release reads: neither file is read. */
export const NEWER_FORMAT = Symbol('newer sandbox format');

/** Lists damaged executor-written data of `file`, and what became of it. */
export type Note = (error: unknown, file: string, consequence: string) => void;

/**
 * The sandbox and its .lifeline/ must be directories (or absent): through a symlink the executor
 * files would be read from elsewhere, or silently found missing. Anything else is noted. False:
 * there is nothing to read (absent, or noted).
 */
export async function sandboxDirsReal(sandbox: string, note: Note): Promise<boolean> {
  for (const dir of [sandbox, shimStateDir(sandbox)]) {
    try {
      const kind = await lstatKind(dir);
      if (kind === undefined) return false; // nothing there to read
      if (kind !== 'directory') throw new CheckpointCorruptError(dir, undefined, `expected a directory, found ${article(kind)}`);
    } catch (error) {
      note(error, dir, 'shim.json and outbox.log are ignored');
      return false;
    }
  }
  return true;
}

/** shim.json of the run `ref`, if it is there, intact and names that run. */
export async function readShim(ref: Pick<RunRef, 'executorId' | 'containerId'>, sandbox: string, note: Note): Promise<ShimInfo | typeof NEWER_FORMAT | undefined> {
  const file = shimInfoPath(sandbox);
  try {
    const bytes = await readRegularFile(file, MAX_JSON_BYTES);
    if (bytes === undefined) return undefined;
    const shim = parseJson(file, bytes.toString('utf8'), ShimInfo);
    if (shim.format !== undefined && shim.format > SANDBOX_FORMAT) {
      // Never half-read (issue 11): the outbox of a newer format is not read either.
      note(new CheckpointCorruptError(file, undefined, `says sandbox format ${shim.format}, but lifeline ${RELEASE} reads formats 1..${SANDBOX_FORMAT}`), file, 'shim.json and outbox.log are not read; the run is identified by forked.json alone');
      return NEWER_FORMAT;
    }
    if (shim.executorId !== ref.executorId || shim.containerId !== ref.containerId) {
      throw new CheckpointCorruptError(file, undefined, `names executor ${show(shim.executorId)} run ${show(shim.containerId)}, not ${show(ref.executorId)} run ${show(ref.containerId)}`);
    }
    return shim;
  } catch (error) {
    note(error, file, 'the run is identified by forked.json alone');
    return undefined;
  }
}

/** The intact records of the executor's outbox.log, if there is one. */
export async function readOutbox(sandbox: string, note: Note): Promise<LogRecord[] | undefined> {
  const file = outboxPath(sandbox);
  try {
    const bytes = await readRegularFile(file, MAX_LOG_BYTES);
    if (bytes === undefined) return undefined;
    // A torn tail is what an executor killed mid-append leaves: not worth a note.
    const contents = parseRecordLog(bytes, { file, strict: false });
    if (contents.corruption) {
      note(new CheckpointCorruptError(file, contents.corruption.offset, contents.corruption.message), file, 'the records from this offset on are ignored');
    }
    return contents.records;
  } catch (error) {
    note(error, file, 'the outbox is ignored');
    return undefined;
  }
}
