// The embedded registry back end: one JSON file in the master's --work_dir, replaced atomically
// and durably (temp file, fsync, rename, fsync of the directory: src/checkpoint's atomic write) on
// every batch of changes. Loading it starts a new term: the epoch is bumped and written first.
import path from 'node:path';
import { makeDirDurable, readJson, removeStrayTempFiles, writeFileAtomic } from '../checkpoint/atomic-write.js';
import { ensureWritableDir } from '../checkpoint/writable-dir.js';
import { applyOps, emptySnapshot, RegistryError, RegistrySnapshot, type RegistryOp, type RegistryStore } from './registry-store.js';

export const REGISTRY_FILE = 'registry.json';

export class FileRegistryStore implements RegistryStore {
  readonly kind = 'file';
  readonly durable = true;
  readonly file: string;
  readonly #dir: string;
  #snapshot: RegistrySnapshot | undefined;

  constructor(workDir: string) {
    this.#dir = workDir;
    this.file = path.join(workDir, REGISTRY_FILE);
  }

  async load(): Promise<RegistrySnapshot> {
    // One clear refusal naming the flag (a recursive mkdir would loop on /proc/foo, or say ENOTDIR alone).
    ensureWritableDir(this.#dir, 'work_dir');
    await makeDirDurable(this.#dir);
    await removeStrayTempFiles(this.#dir);
    let snapshot: RegistrySnapshot;
    try {
      snapshot = await readJson(this.file, RegistrySnapshot);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // corrupt: refuse to start, naming the file
      snapshot = emptySnapshot(0);
    }
    snapshot.epoch += 1;
    await this.#write(snapshot);
    this.#snapshot = snapshot;
    return structuredClone(snapshot);
  }

  async apply(ops: readonly RegistryOp[]): Promise<void> {
    if (!this.#snapshot) throw new RegistryError(`the registry ${this.file} is not loaded`);
    const next = structuredClone(this.#snapshot);
    applyOps(next, ops);
    await this.#write(next);
    this.#snapshot = next;
  }

  async close(): Promise<void> {}

  async #write(snapshot: RegistrySnapshot): Promise<void> {
    try {
      await writeFileAtomic(this.file, `${JSON.stringify(snapshot)}\n`);
    } catch (error) {
      throw new RegistryError(`cannot write the registry ${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Reads a registry file without starting a term (tests, `lifeline inspect`-style tools). */
export async function readRegistryFile(workDir: string): Promise<RegistrySnapshot> {
  return readJson(path.join(workDir, REGISTRY_FILE), RegistrySnapshot);
}

