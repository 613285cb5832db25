#!/usr/bin/env node
// A custom executor written with ExecutorDriver: for each task it reports TASK_RUNNING, five
// progress updates (TASK_RUNNING with a message, each acknowledged by the agent before the next),
// then TASK_FINISHED, and stops. The task's `data` (`lifeline run --command=…` with --executor),
// if any, is included in the progress messages. With `--checkpoint`, the executor and its task
// carry on while the agent restarts: the driver reconnects by itself and resends what the old agent
// had not acknowledged.
//
// Run it from the project root, after `npm install` (which builds dist/), with a master and an agent:
//
//   lifeline master &
//   lifeline agent --master=127.0.0.1:5050 --work_dir=/tmp/lifeline &
//   lifeline run --master=127.0.0.1:5050 --executor="node $PWD/examples/custom-executor.mjs" --command="hello"
//
// The agent starts the executor with `/bin/sh -c` in the task's sandbox, so give the script an
// absolute path ($PWD above is expanded by your shell). `lifeline/executor` resolves to this
// package's own export wherever the script is run from.
import { ExecutorDriver } from 'lifeline/executor';

const STEPS = 5;
const STEP_MS = 100;

/** Tasks asked to stop (KILL) before they finished. */
const stopping = new Set();
/** Set by onShutdown: every running task ends at its next step. */
let shutdown;
let running = 0;

const driver = new ExecutorDriver({
  onLaunch(task) {
    running++;
    runTask(task).then(finishOne, (error) => {
      console.error(`custom executor: task ${task.taskId} failed: ${error.message}`);
      process.exitCode = 1;
      finishOne();
    });
  },
  onKill(taskId) {
    stopping.add(taskId);
  },
  onShutdown(gracePeriodMs, reason) {
    // Every running task sees this at its next step and reports how it ended; the last one stops
    // the driver. If the agent is gone those updates cannot be acknowledged, but update() has
    // recorded them in the executor's outbox, where a restarted agent finds them: stop once they
    // are durable (driver.flush()). After the recovery timeout (the agent never came back) the
    // tasks failed rather than being killed.
    shutdown = { reason };
    if (running === 0) void driver.stop();
    else setTimeout(() => void driver.flush().then(() => driver.stop()), 2_000).unref();
  },
  onError(error) {
    console.error(`custom executor: ${error.code ?? 'error'}: ${error.message}`);
  },
});

async function runTask(task) {
  const { taskId } = task;
  const text = task.data ? new TextDecoder().decode(task.data) : undefined;
  await driver.update({ taskId, state: 'TASK_RUNNING' });
  for (let step = 1; step <= STEPS; step++) {
    await new Promise((resolve) => setTimeout(resolve, STEP_MS));
    if (shutdown?.reason === 'REASON_EXECUTOR_RECOVERY_TIMEOUT') {
      await driver.update({ taskId, state: 'TASK_FAILED', reason: shutdown.reason, message: `the agent did not come back (step ${step}/${STEPS})` });
      return;
    }
    if (shutdown || stopping.has(taskId)) {
      await driver.update({ taskId, state: 'TASK_KILLED', message: `killed at step ${step}/${STEPS}` });
      return;
    }
    const message = text === undefined ? `progress ${step}/${STEPS}` : `progress ${step}/${STEPS}: ${text}`;
    await driver.update({ taskId, state: 'TASK_RUNNING', message });
  }
  await driver.update({ taskId, state: 'TASK_FINISHED', message: `done: ${STEPS} steps` });
}

// One task per executor here (as `lifeline run --executor` launches it): stop once it is done.
// stop() leaves nothing behind, so the process then exits by itself.
function finishOne() {
  running--;
  if (running === 0) void driver.stop();
}

try {
  await driver.start();
} catch (error) {
  console.error(`custom executor: cannot subscribe to the agent: ${error.message}`);
  process.exitCode = 1;
}
