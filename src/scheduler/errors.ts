// The SchedulerDriver's own errors, the ones a framework matches on by `code`: the master refused
// (its ERROR, with the code as it was sent), and a call on a driver that is stopped.
import { LifelineError, type ErrorCode } from '../protocol/index.js';

/** The master's codes this release knows: a MasterError carries one as its `code`, any other as ERR_PROTOCOL. */
const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_INVALID_ID', 'ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE', 'ERR_UNAUTHORIZED', 'ERR_ILLEGAL_STATE', 'ERR_NOT_SUBSCRIBED',
  'ERR_PROTOCOL_VERSION', 'ERR_UNAUTHENTICATED', 'ERR_CONNECTION', 'ERR_NOT_LEADER',
]);

/** The master answered with `ERROR {code, message}` (and closed the connection). */
export class MasterError extends LifelineError {
  /** The code exactly as the master sent it. */
  readonly masterCode: string;

  constructor(master: string, masterCode: string, message: string) {
    super(KNOWN_CODES.has(masterCode) ? (masterCode as ErrorCode) : 'ERR_PROTOCOL', `master at ${master} refused: ${message} [${masterCode}]`);
    this.masterCode = masterCode;
  }
}

/** A call on a driver that has been stopped (or was stopped while the call was waiting). */
export class DriverStoppedError extends LifelineError {
  constructor(what: string) {
    super('ERR_DRIVER_STOPPED', `cannot ${what}: the scheduler driver is stopped`);
  }
}
