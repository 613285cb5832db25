// What the agent tells operators about its checkpoint disk (issue 13 point 3): one warning when
// an episode of failing task.updates files starts (ENOSPC, EIO), one line when it ends, every error
// counted in lifeline_agent_disk_errors_total, and /health saying "degraded" meanwhile. Kept apart
// from metrics.ts and http.ts so that it is one small thing to merge with their changes.
import type { DiskHealth } from '../checkpoint/disk-health.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from '../prometheus.js';

export interface HealthBody {
  status: 'ok' | 'degraded';
  /** Present when degraded: what is wrong. */
  disk?: { failingFiles: number; errors: number; examples: string[] };
}

/** Wires a DiskHealth to the agent's log and registry; returns the /health body's disk part. */
export function watchDisk(health: DiskHealth, registry: Registry, logger: Logger): () => HealthBody {
  const errors = new Counter({ name: 'lifeline_agent_disk_errors_total', help: 'Appends or fsyncs of task.updates files that failed (ENOSPC, EIO, …)', labelNames: ['code'], registers: [registry] });
  new Gauge({
    name: 'lifeline_agent_disk_failing_files',
    help: 'task.updates files failing now (their records are refused and retried on a backoff)',
    registers: [registry],
    collect() {
      this.set(health.failingFiles.length);
    },
  });
  health.listen({
    onError: (_file, error) => errors.inc({ code: (error as NodeJS.ErrnoException | undefined)?.code ?? 'unknown' }),
    onEpisodeStart: (file, error) =>
      logger.warn(
        { file, err: (error as Error | undefined)?.message, code: (error as NodeJS.ErrnoException | undefined)?.code },
        'cannot write the checkpoint: status updates are not acknowledged and are retried on a backoff until the disk works again',
      ),
    onEpisodeEnd: (files, count) => logger.info({ files, errors: count }, 'the checkpoint disk works again: status updates flow'),
  });
  return () => {
    if (!health.degraded) return { status: 'ok' };
    const failing = health.failingFiles;
    return { status: 'degraded', disk: { failingFiles: failing.length, errors: health.errors, examples: failing.slice(0, 3) } };
  };
}
