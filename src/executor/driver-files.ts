// The executor's files in its sandbox (DESIGN §6): `.lifeline/` made durable, shim.json (who it
// is, its tasks' process groups) and the outbox; and the exit hook that SIGKILLs the recorded task
// groups on every way out that runs JavaScript. Imported statically (no lazy loading after start).
import { onExit } from 'signal-exit';
import { makeDirDurable } from '../checkpoint/atomic-write.js';
import { outboxPath, shimInfoPath, shimStateDir } from '../checkpoint/layout.js';
import { killGroup } from '../process/kill-group.js';
import { processIdentity } from '../process/proc-stat.js';
import { EXECUTOR_PROTOCOL_VERSION } from '../protocol/constants.js';
import { SANDBOX_FORMAT } from '../checkpoint/format.js';
import { LifelineError, show } from '../protocol/errors.js';
import type { ExecutorEnvironment } from './environment.js';
import { Outbox } from './outbox.js';
import { ShimFile } from './shim-file.js';

/** `.lifeline/` made durably, then shim.json written and the outbox opened, side by side; `ready` rejects with ERR_ENVIRONMENT. */
export function prepareFiles(env: ExecutorEnvironment, onOutboxFailure: (error: Error) => void): { shimFile: ShimFile; outbox: Outbox; ready: Promise<void> } {
  const sandbox = env.directory;
  const identity = processIdentity(process.pid);
  if (!identity) throw new LifelineError('ERR_ENVIRONMENT', `cannot read /proc/${process.pid}/stat: the executor needs Linux procfs`);
  const dirReady = makeDirDurable(shimStateDir(sandbox));
  const shimFile = new ShimFile(shimInfoPath(sandbox), {
    pid: identity.pid,
    startTime: identity.startTime,
    protocol: EXECUTOR_PROTOCOL_VERSION,
    format: SANDBOX_FORMAT,
    executorId: env.executorId,
    containerId: env.containerId,
  });
  const outbox = new Outbox(outboxPath(sandbox), { after: dirReady, onFailure: onOutboxFailure });
  const ready = Promise.all([dirReady.then(() => shimFile.write()), outbox.opened]).then(
    () => undefined,
    (cause: unknown) => {
      throw new LifelineError(
        'ERR_ENVIRONMENT',
        `cannot write the executor's state under ${shimStateDir(sandbox)} (LIFELINE_DIRECTORY): ${(cause as Error)?.message ?? show(cause)}`,
        { cause },
      );
    },
  );
  // Awaited by the first SUBSCRIBE; a failure is reported there.
  ready.catch(() => {});
  return { shimFile, outbox, ready };
}

/** On exit, SIGKILL each recorded group whose leader is still the recorded process (synchronous). */
export function installExitHook(tasks: () => readonly { pgid: number; startTime: number }[]): void {
  onExit(() => {
    for (const task of tasks()) {
      try {
        killGroup({ pgid: task.pgid, leaderStartTime: task.startTime }, 'SIGKILL');
      } catch {
        // Exiting anyway: nothing more to do.
      }
    }
  });
}
