// The reconnector and the recovery timer on their own (src/executor/reconnect.ts): what starts each
// attempt (the first at once, the backoff, a watch on the socket's directory and its quick retries,
// the stat poll when fs.watch is unavailable), fatal errors, cancel(), and the timer that bounds
// it all. Attempts are plain functions; the socket is a real file in a temp dir, watched for real,
// except where a test injects a watch function to make it fail or to fire it by hand.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QUICK_RETRY_MS, Reconnector, RecoveryTimeout, startRecovery, type AttemptTrigger, type ReconnectorOptions, type WatchFunction } from '../../src/executor/reconnect.js';
import { LifelineError } from '../../src/protocol/index.js';
import { removeDir, tempDir, waitFor, withTimeout } from '../helpers.js';

interface Context {
  dir: string;
  socketPath: string;
  reconnectors: Reconnector[];
  cancels: Array<() => void>;
}

const Reconnect = suite<Context>('Reconnector', { dir: '', socketPath: '', reconnectors: [], cancels: [] });

Reconnect.before.each((context) => {
  context.dir = tempDir('ll-reconnect-');
  context.socketPath = path.join(context.dir, 'agent.sock');
  context.reconnectors = [];
  context.cancels = [];
});

Reconnect.after.each((context) => {
  for (const reconnector of context.reconnectors) reconnector.cancel(new Error('test over'));
  for (const cancel of context.cancels) cancel();
  removeDir(context.dir);
});

class Refused extends Error {}
class Fatal extends Error {}

/** A reconnector whose attempts fail (Refused) until `succeed()` says otherwise; triggers recorded. */
function reconnector(context: Context, options: Partial<ReconnectorOptions> & { succeed?: () => boolean } = {}) {
  const triggers: AttemptTrigger[] = [];
  const { succeed = () => false, ...rest } = options;
  const r = new Reconnector({
    attempt: async () => {
      if (!succeed()) throw new Refused('not listening');
    },
    isFatal: (error) => error instanceof Fatal,
    socketPath: context.socketPath,
    backoffMaxMs: 60_000,
    onAttempt: (trigger) => void triggers.push(trigger),
    ...rest,
  });
  context.reconnectors.push(r);
  return { reconnector: r, triggers };
}

/** A watch function that hands the test its listener, and a watcher it can make fail. */
function manualWatch() {
  const watcher = Object.assign(new EventEmitter(), { closed: false, close: () => void (watcher.closed = true) });
  let listener: ((event: string, filename: string | Buffer | null) => void) | undefined;
  const watch: WatchFunction = (_dir, _options, l) => {
    listener = l;
    return watcher as unknown as fs.FSWatcher;
  };
  return { watch, watcher, fire: (filename: string | null) => listener!('rename', filename) };
}

Reconnect('refuses a bad backoffMaxMs or pollIntervalMs with ERR_INVALID_OPTION', (context) => {
  for (const [option, value] of [['backoffMaxMs', -1], ['backoffMaxMs', Number.NaN], ['pollIntervalMs', -5], ['pollIntervalMs', Infinity]] as const) {
    try {
      new Reconnector({ attempt: async () => {}, isFatal: () => false, socketPath: context.socketPath, backoffMaxMs: 100, [option]: value });
      assert.unreachable(`${option} ${value} accepted`);
    } catch (error) {
      assert.instance(error, LifelineError);
      assert.is((error as LifelineError).code, 'ERR_INVALID_OPTION');
      assert.match((error as Error).message, `option ${option} must be a non-negative number of milliseconds`);
    }
  }
});

Reconnect('the first attempt comes at once; when it succeeds run() resolves and the watch is closed', async (context) => {
  const { watch, watcher } = manualWatch();
  const { reconnector: r, triggers } = reconnector(context, { succeed: () => true, watch });
  await withTimeout(r.run(), 5_000, 'run()');
  assert.equal(triggers, ['immediate']);
  assert.is(r.attempts, 1);
  assert.ok(watcher.closed, 'the watcher was closed');
  assert.is(r.watching, 'none');
});

Reconnect('failed attempts are retried on the backoff until one succeeds', async (context) => {
  let calls = 0;
  const { reconnector: r, triggers } = reconnector(context, { succeed: () => ++calls >= 3, backoffMaxMs: 20 });
  await withTimeout(r.run(), 5_000, 'run()');
  assert.equal(triggers, ['immediate', 'backoff', 'backoff']);
});

Reconnect('a fatal error ends run() with that error; no attempt follows it', async (context) => {
  const fatal = new Fatal('the agent refused us');
  const r = new Reconnector({ attempt: () => Promise.reject(fatal), isFatal: (e) => e instanceof Fatal, socketPath: context.socketPath, backoffMaxMs: 10 });
  context.reconnectors.push(r);
  const error = await withTimeout(r.run().catch((e: unknown) => e), 5_000, 'run() to reject');
  assert.is(error, fatal);
  assert.is(r.attempts, 1);
});

