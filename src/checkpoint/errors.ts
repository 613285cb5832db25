// The one error of the checkpoint: a file read back from disk that cannot be trusted. Recovery
// reports it with the file (and the byte offset in a record log) so an operator can act on it.
import { LifelineError } from '../protocol/errors.js';

/** A checkpoint file that is unparsable or fails its schema, or a record log with a corrupt record. */
export class CheckpointCorruptError extends LifelineError {
  readonly file: string;
  readonly offset: number | undefined;
  /** What is wrong, without the file and offset (the message is `corrupt checkpoint FILE [at offset N]: DETAIL`). */
  readonly detail: string;

  constructor(file: string, offset: number | undefined, detail: string, options?: { cause?: unknown }) {
    const where = offset === undefined ? file : `${file} at offset ${offset}`;
    super('ERR_CHECKPOINT_CORRUPT', `corrupt checkpoint ${where}: ${detail}`, options);
    this.file = file;
    this.offset = offset;
    this.detail = detail;
  }
}
