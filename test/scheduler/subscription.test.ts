// The scheduler driver's SUBSCRIBE handshake step, judged frame by frame: what it sends, which
// answers it accepts, retries or refuses for good, and the leader epoch it keeps across steps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Logger } from '../../src/log.js';
import { ConnectionError, decode, type SchedulerEvent } from '../../src/protocol/index.js';
import { parseMasterSpec } from '../../src/protocol/address.js';
import { MasterTargets } from '../../src/session/master-targets.js';
import { MISSED_HEARTBEATS } from '../../src/session/watchdog.js';
import { MasterError } from '../../src/scheduler/errors.js';
import { Subscription } from '../../src/scheduler/subscription.js';

interface Context {
  targets: MasterTargets;
  frameworkId: string | undefined;
  events: SchedulerEvent[];
  logged: Array<{ level: string; msg: string | undefined }>;
  subscription: Subscription;
}

/** A link that records the frames sent on it (the step sees nothing else of the connection). */
function link(): { frames: Array<Record<string, unknown>>; send(frame: Uint8Array): boolean } {
  const frames: Array<Record<string, unknown>> = [];
  return { frames, send: (frame) => (frames.push(decode(frame) as Record<string, unknown>), true) };
}

const subscribed = (fields: { epoch?: number; heartbeatIntervalMs?: number } = {}): SchedulerEvent => ({ type: 'SUBSCRIBED', frameworkId: 'fw-1', heartbeatIntervalMs: fields.heartbeatIntervalMs ?? 1000, ...(fields.epoch !== undefined && { epoch: fields.epoch }) });

const Step = suite<Context>('scheduler/subscription');

Step.before.each((ctx) => {
  ctx.targets = new MasterTargets(parseMasterSpec('127.0.0.1:5050,127.0.0.1:5051', 'master'));
  ctx.frameworkId = undefined;
  ctx.events = [];
  ctx.logged = [];
  const record = (level: string) => (_obj: object | string, msg?: string) => void ctx.logged.push({ level, msg });
  const log: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => log };
  ctx.subscription = new Subscription({
    master: '127.0.0.1:5050,127.0.0.1:5051',
    frameworkInfo: { name: 'fw', checkpoint: true },
    frameworkId: () => ctx.frameworkId,
    targets: ctx.targets,
    log,
    onEvent: (event) => void ctx.events.push(event),
  });
});

Step.after.each(async (ctx) => {
  await ctx.targets.close();
});

Step('sends SUBSCRIBE with the framework info, the framework ID once known, and the version range', (ctx) => {
  const first = link();
  ctx.subscription.step().open(first);
  assert.is(first.frames.length, 1);
  assert.is(first.frames[0]!.type, 'SUBSCRIBE');
  assert.equal(first.frames[0]!.frameworkInfo, { name: 'fw', checkpoint: true });
  assert.type(first.frames[0]!.protocol, 'number');
  assert.type(first.frames[0]!.protocolMax, 'number');
  assert.not.ok('authentication' in first.frames[0]!);
  ctx.frameworkId = 'fw-given';
  const again = link();
  const authentication = { principal: 'ops', response: new Uint8Array(32) };
  ctx.subscription.step().open(again, authentication);
  assert.equal(again.frames[0]!.frameworkInfo, { name: 'fw', checkpoint: true, id: 'fw-given' });
  assert.equal((again.frames[0]!.authentication as { principal: string }).principal, 'ops');
});

Step('accepts SUBSCRIBED, watching for MISSED_HEARTBEATS silent intervals (none with an interval of 0)', (ctx) => {
  const verdict = ctx.subscription.step().answer(subscribed({ heartbeatIntervalMs: 500 }));
  assert.equal(verdict, { kind: 'accept', value: subscribed({ heartbeatIntervalMs: 500 }), heartbeat: { intervalMs: 500, missed: MISSED_HEARTBEATS } });
  const quiet = ctx.subscription.step().answer(subscribed({ heartbeatIntervalMs: 0 }));
  assert.is(quiet?.kind, 'accept');
  assert.is(quiet?.kind === 'accept' ? quiet.heartbeat : 'none', undefined);
});

Step('fails a SUBSCRIBED from an older leader epoch than one it subscribed with, and logs it', (ctx) => {
  assert.is(ctx.subscription.step().answer(subscribed({ epoch: 5 }))?.kind, 'accept');
  const older = ctx.subscription.step().answer(subscribed({ epoch: 3 }));
  assert.is(older?.kind, 'fail');
  assert.instance(older?.kind === 'fail' && older.error, ConnectionError);
  assert.match(older?.kind === 'fail' ? older.error.message : '', /leader epoch 3, older than 5/);
  assert.ok(ctx.logged.some((line) => line.level === 'warn' && line.msg === 'SUBSCRIBED from an older leader epoch: ignored'));
  // A master without a registry (epoch 0) and a newer leader are both followed.
  assert.is(ctx.subscription.step().answer(subscribed())?.kind, 'accept');
  assert.is(ctx.subscription.step().answer(subscribed({ epoch: 6 }))?.kind, 'accept');
});

Step('fails the attempt on ERR_NOT_LEADER and tries the leader the standby names next', (ctx) => {
  const verdict = ctx.subscription.step().answer({ type: 'ERROR', code: 'ERR_NOT_LEADER', message: 'a standby', leader: '127.0.0.1:5051' });
  assert.is(verdict?.kind, 'fail');
  assert.instance(verdict?.kind === 'fail' && verdict.error, ConnectionError);
  assert.is(ctx.targets.current(), '127.0.0.1:5051');
});

Step('retries a refusal of its protocol version and refuses for good on any other ERROR', (ctx) => {
  const version = ctx.subscription.step().answer({ type: 'ERROR', code: 'ERR_PROTOCOL_VERSION', message: 'protocol 9 is not supported' });
  assert.is(version?.kind, 'fail');
  assert.instance(version?.kind === 'fail' && version.error, MasterError);
  const refused = ctx.subscription.step().answer({ type: 'ERROR', code: 'ERR_UNAUTHORIZED', message: 'no such principal' });
  assert.is(refused?.kind, 'refuse');
  const error = refused?.kind === 'refuse' ? refused.error : undefined;
  assert.instance(error, MasterError);
  assert.is(error?.code, 'ERR_UNAUTHORIZED');
  assert.is(error?.message, 'master at 127.0.0.1:5050,127.0.0.1:5051 refused: no such principal [ERR_UNAUTHORIZED]');
});

Step('hands an event that comes before the answer to onEvent and waits on, ignoring HEARTBEAT', (ctx) => {
  const step = ctx.subscription.step();
  assert.is(step.answer({ type: 'HEARTBEAT' }), undefined);
  assert.is(step.answer({ type: 'RESCIND', offerId: 'offer-1' }), undefined);
  assert.equal(ctx.events, [{ type: 'RESCIND', offerId: 'offer-1' }]);
});

Step.run();