Reconnect('cancel() ends run() with the reason given, cutting the backoff wait short', async (context) => {
  const { reconnector: r } = reconnector(context);
  const running = r.run().catch((e: unknown) => e);
  await waitFor(() => r.attempts >= 3 || undefined, { message: 'three failed attempts', timeoutMs: 5_000 });
  const reason = new Error('stopped');
  r.cancel(reason);
  assert.is(await withTimeout(running, 2_000, 'run() to reject after cancel()'), reason);
});

Reconnect('run() after cancel() rejects at once with the reason, without an attempt', async (context) => {
  const { reconnector: r } = reconnector(context);
  const reason = new Error('cancelled first');
  r.cancel(reason);
  const error = await r.run().catch((e: unknown) => e);
  assert.is(error, reason);
  assert.is(r.attempts, 0);
});

Reconnect('the socket appearing in the watched directory (real fs.watch) wakes an attempt at once, during a long backoff', async (context) => {
  const { reconnector: r, triggers } = reconnector(context, { succeed: () => fs.existsSync(context.socketPath), backoffMaxMs: 60_000 });
  const running = r.run();
  assert.is(r.watching, 'watch');
  // Past four failures the backoff waits at least 160 ms: what comes next is the watch, not it.
  await waitFor(() => r.attempts >= 4 || undefined, { message: 'four failed attempts', timeoutMs: 5_000 });
  fs.writeFileSync(context.socketPath, '');
  await withTimeout(running, 2_000, 'run() after the socket appeared');
  assert.is(triggers.at(-1), 'watch');
});

Reconnect(`a wake-up is followed by ${QUICK_RETRY_MS.length} quick retries, then the backoff resumes`, async (context) => {
  const { watch, fire } = manualWatch();
  const { reconnector: r, triggers } = reconnector(context, { watch, backoffMaxMs: 60_000 });
  void r.run().catch(() => {});
  await waitFor(() => r.attempts >= 1 || undefined, { message: 'a failed attempt', timeoutMs: 5_000 });
  const before = triggers.length;
  fire('agent.sock');
  await waitFor(() => triggers.length >= before + QUICK_RETRY_MS.length + 2 || undefined, { message: 'the quick retries and one backoff attempt', timeoutMs: 2_000 });
  assert.equal(triggers.slice(before, before + QUICK_RETRY_MS.length + 2), [...Array(QUICK_RETRY_MS.length + 1).fill('watch'), 'backoff']);
});

/** A reconnector whose attempts each wait until the test fails them (`held.fail()`). */
function heldAttempts(context: Context, watch: WatchFunction) {
  const held: { fail: (() => void) | undefined } = { fail: undefined };
  const triggers: AttemptTrigger[] = [];
  const r = new Reconnector({
    attempt: () => new Promise<void>((_, reject) => (held.fail = () => reject(new Refused('no')))),
    isFatal: () => false,
    socketPath: context.socketPath,
    backoffMaxMs: 0,
    watch,
    onAttempt: (trigger) => void triggers.push(trigger),
  });
  context.reconnectors.push(r);
  /** Fails the attempt under way and waits for the next one to start. */
  const failAndNext = async (what: string) => {
    const fail = held.fail!;
    held.fail = undefined;
    fail();
    await waitFor(() => held.fail, { message: what, timeoutMs: 2_000 });
  };
  return { reconnector: r, triggers, held, failAndNext };
}

Reconnect('a wake-up during an attempt is kept: the next attempt comes as soon as that one fails, as a watch attempt', async (context) => {
  const { watch, fire } = manualWatch();
  const { reconnector: r, triggers, held, failAndNext } = heldAttempts(context, watch);
  void r.run().catch(() => {});
  await waitFor(() => held.fail, { message: 'the first attempt', timeoutMs: 2_000 });
  await failAndNext('a backoff attempt');
  assert.equal(triggers, ['immediate', 'backoff'], 'without a wake-up, the backoff');
  fire('agent.sock'); // while that attempt is under way
  await failAndNext('the attempt after the kept wake-up');
  assert.equal(triggers, ['immediate', 'backoff', 'watch']);
});

Reconnect('a change to another file of the directory is no reason to try; a change without a filename is', async (context) => {
  const { watch, fire } = manualWatch();
  const { reconnector: r, triggers, held, failAndNext } = heldAttempts(context, watch);
  void r.run().catch(() => {});
  await waitFor(() => held.fail, { message: 'the first attempt', timeoutMs: 2_000 });
  fire('other.sock');
  await failAndNext('the next attempt');
  assert.equal(triggers, ['immediate', 'backoff'], 'other.sock woke nothing');
  fire(null);
  await failAndNext('the attempt after a change without a filename');
  assert.equal(triggers, ['immediate', 'backoff', 'watch']);
});

Reconnect('when fs.watch fails (inotify limits), it polls the socket file instead, and a new socket wakes it', async (context) => {
  const failingWatch: WatchFunction = () => {
    throw Object.assign(new Error('EMFILE: too many open files, watch'), { code: 'EMFILE' });
  };
  const { reconnector: r, triggers } = reconnector(context, { watch: failingWatch, pollIntervalMs: 10, succeed: () => fs.existsSync(context.socketPath) });
  const running = r.run();
  assert.is(r.watching, 'poll');
  await waitFor(() => r.attempts >= 4 || undefined, { message: 'four failed attempts', timeoutMs: 5_000 });
  fs.writeFileSync(context.socketPath, '');
  await withTimeout(running, 2_000, 'run() after the socket appeared');
  assert.is(triggers.at(-1), 'poll');
  assert.is(r.watching, 'none', 'the poll is stopped once it settled');
});

