// The agent's disk housekeeping once it runs: task output rotation (sandbox-logs.ts) and early
// removal of completed sandboxes when the disk is short (disk-headroom.ts). Started after recovery,
// so that recovered runs' output is rotated too, and stopped before the agent closes.
import { formatBytes } from '../protocol/bytes.js';
import type { Logger } from '../log.js';
import { DiskWatch } from './disk-headroom.js';
import type { NodeModel } from './node-model.js';
import { SandboxLogRotator } from './sandbox-logs.js';

export class Housekeeping {
  readonly #rotator: SandboxLogRotator;
  readonly #disk: DiskWatch;

  constructor(model: NodeModel, logger: Logger) {
    const config = model.config;
    this.#rotator = new SandboxLogRotator({
      maxBytes: config.sandboxLogMaxBytes,
      maxFiles: config.sandboxLogMaxFiles,
      intervalMs: config.sandboxLogCheckIntervalMs,
      sandboxes: function* () {
        for (const run of model.runs(true)) if (!run.is('TERMINATED')) yield run.sandbox;
      },
      onRotated: ({ file, keptBytes, droppedBytes }) =>
        logger.debug({ file, keptBytes, droppedBytes, maxSize: formatBytes(config.sandboxLogMaxBytes) }, 'task output rotated'),
      onError: (file, error) => logger.warn({ file, err: error.message }, 'could not rotate task output (retried on the next check)'),
    });
    this.#disk = new DiskWatch({
      workDir: config.workDir,
      gcDelayMs: config.gcDelayMs,
      headroom: config.gcDiskHeadroom,
      intervalMs: config.diskWatchIntervalMs,
      prune: (maxAgeMs) => model.pruneCompletedRuns(maxAgeMs),
      onPruned: ({ usage, maxAgeMs, removed }) =>
        logger.info({ usage: Number(usage.toFixed(3)), maxAgeMs: Math.round(maxAgeMs), removed }, 'disk short: completed sandboxes removed before their gc_delay'),
      onError: (error) => logger.warn({ err: error.message }, 'could not read the work dir\'s disk usage'),
    });
  }

  start(): void {
    this.#rotator.start();
    this.#disk.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.#rotator.stop(), this.#disk.stop()]);
  }
}
