// DiskHealth on its own: a failing record log is refused for a doubling backoff, cut back to what
// it held durably when it is reopened, and the failures of all files form one episode (one start,
// one end) for the agent's warning. The clock is injected, so backoffs are checked to the ms; the
// ENOSPC is a real one, from writing to /dev/full.
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DISK_RETRY_MAX_MS, DISK_RETRY_MIN_MS, DiskError, DiskHealth } from '../../src/checkpoint/disk-health.js';
import { LifelineError } from '../../src/protocol/errors.js';

const FILE = '/work/meta/a/task.updates';
const OTHER = '/work/meta/b/task.updates';

/** A real ENOSPC from the kernel: /dev/full refuses every write with it. */
function enospc(): NodeJS.ErrnoException {
  const fd = fs.openSync('/dev/full', 'w');
  try {
    fs.writeSync(fd, 'x');
  } catch (error) {
    return error as NodeJS.ErrnoException;
  } finally {
    fs.closeSync(fd);
  }
  throw new Error('a write to /dev/full succeeded');
}

/** A DiskHealth on a clock the test moves. */
function clocked(options: { minMs?: number; maxMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const health = new DiskHealth({ ...options, now: () => clock.now });
  return { clock, health };
}

/** Asserts that `file` is refused until exactly `retryAt` and not from then on (the clock is restored). */
function assertRefusedUntil(health: DiskHealth, clock: { now: number }, file: string, retryAt: number): void {
  const at = clock.now;
  clock.now = retryAt - 1;
  assert.ok(health.refusal(file), `refused 1 ms before ${retryAt}`);
  clock.now = retryAt;
  assert.is(health.refusal(file), undefined, `not refused at ${retryAt}`);
  clock.now = at;
}

const test = suite('checkpoint/disk-health');

test('starts well: nothing failing, nothing refused, no errors', () => {
  const health = new DiskHealth();
  assert.is(health.degraded, false);
  assert.equal(health.failingFiles, []);
  assert.is(health.errors, 0);
  assert.is(health.refusal(FILE), undefined);
  assert.is(health.reopenLength(FILE), undefined);
});

test('refuses a failed file\'s records with a DiskError naming the file, the errno and the wait', () => {
  const { clock, health } = clocked();
  const error = enospc();
  assert.is(error.code, 'ENOSPC');
  health.failed(FILE, error, 120);
  assert.ok(health.degraded);
  assert.equal(health.failingFiles, [FILE]);
  assert.is(health.errors, 1);
  clock.now += 30;
  const refusal = health.refusal(FILE);
  assert.instance(refusal, DiskError);
  assert.instance(refusal, LifelineError);
  assert.is(refusal!.code, 'ERR_DISK');
  assert.is(refusal!.file, FILE);
  assert.is(refusal!.errno, 'ENOSPC');
  assert.is(refusal!.cause, error);
  assert.is(refusal!.message, `cannot make records durable in ${FILE}: it failed (ENOSPC); retried in ${DISK_RETRY_MIN_MS - 30} ms`);
  assert.is(health.refusal(OTHER), undefined, 'another file is not refused');
});

test('names the error\'s message when it has no errno code, and "error" when it is not an Error', () => {
  const { health } = clocked();
  health.failed(FILE, new Error('the device went away'), 0);
  const refusal = health.refusal(FILE)!;
  assert.match(refusal.message, /: it failed \(the device went away\); retried in 100 ms$/);
  assert.is(refusal.errno, undefined);
  health.failed(OTHER, undefined, 0);
  assert.match(health.refusal(OTHER)!.message, /: it failed \(error\); retried in 100 ms$/);
});

test('waits DISK_RETRY_MIN_MS after a first failure, doubling on each further one up to DISK_RETRY_MAX_MS', () => {
  const { clock, health } = clocked();
  let expected = DISK_RETRY_MIN_MS;
  const seen: number[] = [];
  for (let failure = 0; failure < 10; failure += 1) {
    health.failed(FILE, enospc(), 0);
    assertRefusedUntil(health, clock, FILE, clock.now + expected);
    seen.push(expected);
    clock.now += expected; // the retry is due: the reopen fails again
    expected = Math.min(expected * 2, DISK_RETRY_MAX_MS);
  }
  assert.equal(seen.slice(0, 4), [100, 200, 400, 800]);
  assert.is(seen[seen.length - 1], DISK_RETRY_MAX_MS);
});

test('takes its own minimum and maximum backoff', () => {
  const { clock, health } = clocked({ minMs: 10, maxMs: 25 });
  health.failed(FILE, enospc(), 0);
  assertRefusedUntil(health, clock, FILE, clock.now + 10);
  health.failed(FILE, enospc(), 0);
  assertRefusedUntil(health, clock, FILE, clock.now + 20);
  health.failed(FILE, enospc(), 0);
  assertRefusedUntil(health, clock, FILE, clock.now + 25);
});

test('once the backoff is over the file is still failing: it is to be cut back to its durable size and tried', () => {
  const { clock, health } = clocked();
  health.failed(FILE, enospc(), 4096);
  clock.now += DISK_RETRY_MIN_MS;
  assert.is(health.refusal(FILE), undefined);
  assert.ok(health.degraded);
  assert.is(health.reopenLength(FILE), 4096);
  assert.is(health.reopenLength(OTHER), undefined);
});

test('a failed reopen never claims more durable bytes than the first failure knew', () => {
  const { health } = clocked();
  health.failed(FILE, enospc(), 500);
  health.failed(FILE, enospc(), 800);
  assert.is(health.reopenLength(FILE), 500, 'a larger size later is not trusted');
  health.failed(FILE, enospc(), 300);
  assert.is(health.reopenLength(FILE), 300, 'a smaller one is');
});

test('an episode starts with the first failing file and ends when every failing file works again', () => {
  const { health } = clocked();
  const events: string[] = [];
  health.listen({
    onEpisodeStart: (file, error) => events.push(`start ${file} ${(error as NodeJS.ErrnoException).code}`),
    onEpisodeEnd: (files, errors) => events.push(`end files=${files} errors=${errors}`),
    onError: (file) => events.push(`error ${file}`),
  });
  health.failed(FILE, enospc(), 0);
  health.failed(FILE, enospc(), 0);
  health.failed(OTHER, enospc(), 0);
  assert.equal(events, [`error ${FILE}`, `start ${FILE} ENOSPC`, `error ${FILE}`, `error ${OTHER}`], 'one start, every error');
  health.recovered(FILE);
  assert.ok(health.degraded, 'the other file still fails');
  assert.equal(health.failingFiles, [OTHER]);
  assert.is(health.reopenLength(FILE), undefined);
  assert.is(events.length, 4, 'no end while a file still fails');
  health.recovered(OTHER);
  assert.is(health.degraded, false);
  assert.equal(events.slice(4), ['end files=2 errors=3']);
});

test('a new episode counts its own files and errors; errors counts every one since start', () => {
  const { health } = clocked();
  const ends: Array<[number, number]> = [];
  let starts = 0;
  health.listen({ onEpisodeStart: () => (starts += 1), onEpisodeEnd: (files, errors) => ends.push([files, errors]) });
  health.failed(FILE, enospc(), 0);
  health.failed(FILE, enospc(), 0);
  health.recovered(FILE);
  health.failed(OTHER, enospc(), 0);
  health.recovered(OTHER);
  assert.is(starts, 2);
  assert.equal(ends, [
    [1, 2],
    [1, 1],
  ]);
  assert.is(health.errors, 3);
});

test('a file that took a durable append again after recovering starts its backoff afresh', () => {
  const { clock, health } = clocked();
  health.failed(FILE, enospc(), 0);
  health.failed(FILE, enospc(), 0);
  health.recovered(FILE);
  health.failed(FILE, enospc(), 0);
  assertRefusedUntil(health, clock, FILE, clock.now + DISK_RETRY_MIN_MS);
});

test('recovering a file that was not failing ends nothing', () => {
  const { health } = clocked();
  let ends = 0;
  health.listen({ onEpisodeEnd: () => (ends += 1) });
  health.recovered(FILE);
  health.failed(FILE, enospc(), 0);
  health.recovered(OTHER);
  assert.is(ends, 0);
  assert.ok(health.degraded);
});

test('forgetting a failing file (its run was collected) ends its part of the episode', () => {
  const { health } = clocked();
  const ends: number[] = [];
  health.listen({ onEpisodeEnd: (files) => ends.push(files) });
  health.failed(FILE, enospc(), 0);
  health.forget(FILE);
  assert.is(health.degraded, false);
  assert.is(health.refusal(FILE), undefined);
  assert.equal(ends, [1]);
});

test('tells every listener, in the order they listened', () => {
  const { health } = clocked();
  const calls: string[] = [];
  health.listen({ onError: () => calls.push('first error'), onEpisodeStart: () => calls.push('first start') });
  health.listen({ onError: () => calls.push('second error') });
  health.failed(FILE, enospc(), 0);
  assert.equal(calls, ['first error', 'second error', 'first start']);
});

test.run();