Reconnect('a watcher that fails later (an error event) is replaced by the poll; pollIntervalMs 0 leaves the backoff alone', async (context) => {
  const { watch, watcher } = manualWatch();
  const { reconnector: r } = reconnector(context, { watch, pollIntervalMs: 10 });
  void r.run().catch(() => {});
  assert.is(r.watching, 'watch');
  watcher.emit('error', new Error('ENOSPC'));
  assert.ok(watcher.closed);
  assert.is(r.watching, 'poll');

  const failing: WatchFunction = () => {
    throw new Error('ENOSPC');
  };
  const { reconnector: backoffOnly } = reconnector(context, { watch: failing, pollIntervalMs: 0 });
  void backoffOnly.run().catch(() => {});
  assert.is(backoffOnly.watching, 'none');
});

Reconnect.run();

// ---- the recovery timer ----

const Recovery = suite<Context>('startRecovery', { dir: '', socketPath: '', reconnectors: [], cancels: [] });

Recovery.before.each((context) => {
  context.dir = tempDir('ll-recovery-');
  context.socketPath = path.join(context.dir, 'agent.sock');
  context.cancels = [];
});

Recovery.after.each((context) => {
  for (const cancel of context.cancels) cancel();
  removeDir(context.dir);
});

function recovery(context: Context, options: { recoveryTimeoutMs: number; succeed?: () => boolean; stillWaiting?: () => boolean }) {
  const seen = { timeouts: [] as RecoveryTimeout[], settled: 0, triggers: [] as AttemptTrigger[] };
  const r = startRecovery({
    attempt: async () => {
      if (!(options.succeed ?? (() => false))()) throw new Refused('not listening');
    },
    isFatal: () => false,
    socketPath: context.socketPath,
    backoffMaxMs: 20,
    pollIntervalMs: 0,
    onAttempt: (trigger) => void seen.triggers.push(trigger),
    recoveryTimeoutMs: options.recoveryTimeoutMs,
    stillWaiting: options.stillWaiting ?? (() => true),
    onTimeout: (timeout) => void seen.timeouts.push(timeout),
    onSettled: () => void (seen.settled += 1),
  });
  context.cancels.push(() => {
    clearTimeout(r.timer);
    r.cancel(new Error('test over'));
  });
  return { recovery: r, seen };
}

Recovery('RecoveryTimeout is an ERR_TIMEOUT naming the socket, the timeout and the variable that sets it', (context) => {
  const timeout = new RecoveryTimeout(1_500, context.socketPath);
  assert.instance(timeout, LifelineError);
  assert.is(timeout.code, 'ERR_TIMEOUT');
  assert.is(timeout.message, `the agent did not come back at ${context.socketPath} within the recovery timeout of 1500 ms (LIFELINE_RECOVERY_TIMEOUT)`);
});

Recovery('starts its first attempt after the caller has recorded it (not synchronously), then resolves once one succeeds', async (context) => {
  let calls = 0;
  const { recovery: r, seen } = recovery(context, { recoveryTimeoutMs: 10_000, succeed: () => ++calls >= 2 });
  assert.equal(seen.triggers, [], 'no attempt inside startRecovery()');
  await withTimeout(r.done, 5_000, 'done');
  assert.equal(seen.triggers, ['immediate', 'backoff']);
  assert.is(seen.settled, 1);
  assert.equal(seen.timeouts, []);
});

Recovery('the timer firing while still waiting cancels the reconnector: onTimeout gets the RecoveryTimeout, done rejects with it', async (context) => {
  const { recovery: r, seen } = recovery(context, { recoveryTimeoutMs: 60 });
  const error = await withTimeout(r.done.catch((e: unknown) => e), 5_000, 'done to reject');
  assert.instance(error, RecoveryTimeout);
  assert.equal(seen.timeouts, [error]);
  assert.is(seen.settled, 1);
  assert.match((error as Error).message, 'within the recovery timeout of 60 ms');
});

Recovery('the timer firing when no longer waiting (stillWaiting false) changes nothing', async (context) => {
  let waiting = true;
  const { recovery: r, seen } = recovery(context, { recoveryTimeoutMs: 30, stillWaiting: () => (waiting = false) });
  await waitFor(() => !waiting || undefined, { message: 'the timer to fire', timeoutMs: 5_000 });
  assert.equal(seen.timeouts, []);
  assert.is(seen.settled, 0, 'still reconnecting');
  const reason = new Error('stopped');
  r.cancel(reason);
  assert.is(await withTimeout(r.done.catch((e: unknown) => e), 2_000, 'done after cancel()'), reason);
  assert.is(seen.settled, 1);
});

Recovery.run();
