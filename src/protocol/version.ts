// Protocol versions on every link (issue 11): a release speaks a range of protocol versions, says
// it in its first frame (executor SUBSCRIBE, agent REGISTER/REREGISTER, scheduler SUBSCRIBE), and
// the receiver answers with the highest version both speak, or refuses naming both ranges. Release
// 0.1.0 is protocol 1: its executors send `protocol: 1` and demand an exact match; its agents and
// schedulers send no version at all. A first frame therefore carries `protocol` = the OLDEST version
// the sender speaks (what 0.1.0 compares), `protocolMax` = its newest, `release` = its release.
import { LifelineError } from './errors.js';

/** This release (package.json's version; test/protocol/version.test.ts holds the two equal). */
export const RELEASE = '0.2.0';
/** The protocol this release speaks natively. */
export const PROTOCOL_VERSION = 2;
/** The oldest protocol it still serves: 1, release 0.1.0. */
export const OLDEST_PROTOCOL_VERSION = 1;

export interface VersionFields {
  protocol?: number | undefined;
  protocolMax?: number | undefined;
  release?: string | undefined;
}

/** What a peer speaks, read off its first frame. */
export interface PeerVersion {
  oldest: number;
  newest: number;
  /** Its release, or undefined (0.1.0 did not say). */
  release: string | undefined;
}

/** A protocol range: what this release serves unless told otherwise (tests narrow it). */
export interface ProtocolRange {
  oldest: number;
  current: number;
}
export const SERVED: ProtocolRange = { oldest: OLDEST_PROTOCOL_VERSION, current: PROTOCOL_VERSION };

/** The fields this release puts in each first frame it sends. */
export function firstFrameVersion(range: ProtocolRange = SERVED): { protocol: number; protocolMax: number; release: string } {
  return { protocol: range.oldest, protocolMax: range.current, release: RELEASE };
}

/** The fields of an answer that agreed on `protocol`. */
export function answerVersion(protocol: number): { protocol: number; release: string } {
  return { protocol, release: RELEASE };
}

/** A peer's range from its first frame: no `protocol` at all is 0.1.0 (protocol 1). */
export function peerVersion(fields: VersionFields): PeerVersion {
  const oldest = fields.protocol ?? 1;
  return { oldest, newest: Math.max(oldest, fields.protocolMax ?? oldest), release: fields.release };
}

/** The version an answer agreed on: an answer without one comes from 0.1.0 (protocol 1). */
export function answeredVersion(fields: VersionFields): { protocol: number; release: string | undefined } {
  return { protocol: fields.protocol ?? 1, release: fields.release };
}

/** A peer whose protocol range does not meet ours: refused, never fatal to its tasks. */
export class ProtocolVersionError extends LifelineError {
  constructor(message: string) {
    super('ERR_PROTOCOL_VERSION', message);
  }
}

function describe(range: { oldest: number; newest: number }): string {
  return range.oldest === range.newest ? `protocol ${range.oldest}` : `protocols ${range.oldest}..${range.newest}`;
}

/**
 * The highest version both speak; a ProtocolVersionError naming both sides when the ranges do not
 * meet. `who` names the peer ("executor e1", "agent a1", "framework f1").
 */
export function negotiate(peer: PeerVersion, who: string, range: ProtocolRange = SERVED): number {
  const version = Math.min(peer.newest, range.current);
  if (version >= Math.max(peer.oldest, range.oldest)) return version;
  const theirs = `${describe(peer)}${peer.release ? ` (lifeline ${peer.release})` : ''}`;
  const ours = `${describe({ oldest: range.oldest, newest: range.current })} (lifeline ${RELEASE})`;
  const hint = peer.newest < range.oldest ? 'it is too old for this release' : 'it is newer than this release';
  return fail(`${who} speaks ${theirs} and this peer speaks ${ours}: ${hint}, and no version is common`);
}

function fail(message: string): never {
  throw new ProtocolVersionError(message);
}

/**
 * Whether an ERROR answer to a first frame refused our version (ours or 0.1.0's wording,
 * "executor protocol 2 is not supported"): a refusal to retry, never a reason to give up tasks.
 */
export function isVersionRefusal(code: string, message: string): boolean {
  return code === 'ERR_PROTOCOL_VERSION' || (code === 'ERR_PROTOCOL' && /protocol \d+ is not supported/.test(message));
}

/** The version fields of a frame, only those present (to copy them into another frame). */
export function versionFields(frame: VersionFields): VersionFields {
  const fields: VersionFields = {};
  if (frame.protocol !== undefined) fields.protocol = frame.protocol;
  if (frame.protocolMax !== undefined) fields.protocolMax = frame.protocolMax;
  if (frame.release !== undefined) fields.release = frame.release;
  return fields;
}

// ── Shaping for protocol 1 ──────────────────────────────────────────────────────────────────
// What release 0.1.0 validates strictly: these closed lists, copied from it and frozen (a later
// addition to constants.ts must not leak into them). Protocol 2 receivers keep a well-formed
// unknown name; a protocol 1 receiver would refuse the whole frame, so a sender shapes for it.
const PROTOCOL_1_STATES: ReadonlySet<string> = new Set([
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING',
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_ERROR',
]);
const PROTOCOL_1_SOURCES: ReadonlySet<string> = new Set(['SOURCE_EXECUTOR', 'SOURCE_AGENT', 'SOURCE_MASTER']);
const PROTOCOL_1_REASONS: ReadonlySet<string> = new Set([
  'REASON_AGENT_DISCONNECTED', 'REASON_AGENT_REMOVED', 'REASON_AGENT_RESTARTED',
  'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', 'REASON_EXECUTOR_TERMINATED',
  'REASON_EXECUTOR_RECOVERY_TIMEOUT', 'REASON_COMMAND_EXECUTOR_FAILED', 'REASON_RECONCILIATION',
  'REASON_TASK_KILLED_DURING_LAUNCH', 'REASON_FRAMEWORK_REMOVED', 'REASON_TASK_INVALID',
  'REASON_EXECUTOR_UNREGISTERED', 'REASON_INVALID_OFFERS',
]);

interface ShapedStatus {
  state: string;
  source?: string | undefined;
  reason?: string | undefined;
  message?: string | undefined;
}

/**
 * A status as a peer speaking `protocol` can take it. For protocol 1: a reason or source it does
 * not know is left out, and a state it does not know (a state added without a protocol bump is
 * non-terminal by rule, docs/upgrades.md) goes as TASK_RUNNING with the real name in `message`.
 * Other versions, and statuses with only known names, are returned as they are (the same object).
 */
export function shapeStatus<S extends ShapedStatus>(status: S, protocol: number): S {
  if (protocol >= 2) return status;
  const knownState = PROTOCOL_1_STATES.has(status.state);
  const knownSource = status.source === undefined || PROTOCOL_1_SOURCES.has(status.source);
  const knownReason = status.reason === undefined || PROTOCOL_1_REASONS.has(status.reason);
  if (knownState && knownSource && knownReason) return status;
  const shaped: S = { ...status };
  if (!knownSource) delete shaped.source;
  if (!knownReason) delete shaped.reason;
  if (!knownState) {
    shaped.state = 'TASK_RUNNING';
    shaped.message = `${status.state}${status.message ? `: ${status.message}` : ''}`.slice(0, 60_000);
  }
  return shaped;
}
