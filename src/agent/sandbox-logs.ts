// Rotation of a task's stdout and stderr (--sandbox_log_max_size, --sandbox_log_max_files, as the
// kubelet's container log rotation). The executor and its tasks write those files directly, opened
// O_APPEND by the launcher: no pipe, so output never blocks and never kills a task, also while the
// agent and the shim are down. Rotation is copy-then-truncate from the agent, so no writer has to
// reopen anything: the kept part is copied to `stdout.1` (older ones shift to `.2` … `.N-1`), then the
// live file is truncated and its O_APPEND writers go on at offset 0. A rotated file holds the last
// max_size bytes, plus what arrived during the copy (under 2 × max_size in all): output that piled up
// while the agent was away is cut from its oldest end. What is written between the copy's last read
// and the truncate is lost (logrotate's copytruncate has the same window): a line, at most.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** The sandbox files that are rotated. */
export const SANDBOX_LOGS = ['stdout', 'stderr'] as const;

/** Passes of copying what was appended during the copy, before the truncate. */
const CATCH_UP_PASSES = 4;
const COPY_CHUNK_BYTES = 1024 * 1024;

export interface RotationLimits {
  /** A live file larger than this is rotated. */
  maxBytes: number;
  /** Files kept per stream, the live one included (kubelet's containerLogMaxFiles): ≥ 1. */
  maxFiles: number;
}

export interface RotationResult {
  file: string;
  /** Bytes kept in `<file>.1` (0 with maxFiles = 1: nothing is kept). */
  keptBytes: number;
  /** Bytes of the live file dropped: the oldest part of an over-long file. */
  droppedBytes: number;
}

/**
 * Rotates `file` if it is larger than `limits.maxBytes`. Never follows a link and never opens what
 * is not a regular file (a task may have replaced it): such a file is left alone (undefined).
 * Missing file: undefined.
 */
export async function rotateIfLarge(file: string, limits: RotationLimits): Promise<RotationResult | undefined> {
  // Most checks find a small file: one lstat on the event loop (metadata the kernel has cached)
  // answers them, instead of an open, an fstat and a close through the thread pool for each of
  // every live run's files every interval. A file that is large is opened and checked again.
  const seen = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!seen || !seen.isFile() || seen.size <= limits.maxBytes) return undefined;
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENXIO' || code === 'EISDIR') return undefined;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size <= limits.maxBytes) return undefined;
    await shiftRotated(file, limits.maxFiles);
    let keptBytes = 0;
    let droppedBytes = 0;
    if (limits.maxFiles > 1) ({ keptBytes, droppedBytes } = await copyTail(handle, `${file}.1`, limits.maxBytes));
    else droppedBytes = stat.size;
    await handle.truncate(0);
    return { file, keptBytes, droppedBytes };
  } finally {
    await handle.close();
  }
}

/** `<file>.(N-2)` → `<file>.(N-1)`, …, `<file>.1` → `<file>.2`; the oldest beyond N-1 is removed. */
async function shiftRotated(file: string, maxFiles: number): Promise<void> {
  await fsp.rm(`${file}.${Math.max(1, maxFiles - 1)}`, { force: true });
  for (let i = maxFiles - 2; i >= 1; i--) {
    await fsp.rename(`${file}.${i}`, `${file}.${i + 1}`).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

/**
 * Copies the last `maxBytes` of the live file (and what writers append meanwhile, for a few passes)
 * to `target` through a temp file renamed into place, so a crash leaves no half-written `.1`.
 */
async function copyTail(source: fsp.FileHandle, target: string, maxBytes: number): Promise<{ keptBytes: number; droppedBytes: number }> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.tmp`);
  await fsp.rm(temp, { force: true });
  const out = await fsp.open(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  let keptBytes = 0;
  let droppedBytes = 0;
  try {
    const buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    let size = (await source.stat()).size;
    let from = Math.max(0, size - maxBytes);
    droppedBytes = from;
    for (let pass = 0; pass < CATCH_UP_PASSES && from < size; pass++) {
      // What arrives during the copy is caught up with, but a rotated file stays under 2 × max_size.
      const end = Math.min(size, from + (2 * maxBytes - keptBytes));
      while (from < end) {
        const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, end - from), from);
        if (bytesRead === 0) break;
        await out.write(buffer, 0, bytesRead);
        from += bytesRead;
        keptBytes += bytesRead;
      }
      if (from < size) break; // the writer outran the copy: the rest goes with the truncate
      size = (await source.stat()).size;
    }
  } finally {
    await out.close();
  }
  await fsp.rename(temp, target);
  return { keptBytes, droppedBytes };
}

export interface SandboxLogRotatorOptions extends RotationLimits {
  /** The sandboxes whose output may still grow (the live runs'). */
  sandboxes: () => Iterable<string>;
  /** How often the live files' sizes are checked. */
  intervalMs: number;
  onRotated?: (result: RotationResult) => void;
  onError?: (file: string, error: Error) => void;
}

/** Checks every live sandbox's output on an interval and rotates what has grown past the limit. */
export class SandboxLogRotator {
  readonly #options: SandboxLogRotatorOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  /** Files whose last rotation failed: reported once until one succeeds. */
  readonly #failing = new Set<string>();

  constructor(options: SandboxLogRotatorOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One pass over every live sandbox; concurrent calls share the pass in progress. */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #sweep(): Promise<void> {
    for (const sandbox of [...this.#options.sandboxes()]) {
      for (const name of SANDBOX_LOGS) {
        const file = path.join(sandbox, name);
        try {
          const result = await rotateIfLarge(file, this.#options);
          this.#failing.delete(file);
          if (result) this.#options.onRotated?.(result);
        } catch (error) {
          if (!this.#failing.has(file)) this.#options.onError?.(file, error as Error);
          this.#failing.add(file);
        }
      }
    }
  }

  /** Stops the interval and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }
}
