// The custom executor of bench-updates: a real ExecutorDriver, launched by the agent like any other
// executor, that sends status updates as fast as its window allows and times each one from
// `update()` to its ACKNOWLEDGED (when `update()` resolves: the agent has made it durable).
//
//   node dist/scripts/lib/updates-executor.js <control dir>
//
// The control dir (outside the work dir) holds `config.json` {warmup, window, rounds}; this executor
// sends TASK_RUNNING and `warmup` updates, writes `ready-<executorId>`, then for each round r waits
// for `start-<r>` ({deadline}: epoch ms; the bench also sends SIGUSR2 when it writes one), keeps up to `window` updates unacknowledged until the
// deadline, waits for the last of them and writes `result-<r>-<executorId>.json`. After the last
// round it waits for `start-<rounds + 1>`, then ends its task with TASK_FINISHED. Only types may be imported from here (it runs on load).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ExecutorDriver } from '../src/executor/index.js';

export interface UpdatesExecutorConfig {
  /** Updates sent (and awaited) before `ready-<executorId>`: JIT, connections and files warm. */
  warmup: number;
  /**
   * Each executor adds a random count in [0, warmupSpread) to its warm-up, so that the executors'
   * and the agent's log compactions (every 1 MiB of a log) are spread over the rounds as on a real
   * node, instead of all falling into the same round.
   */
  warmupSpread: number;
  /** Largest number of unacknowledged updates (DESIGN §10: 32). */
  window: number;
  /** Measured rounds, each started by its own `start-<r>` file. */
  rounds: number;
}

export interface UpdatesExecutorStart {
  /** Epoch ms after which no new update is sent. */
  deadline: number;
}

export interface UpdatesExecutorResult {
  executorId: string;
  /** Updates acknowledged in the measured phase. */
  acknowledged: number;
  /** Epoch ms of the first update() call and of the last acknowledgement. */
  firstSend: number;
  lastAck: number;
  /** ms from update() to its acknowledgement, one per update, in send order. */
  latencies: number[];
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes of one host. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

const [control] = process.argv.slice(2);
if (!control) {
  process.stderr.write('usage: updates-executor.js <control dir>\n');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(path.join(control, 'config.json'), 'utf8')) as UpdatesExecutorConfig;
const executorId = process.env.LIFELINE_EXECUTOR_ID ?? `pid-${process.pid}`;

/** What SIGUSR2 wakes: the check of the round being waited for. */
let onStartSignal: () => void = () => {};
process.on('SIGUSR2', () => onStartSignal());

/** Resolves with the start file's contents once it exists (the bench writes it atomically). */
function waitForStart(round: number): Promise<UpdatesExecutorStart> {
  const file = path.join(control!, `start-${round}`);
  return new Promise((resolve) => {
    const check = () => {
      // existsSync first: a thrown ENOENT per poll, in a hundred idle executors, was measurable load.
      if (!fs.existsSync(file)) return false;
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        return false;
      }
      clearInterval(timer);
      watcher?.close();
      onStartSignal = () => {};
      resolve(JSON.parse(text) as UpdatesExecutorStart);
      return true;
    };
    // The bench's SIGUSR2 and the watch make the start prompt; the poll is the backstop. While
    // one agent's round runs, the other agent's executors wait here: a hundred of them polling
    // every 20 ms, then every 100 ms (1,000 timer wake-ups a second, ~280 µs of CPU each on this
    // VM, for the executors past inotify's 128 instances), took CPU from the round being measured.
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(control!, () => void check());
    } catch {
      watcher = undefined;
    }
    onStartSignal = () => void check();
    const timer = setInterval(check, 2_000);
    check();
  });
}

/**
 * Sends updates of `taskId`, at most `window` unacknowledged, until `count` have been sent or
 * `deadline` has passed; resolves once every one sent is acknowledged.
 */
function pipeline(driver: ExecutorDriver, taskId: string, window: number, count: number, deadline: number, latencies?: number[]): Promise<{ firstSend: number; lastAck: number; acknowledged: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let inFlight = 0;
    let acknowledged = 0;
    let firstSend = 0;
    let lastAck = 0;
    const pump = () => {
      while (inFlight < window && sent < count && now() < deadline) {
        const index = sent++;
        inFlight++;
        const started = now();
        if (index === 0) firstSend = started;
        driver.update({ taskId, state: 'TASK_RUNNING', message: `update ${index}` }).then(() => {
          lastAck = now();
          if (latencies) latencies[index] = lastAck - started;
          inFlight--;
          acknowledged++;
          pump();
        }, reject);
      }
      if (inFlight === 0) resolve({ firstSend, lastAck, acknowledged });
    };
    pump();
  });
}

async function run(driver: ExecutorDriver, taskId: string): Promise<void> {
  await driver.update({ taskId, state: 'TASK_RUNNING' });
  await pipeline(driver, taskId, config.window, config.warmup + Math.floor(Math.random() * config.warmupSpread), Number.POSITIVE_INFINITY);
  fs.writeFileSync(path.join(control!, `ready-${executorId}`), '');
  for (let round = 1; round <= config.rounds; round++) {
    const { deadline } = await waitForStart(round);
    const latencies: number[] = [];
    const measured = await pipeline(driver, taskId, config.window, Number.POSITIVE_INFINITY, deadline, latencies);
    const result: UpdatesExecutorResult = { executorId, ...measured, latencies: latencies.map((ms) => Math.round(ms * 1000) / 1000) };
    const file = path.join(control!, `result-${round}-${executorId}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(result));
    fs.renameSync(`${file}.tmp`, file);
  }
  // The task ends on the bench's word (`start-<rounds + 1>`), not right after the last result: an
  // executor gone before the round's closing reading had its CPU left out of that round, and its
  // task's end landed in the drain the agent's CPU is measured through.
  await waitForStart(config.rounds + 1);
  await driver.update({ taskId, state: 'TASK_FINISHED' });
  await driver.stop();
}

const driver: ExecutorDriver = new ExecutorDriver({
  onLaunch(task) {
    run(driver, task.taskId).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`updates-executor ${executorId}: ${(error as Error)?.stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  },
  onShutdown() {
    void driver.stop().then(() => process.exit(0));
  },
  onError(error) {
    process.stderr.write(`updates-executor ${executorId}: ${error.message}\n`);
  },
});
await driver.start();
