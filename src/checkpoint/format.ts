// Format versions of what lifeline keeps on disk (issue 11): the agent's checkpoint (`meta/`) and
// an executor's sandbox files (`.lifeline/`). A format is bumped only for an incompatible change;
// this release reads every format up to its own and refuses a newer one before reading anything.
import fsp from 'node:fs/promises';
import * as v from 'valibot';
import { LifelineError } from '../protocol/errors.js';
import { parseJson, writeFileAtomic } from './atomic-write.js';
import { childPath, metaDir } from './layout.js';
import { OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION, RELEASE } from '../protocol/version.js';

/** `meta/` as this release writes it. 0.1.0 wrote the same layout, without `meta/format`: format 1. */
export const CHECKPOINT_FORMAT = 1;
/** `.lifeline/` (shim.json, outbox.log). 0.1.0 wrote the same: format 1. */
export const SANDBOX_FORMAT = 1;

/** What `/version` and `lifeline version` say. */
export interface VersionDocument {
  version: string;
  protocol: { current: number; oldest: number };
  formats: { checkpoint: number; sandbox: number };
}

/** A checkpoint in a format newer than this release reads: refused before anything is read. */
export class CheckpointFormatError extends LifelineError {
  constructor(
    readonly file: string,
    readonly format: number,
    readonly writtenBy: string | undefined,
  ) {
    super(
      'ERR_CHECKPOINT_FORMAT',
      `${file} says checkpoint format ${format}${writtenBy ? ` (written by lifeline ${writtenBy})` : ''}, but lifeline ${RELEASE} reads formats 1..${CHECKPOINT_FORMAT}: ` +
        `run that release or a newer one on this work dir (a rollback past a format change is not possible); nothing was read or changed`,
    );
  }
}

/** The versions of this build, for `/version`, `lifeline version` and `lifeline inspect`. */
export function versionDocument(): VersionDocument {
  return {
    version: RELEASE,
    protocol: { current: PROTOCOL_VERSION, oldest: OLDEST_PROTOCOL_VERSION },
    formats: { checkpoint: CHECKPOINT_FORMAT, sandbox: SANDBOX_FORMAT },
  };
}

// ---- meta/format ----

const FormatFile = v.object({
  format: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000)),
  release: v.optional(v.pipe(v.string(), v.maxLength(64))),
});

/** `meta/format`: `{"format": N, "release": "x.y.z"}`. Absent in a 0.1.0 work dir (format 1). */
export function formatPath(workDir: string): string {
  return childPath(metaDir(workDir), 'format');
}

export interface CheckpointFormat {
  format: number;
  /** The release that last wrote it; undefined when there is no meta/format (0.1.0, or a new work dir). */
  writtenBy: string | undefined;
}

/**
 * The work dir's checkpoint format; a CheckpointFormatError for one newer than this release reads
 * (call it before reading anything else), a CheckpointCorruptError for a file that is not one.
 */
export async function readCheckpointFormat(workDir: string): Promise<CheckpointFormat> {
  const file = formatPath(workDir);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { format: 1, writtenBy: undefined };
    throw error;
  }
  const found = parseJson(file, text, FormatFile);
  if (found.format > CHECKPOINT_FORMAT) throw new CheckpointFormatError(file, found.format, found.release);
  return { format: found.format, writtenBy: found.release };
}

/** Records this release's format in meta/format (atomically), once meta/ exists; unchanged if it already says so. */
export async function writeCheckpointFormat(workDir: string, current?: CheckpointFormat): Promise<void> {
  if (current?.format === CHECKPOINT_FORMAT && current.writtenBy === RELEASE) return;
  await fsp.mkdir(metaDir(workDir), { recursive: true, mode: 0o700 }); // private, as work-dir-privacy.ts keeps it
  await writeFileAtomic(formatPath(workDir), `${JSON.stringify({ format: CHECKPOINT_FORMAT, release: RELEASE })}\n`);
}
