// The agent's /files/browse and /files/read (Mesos's names and JSON shapes, issue 15): how
// operators and `lifeline logs` read a task's output without a shell on the node. Confined to the
// sandboxes directory: no `..`, no symlink leading out, no device, FIFO or socket, reads capped.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** The largest read one /files/read answers (a larger `length` is cut to it). */
export const MAX_READ_BYTES = 1024 * 1024;
/** The most entries one /files/browse lists. */
export const MAX_BROWSE_ENTRIES = 10_000;

export interface FilesAnswer {
  status: number;
  body: unknown;
}

/** One entry of /files/browse, as Mesos writes it (mtime in seconds; mode as `ls -l` shows it). */
export interface FileEntry {
  path: string;
  nlink: number;
  size: number;
  mtime: number;
  mode: string;
  uid: string;
  gid: string;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class SandboxFiles {
  readonly #root: string;
  readonly #maxRead: number;

  /** `root`: the agent's `<work_dir>/sandboxes`; every path served must be inside it. */
  constructor(root: string, { maxReadBytes = MAX_READ_BYTES }: { maxReadBytes?: number } = {}) {
    this.#root = path.resolve(root);
    this.#maxRead = maxReadBytes;
  }

  /** GET /files/browse?path=DIR: the directory's entries (or the one entry of a file). */
  async browse(query: URLSearchParams): Promise<FilesAnswer> {
    return this.#answer(async () => {
      const requested = checkedPath(query.get('path'));
      const real = await this.#confine(requested);
      const stat = await fsp.stat(real);
      if (!stat.isDirectory()) return [entryOf(requested, await fsp.lstat(real))];
      const names = (await fsp.readdir(real)).sort().slice(0, MAX_BROWSE_ENTRIES);
      const entries: FileEntry[] = [];
      for (const name of names) {
        const stats = await fsp.lstat(path.join(real, name)).catch(() => undefined);
        if (stats) entries.push(entryOf(path.join(requested, name), stats));
      }
      return entries;
    });
  }

  /**
   * GET /files/read?path=FILE&offset=N[&length=N]: `{data, offset}` (Mesos), plus `bytes`, how
   * many bytes of the file `data` holds (the next offset is offset + bytes). offset=-1 answers the
   * size of the file as `offset` and no data. A read never ends inside a UTF-8 character.
   */
  async read(query: URLSearchParams): Promise<FilesAnswer> {
    return this.#answer(async () => {
      const requested = checkedPath(query.get('path'));
      const offset = integerParam(query, 'offset', 0, -1);
      const length = integerParam(query, 'length', this.#maxRead, 0);
      const real = await this.#confine(requested);
      // O_NONBLOCK: opening a FIFO does not wait for a writer; O_NOFOLLOW: no link swapped in since.
      const handle = await fsp.open(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ELOOP') throw new Refusal(403, `${requested} is a symbolic link`);
        if (error.code === 'EISDIR') throw new Refusal(400, `${requested} is a directory (use /files/browse)`);
        throw error;
      });
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw new Refusal(400, `${requested} is not a regular file`);
        if (offset === -1) return { data: '', offset: stat.size, bytes: 0 };
        const want = Math.min(length, this.#maxRead, Math.max(0, stat.size - offset));
        const buffer = Buffer.alloc(want);
        const { bytesRead } = want > 0 ? await handle.read(buffer, 0, want, offset) : { bytesRead: 0 };
        const end = wholeCharacters(buffer, bytesRead);
        return { data: buffer.toString('utf8', 0, end), offset, bytes: end };
      } finally {
        await handle.close();
      }
    });
  }

  /** The real path of `requested`, which must be inside the sandboxes directory (links resolved). */
  async #confine(requested: string): Promise<string> {
    const root = await fsp.realpath(this.#root).catch(() => {
      throw new Refusal(404, `${requested} does not exist (this agent has no sandboxes yet)`);
    });
    const real = await fsp.realpath(requested).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') throw new Refusal(404, `${requested} does not exist`);
      throw new Refusal(403, `${requested} cannot be read (${error.code ?? error.message})`);
    });
    if (real !== root && !real.startsWith(root + path.sep)) throw new Refusal(403, `${requested} is outside this agent's sandboxes (${this.#root})`);
    return real;
  }

  async #answer(work: () => Promise<unknown>): Promise<FilesAnswer> {
    try {
      return { status: 200, body: await work() };
    } catch (error) {
      if (error instanceof Refusal) return { status: error.status, body: { error: error.message } };
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { status: 404, body: { error: 'no such file' } };
      if (code === 'EACCES' || code === 'EPERM') return { status: 403, body: { error: `permission denied (${code})` } };
      throw error;
    }
  }
}

/** An absolute, normalised path with no `..` segment and no NUL. */
function checkedPath(value: string | null): string {
  if (value === null || value === '') throw new Refusal(400, 'the query parameter path is required');
  if (value.includes('\0')) throw new Refusal(400, 'path contains a NUL byte');
  if (!path.isAbsolute(value)) throw new Refusal(400, `path must be absolute, got ${JSON.stringify(value)}`);
  if (value.split('/').includes('..')) throw new Refusal(400, `path must not contain "..", got ${JSON.stringify(value)}`);
  const normal = path.normalize(value);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

function integerParam(query: URLSearchParams, name: string, fallback: number, min: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new Refusal(400, `query parameter ${name} must be an integer of at least ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * How many of the first `length` bytes end on a character boundary: an incomplete UTF-8 sequence at
 * the end is left for the next read (unless it is all there is, so that a read always moves on).
 */
export function wholeCharacters(buffer: Buffer, length: number): number {
  for (let back = 1; back <= Math.min(3, length); back++) {
    const byte = buffer[length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    if (need > back && length - back > 0) return length - back;
    return length;
  }
  return length;
}

function entryOf(entryPath: string, stats: fs.Stats): FileEntry {
  return {
    path: entryPath,
    nlink: stats.nlink,
    size: stats.size,
    mtime: Math.floor(stats.mtimeMs / 1000),
    mode: modeString(stats),
    uid: String(stats.uid),
    gid: String(stats.gid),
  };
}

/** `drwxr-xr-x` and the like. */
export function modeString(stats: fs.Stats): string {
  const type = stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : stats.isFIFO() ? 'p' : stats.isSocket() ? 's' : stats.isCharacterDevice() ? 'c' : stats.isBlockDevice() ? 'b' : '-';
  const bits = 'rwxrwxrwx';
  let text = type;
  for (let i = 0; i < 9; i++) text += stats.mode & (1 << (8 - i)) ? bits[i] : '-';
  return text;
}
